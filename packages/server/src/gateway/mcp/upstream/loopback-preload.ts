/**
 * Preloaded (`node --import`) into a child that serves MCP over HTTP, before its own code runs: every
 * `net.Server#listen` (and so `http.Server#listen`, Express's `app.listen`) binds 127.0.0.1 unless it already names a
 * loopback address. Safer than trusting each server's `HOST` option, which most do not have.
 *
 * With `WRIT_EXIT_ON_STDIN_END=1` it also ends the child when its stdin closes. The supervisor holds the other end,
 * so if Writ dies without a clean shutdown (SIGKILL, OOM), the HTTP server does not live on as an orphan holding its
 * port. Opt-in, because a child started with stdin on /dev/null would otherwise exit at once.
 */
import net from 'node:net';
import { loopbackListenArgs } from './loopback-listen-args.js';

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function listenOnLoopback(this: net.Server, ...args: unknown[]): net.Server {
  return (listen as (...a: unknown[]) => net.Server).apply(this, loopbackListenArgs(args));
} as typeof listen;

if (process.env.WRIT_EXIT_ON_STDIN_END === '1') {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}

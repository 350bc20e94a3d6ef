/**
 * Rewrites the arguments of a `net.Server#listen` call so that it binds 127.0.0.1: a server that Writ runs for an
 * upstream must be reachable by Writ only, yet many MCP servers call `listen(PORT)`, which binds every interface.
 * Used by `loopback-preload.ts` inside the child; kept apart so it can be tested without patching anything.
 *
 * Forms (Node's `net` docs): `listen(port[, host][, backlog][, cb])`, `listen(options[, cb])`, `listen([cb])`,
 * `listen(path)` and `listen(handle)`. Unix sockets and inherited handles are not TCP binds we pick, so they pass.
 */

import { isLoopbackAddress } from '@writ/verify/internal';

export const LOOPBACK_HOST = '127.0.0.1';

// Node treats a string that converts to a non-negative number as a port, anything else as a pipe path (`toNumber`).
const isPort = (value: unknown): boolean => typeof value === 'number' || (typeof value === 'string' && Number(value) >= 0);

/**
 * @example
 * loopbackListenArgs([3001, cb]);               // [3001, '127.0.0.1', cb]
 * loopbackListenArgs([3001, '0.0.0.0']);        // [3001, '127.0.0.1']
 * loopbackListenArgs([{ port: 3001 }]);         // [{ port: 3001, host: '127.0.0.1' }]
 */
export function loopbackListenArgs(args: readonly unknown[]): unknown[] {
  const [first, ...rest] = args;
  if (typeof first === 'object' && first !== null) {
    const options = first as Record<string, unknown>;
    if ('path' in options || 'fd' in options || 'handle' in options || '_handle' in options) return [...args];
    return [{ ...options, host: isLoopbackAddress(options.host) ? options.host : LOOPBACK_HOST }, ...rest];
  }
  // listen(), listen(cb), listen(undefined, …): Node picks a port; we still pick the interface.
  if (first === undefined || first === null) return [0, LOOPBACK_HOST, ...rest];
  if (typeof first === 'function') return [0, LOOPBACK_HOST, ...args];
  if (!isPort(first)) return [...args];
  const [second, ...others] = rest;
  if (typeof second === 'string') return [first, isLoopbackAddress(second) ? second : LOOPBACK_HOST, ...others];
  return [first, LOOPBACK_HOST, ...rest];
}

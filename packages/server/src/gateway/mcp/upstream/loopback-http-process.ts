/**
 * Runs an MCP server that speaks Streamable HTTP (MCP 2025-06-18, "Transports › Streamable HTTP") as a supervised
 * child listening on 127.0.0.1 only, for the HTTP upstream to connect to. The spec tells local servers to bind to
 * localhost; many bind every interface (`app.listen(PORT)`), so the child runs under `node --import` with
 * `loopback-preload.js`, which forces every listen onto 127.0.0.1 whatever the server asks for.
 *
 * The port is picked once (a free loopback port, given as `PORT` or `portEnv`) and kept across restarts, so the URL
 * stays the same; readiness is the port accepting a connection, polled against a deadline.
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import type { Logger } from '../../../observability/index.js';
import { LOOPBACK_HOST } from './loopback-listen-args.js';
import { SupervisedProcess, type SupervisedProcessOptions, type SupervisedStart } from './supervised-process.js';
import { UpstreamError } from './upstream-connection.js';

/** Compiled beside this module (`dist/src/gateway/mcp/upstream/`), so it resolves from here at run time. */
export const LOOPBACK_PRELOAD_URL = new URL('./loopback-preload.js', import.meta.url);

export interface LoopbackHttpProcessOptions extends Omit<SupervisedProcessOptions, 'command' | 'args' | 'stdout'> {
  /** The script and its arguments; run as `node --import <preload> ...args` with this Node binary. */
  args: readonly string[];
  /** Path of the MCP endpoint on the server. */
  path?: string;
  /** The variable the server reads its port from. */
  portEnv?: string;
  /** How long a (re)started server may take to accept connections. */
  readyTimeoutMs?: number;
}

export interface LoopbackReady {
  url: string;
  port: number;
  pid: number;
  run: number;
}

export interface LoopbackHttpProcessEvents {
  /** The server accepts connections: after the first start and after every restart. */
  ready: [LoopbackReady];
  close: [reason: string];
}

const DEFAULT_READY_TIMEOUT_MS = 20_000;
const POLL_INTERVAL_MS = 25;
const CONNECT_TIMEOUT_MS = 1_000;

/**
 * @example
 * const everything = await LoopbackHttpProcess.start({
 *   resourceId: 'everything', args: [serverEverythingJs, 'streamableHttp'], logger,
 * });
 * everything.url; // 'http://127.0.0.1:40123/mcp'
 * everything.on('ready', ({ url }) => gateway.upstreamUrlChanged('everything', url));
 * await everything.close();
 */
export class LoopbackHttpProcess extends EventEmitter<LoopbackHttpProcessEvents> {
  /** The supervisor, for its events (`started`, `exited`, `restarting`) and the current pid. */
  readonly process: SupervisedProcess;
  readonly port: number;
  readonly url: string;
  readonly #log: Logger;
  readonly #readyTimeoutMs: number;
  #readyPid: number | undefined;
  #closed = false;

  private constructor(opts: LoopbackHttpProcessOptions, port: number) {
    super();
    this.port = port;
    this.url = `http://${LOOPBACK_HOST}:${port}${opts.path ?? '/mcp'}`;
    this.#log = opts.logger.child({ resource_id: opts.resourceId, transport: 'streamable-http' });
    this.#readyTimeoutMs = opts.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
    this.process = new SupervisedProcess({
      ...opts,
      command: process.execPath,
      args: ['--import', LOOPBACK_PRELOAD_URL.href, ...opts.args],
      env: { ...opts.env, [opts.portEnv ?? 'PORT']: String(port), WRIT_EXIT_ON_STDIN_END: '1' },
      // Its stdout is its log; nobody else reads it, and an unread pipe would stall the server.
      stdout: 'log',
      // Closing stdin ends it (the preload), so the first grace period needs no more than a moment.
      shutdownGraceMs: opts.shutdownGraceMs ?? 2_000,
    });
    this.process.on('started', (s) => void this.#awaitReady(s));
    this.process.on('close', (reason) => {
      this.#closed = true;
      this.emit('close', reason);
    });
  }

  /** Picks a free loopback port, starts the server and resolves once it accepts connections. */
  static async start(opts: LoopbackHttpProcessOptions): Promise<LoopbackHttpProcess> {
    const self = new LoopbackHttpProcess(opts, await freeLoopbackPort());
    let timer: NodeJS.Timeout | undefined;
    // One deadline for the whole start, across however many runs the supervisor needs.
    const ready = new Promise<void>((resolve, reject) => {
      self.once('ready', () => resolve());
      self.process.once('close', (reason) => reject(new UpstreamError('ERR_UPSTREAM_UNAVAILABLE', `upstream process closed: ${reason}`)));
      timer = setTimeout(
        () => reject(new UpstreamError('ERR_UPSTREAM_TIMEOUT', `upstream http server not ready within ${self.#readyTimeoutMs} ms`)),
        self.#readyTimeoutMs,
      );
    });
    try {
      await self.process.start();
      await ready;
    } catch (err) {
      await self.close();
      throw err;
    } finally {
      clearTimeout(timer);
    }
    return self;
  }

  /** The current run accepts connections (false while it is down or still starting). */
  get ready(): boolean {
    return this.process.pid !== undefined && this.process.pid === this.#readyPid;
  }

  /** Clean shutdown of the server (stdin closed, SIGTERM, SIGKILL). */
  close(): Promise<void> {
    this.#closed = true;
    return this.process.close();
  }

  async #awaitReady({ pid, run }: SupervisedStart): Promise<void> {
    const deadline = performance.now() + this.#readyTimeoutMs;
    const current = (): boolean => !this.#closed && this.process.pid === pid;
    while (current()) {
      if (await canConnect(this.port)) {
        if (!current()) return;
        this.#readyPid = pid;
        this.#log.info({ child_pid: pid, run, url: this.url }, 'upstream http server ready');
        this.emit('ready', { url: this.url, port: this.port, pid, run });
        return;
      }
      if (performance.now() >= deadline) {
        const message = `upstream http server did not accept connections within ${this.#readyTimeoutMs} ms`;
        this.#log.error({ child_pid: pid, run }, message);
        // A run that never becomes ready is a failed run: kill it and let the backoff decide what comes next.
        this.process.kill('SIGKILL');
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
    }
  }
}

/** A port the kernel just handed out on loopback; free again the moment we close our probe. */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, LOOPBACK_HOST, () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => (port > 0 ? resolve(port) : reject(new Error('no port from the kernel'))));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: LOOPBACK_HOST, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(CONNECT_TIMEOUT_MS, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Shared pieces of the upstream tests: a pino logger that keeps its lines in memory (so a test can wait for one),
 * waiting for an event that matches, the real servers' entry points, and "is this pid still alive".
 */
import { EventEmitter } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../../src/observability/index.js';
import type { JsonRpcMessage, SupervisorClock, UpstreamConnection } from '../../../src/gateway/mcp/upstream/index.js';

const require = createRequire(import.meta.url);
export const FILESYSTEM_SERVER = require.resolve('@modelcontextprotocol/server-filesystem/dist/index.js');
export const EVERYTHING_SERVER = require.resolve('@modelcontextprotocol/server-everything/dist/index.js');

export interface MemoryLog {
  logger: Logger;
  lines: Record<string, unknown>[];
  /** Resolves with the first line (already logged or yet to come) that matches. */
  waitFor(match: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
}

export function memoryLog(): MemoryLog {
  const lines: Record<string, unknown>[] = [];
  const added = new EventEmitter();
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const text of chunk.toString('utf8').split('\n')) {
        if (text.length === 0) continue;
        const line = JSON.parse(text) as Record<string, unknown>;
        lines.push(line);
        added.emit('line', line);
      }
      done();
    },
  });
  return {
    logger: createLogger({ level: 'debug', destination }),
    lines,
    waitFor(match) {
      const found = lines.find(match);
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve) => {
        const on = (line: Record<string, unknown>): void => {
          if (!match(line)) return;
          added.off('line', on);
          resolve(line);
        };
        added.on('line', on);
      });
    },
  };
}

/** The next `event` whose (first) argument matches; the test's own timeout bounds the wait. */
export function nextEvent<T>(emitter: EventEmitter, event: string, match: (value: T) => boolean = () => true): Promise<T> {
  return new Promise((resolve) => {
    const on = (value: T): void => {
      if (!match(value)) return;
      emitter.off(event, on);
      resolve(value);
    };
    emitter.on(event, on);
  });
}

/**
 * Signal 0 probes without signalling: ESRCH means no such process. A zombie (dead, not yet reaped — a grandchild
 * whose reaper is a container's PID 1 that never reaps) counts as gone: it runs nothing and holds no port.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  if (!HAS_PROC) return true; // macOS: signal 0 is all we have
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false; // reaped between the probe and the read
  }
}
const HAS_PROC = existsSync('/proc/self/stat');

/** Polls until the pid is gone; bounded by the test's timeout, and nothing is concluded from how long it took. */
export async function waitUntilGone(pid: number): Promise<void> {
  while (isAlive(pid)) await new Promise((resolve) => setImmediate(resolve));
}

const CONTEXT = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' };

export interface RpcPeer {
  /** Every message the upstream delivered, in order. */
  messages: JsonRpcMessage[];
  /** Sends a request: `sent` once written, `answer` when its response (or the connection's error for it) arrives. */
  begin(method: string, params?: Record<string, unknown>): { id: number; sent: Promise<void>; answer: Promise<JsonRpcMessage> };
  request(method: string, params?: Record<string, unknown>): Promise<JsonRpcMessage>;
  notify(method: string, params?: Record<string, unknown>): Promise<void>;
}

/** The relay's side of an UpstreamConnection, as a test drives it: ids, and responses matched to them. */
export function rpcPeer(upstream: UpstreamConnection): RpcPeer {
  const messages: JsonRpcMessage[] = [];
  const waiting = new Map<unknown, (m: JsonRpcMessage) => void>();
  upstream.onMessage = (m) => {
    messages.push(m);
    const answer = typeof m.method === 'string' ? undefined : waiting.get(m.id);
    if (answer !== undefined) {
      waiting.delete(m.id);
      answer(m);
    }
  };
  let next = 1;
  const begin: RpcPeer['begin'] = (method, params = {}) => {
    const id = next++;
    const answer = new Promise<JsonRpcMessage>((resolve) => waiting.set(id, resolve));
    return { id, answer, sent: upstream.send({ jsonrpc: '2.0', id, method, params }, CONTEXT) };
  };
  return {
    messages,
    begin,
    async request(method, params) {
      const { sent, answer } = begin(method, params);
      await sent;
      return answer;
    },
    notify: (method, params = {}) => upstream.send({ jsonrpc: '2.0', method, params }, CONTEXT),
  };
}

/** A clock whose restarts happen only when the test says so, and whose time moves only when the test moves it. */
export interface ManualClock extends SupervisorClock {
  delays: number[];
  advance(ms: number): void;
  /** Runs the restart the supervisor scheduled last (it schedules at most one at a time). */
  fire(): void;
}

export function manualClock(): ManualClock {
  let now = 0;
  let pending: (() => void) | undefined;
  const delays: number[] = [];
  return {
    delays,
    now: () => now,
    advance: (ms) => void (now += ms),
    schedule(run, ms) {
      delays.push(ms);
      pending = run;
      return () => {
        if (pending === run) pending = undefined;
      };
    },
    fire() {
      const run = pending;
      pending = undefined;
      if (run === undefined) throw new Error('no restart is scheduled');
      run();
    },
  };
}

/** A clock that restarts at once (recording the delay it was asked for) and never lets time pass. */
export function immediateClock(): SupervisorClock & { delays: number[] } {
  const delays: number[] = [];
  return {
    delays,
    now: () => 0,
    schedule(run, ms) {
      delays.push(ms);
      const t = setImmediate(run);
      return () => clearImmediate(t);
    },
  };
}

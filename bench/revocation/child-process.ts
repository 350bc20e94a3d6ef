/**
 * The driver's side of the bench's child processes (Writ nodes, the verifier service): fork, send the set-up, wait
 * for `ready` or `failed`, ask for a memory/CPU sample, stop. Every child speaks the same small IPC protocol
 * (`serveChild` below is the child's side).
 */
import { fork, type ChildProcess } from 'node:child_process';

export interface Sample {
  rss: number;
  heapUsed: number;
  external: number;
  /** process.cpuUsage() user + system, µs. */
  cpuUs: number;
  /** Entries in the child's revocation set, where it has one. */
  entries?: number;
}

export interface Child<R> {
  readonly process: ChildProcess;
  readonly ready: R;
  /** The CPU used so far, then memory — after a full GC (children run with --expose-gc) when `gc`. */
  sample(gc?: boolean): Promise<Sample>;
  stop(): Promise<void>;
}

/** Forks `script`, sends `{ setup }`, resolves on `{ ready }`, rejects on `{ failed }` or an early exit. */
export function startChild<R>(script: string, setup: unknown, name: string): Promise<Child<R>> {
  const child = fork(script, [], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null): void => reject(new Error(`${name} exited with ${code} before it was ready`));
    child.once('exit', onExit);
    child.once('message', (m: { ready?: R; failed?: string }) => {
      if (m.ready === undefined) {
        child.off('exit', onExit);
        child.kill();
        reject(new Error(`${name} failed to start: ${m.failed ?? 'no reason given'}`));
        return;
      }
      child.off('exit', onExit);
      resolve({
        process: child,
        ready: m.ready,
        sample: (gc = false) =>
          new Promise<Sample>((res, rej) => {
            if (!child.connected) return rej(new Error(`${name} is not running`));
            child.once('message', (s: { sample: Sample }) => res(s.sample));
            child.send({ sample: { gc } });
          }),
        stop: () =>
          new Promise<void>((res) => {
            if (child.exitCode !== null || !child.connected) return res();
            child.once('exit', () => res());
            child.send({ exit: true });
          }),
      });
    });
    child.send({ setup });
  });
}

/** The child's side: runs `start` with the set-up, answers samples, and `close`s on exit. */
export function serveChild<S, R>(start: (setup: S) => Promise<{ ready: R; entries?: () => number; close(): Promise<void> }>): void {
  process.once('message', (m: { setup: S }) => {
    start(m.setup).then(
      (svc) => {
        process.on('message', (msg: { sample?: { gc: boolean }; exit?: boolean }) => {
          if (msg.sample !== undefined) {
            // CPU first: the GC asked for must not count as work done for the requests.
            const cpu = process.cpuUsage();
            if (msg.sample.gc) (globalThis as { gc?: () => void }).gc?.();
            const mu = process.memoryUsage();
            const sample: Sample = {
              rss: mu.rss,
              heapUsed: mu.heapUsed,
              external: mu.external,
              cpuUs: cpu.user + cpu.system,
              ...(svc.entries !== undefined ? { entries: svc.entries() } : {}),
            };
            process.send?.({ sample });
          }
          if (msg.exit === true) void svc.close().finally(() => process.exit(0));
        });
        process.send?.({ ready: svc.ready });
      },
      (err: unknown) => {
        process.send?.({ failed: err instanceof Error ? err.message : String(err) }, () => process.exit(1));
      },
    );
  });
}

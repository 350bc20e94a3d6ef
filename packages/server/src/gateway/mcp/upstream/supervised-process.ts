/**
 * A child process that an upstream MCP server runs in, kept alive by a supervisor: spawned without a shell and with a
 * minimal environment (Writ's own holds `WRIT_KEK` and admin tokens, and a child is a different trust domain),
 * restarted with exponential backoff after an exit we did not ask for, given up on after too many quick failures,
 * and shut down the way the MCP stdio transport describes (close stdin, then SIGTERM, then SIGKILL).
 *
 * The child leads its own process group so that shutdown reaches whatever it started in turn (`npx`, `uvx` and shell
 * wrappers spawn the real server as a grandchild); the group is swept with SIGKILL whenever the child ends, so no
 * grandchild outlives it holding a port or a pipe.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import type { Logger } from '../../../observability/index.js';
import { LineSplitter } from './line-splitter.js';
import { processEnvironment } from '../../../config/index.js';

export interface BackoffOptions {
  /** Delay before the first restart after a quick failure. */
  initialMs: number;
  /** The delay doubles per consecutive quick failure up to this cap. */
  maxMs: number;
  /** A run that stayed up this long was healthy: its exit is not a quick failure and the series starts over. */
  resetAfterMs: number;
  /** This many consecutive quick failures and the supervisor gives up and closes. */
  maxQuickFailures: number;
}

export const DEFAULT_BACKOFF: Readonly<BackoffOptions> = Object.freeze({
  initialMs: 100,
  maxMs: 30_000,
  resetAfterMs: 10_000,
  maxQuickFailures: 8,
});

/** Time as the restart logic sees it; injectable so tests can check the backoff without waiting for it. */
export interface SupervisorClock {
  now(): number;
  /** Runs `run` after `ms`; returns a function that cancels it. */
  schedule(run: () => void, ms: number): () => void;
}

export const SYSTEM_CLOCK: SupervisorClock = Object.freeze({
  now: () => performance.now(),
  schedule: (run: () => void, ms: number) => {
    const t = setTimeout(run, ms);
    return () => clearTimeout(t);
  },
});

export interface SupervisedProcessOptions {
  /** The resource this process serves; on every log line. */
  resourceId: string;
  /** The executable, run directly (never through a shell, so arguments are never re-parsed). */
  command: string;
  args?: readonly string[];
  /** Given to the child on top of PATH and HOME; nothing else of Writ's environment is passed. */
  env?: Readonly<Record<string, string>>;
  cwd?: string;
  logger: Logger;
  /**
   * `pipe`: the caller reads each run's stdout (given with `started`), as the stdio transport does. `log`: each line
   * goes to the logger at debug level — a child whose stdout nobody reads blocks once the pipe buffer is full.
   */
  stdout?: 'pipe' | 'log';
  backoff?: Partial<BackoffOptions>;
  /** How long to wait after closing stdin, and again after SIGTERM, before the next step of shutdown. */
  shutdownGraceMs?: number;
  /** Longer stderr (and logged stdout) lines are cut to this many bytes. */
  maxLogLineBytes?: number;
  clock?: SupervisorClock;
  /** Where PATH and HOME are read from; the process environment unless a test says otherwise. */
  parentEnv?: Readonly<Record<string, string | undefined>>;
}

export interface SupervisedStart {
  pid: number;
  /** 1 for the first run, counting every restart. */
  run: number;
  stdin: Writable;
  /** Only to be read in `stdout: 'pipe'` mode; in `log` mode the supervisor reads it. */
  stdout: Readable;
}

export interface SupervisedExit {
  pid: number | undefined;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** We asked for it (`close()`); otherwise a restart or a give-up follows. */
  expected: boolean;
  /** Set when the process could not be started at all (ENOENT, EACCES). */
  error?: Error;
}

export interface SupervisedRestart {
  delayMs: number;
  /** Consecutive quick failures so far, this exit included (0 when the run had been up for `resetAfterMs`). */
  quickFailures: number;
}

export interface SupervisedProcessEvents {
  started: [SupervisedStart];
  exited: [SupervisedExit];
  restarting: [SupervisedRestart];
  /** Final: closed by us, or given up on. Emitted once. */
  close: [reason: string];
}

type State = 'idle' | 'running' | 'waiting' | 'closing' | 'closed';

interface Run {
  child: ChildProcess;
  pid: number | undefined;
  startedAt: number;
  spawnError: Error | undefined;
  ended: Promise<void>;
}

const DEFAULT_GRACE_MS = 2_000;
const DEFAULT_MAX_LOG_LINE_BYTES = 4_096;
/** After the child exited, how long its pipes may stay open (held by something outside its group) before we cut them. */
const PIPE_DRAIN_MS = 1_000;

/** The environment a child starts from: PATH (to find interpreters) and HOME (caches, config), nothing else. */
export function minimalEnv(parentEnv: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of ['PATH', 'HOME'] as const) {
    const value = parentEnv[key];
    if (value !== undefined) env[key] = value;
  }
  return env;
}

/**
 * @example
 * const proc = new SupervisedProcess({ resourceId: 'files', command: process.execPath, args: [serverJs, dir], logger });
 * proc.on('restarting', ({ delayMs }) => metrics.restarts.inc());
 * await proc.start();
 * // …
 * await proc.close(); // stdin closed, then SIGTERM, then SIGKILL; resolves once the process is gone
 */
export class SupervisedProcess extends EventEmitter<SupervisedProcessEvents> {
  readonly #opts: SupervisedProcessOptions;
  readonly #backoff: BackoffOptions;
  readonly #clock: SupervisorClock;
  readonly #env: Record<string, string>;
  readonly #log: Logger;
  #state: State = 'idle';
  #run: Run | undefined;
  #runs = 0;
  #quickFailures = 0;
  #cancelRestart: (() => void) | undefined;
  #closing: Promise<void> | undefined;

  constructor(opts: SupervisedProcessOptions) {
    super();
    if (opts.command.length === 0) throw new TypeError('command must not be empty');
    this.#opts = opts;
    this.#backoff = { ...DEFAULT_BACKOFF, ...opts.backoff };
    this.#clock = opts.clock ?? SYSTEM_CLOCK;
    this.#env = { ...minimalEnv(opts.parentEnv ?? processEnvironment()), ...opts.env };
    this.#log = opts.logger.child({ resource_id: opts.resourceId });
  }

  /** The running child's pid; undefined while it is down. */
  get pid(): number | undefined {
    return this.#state === 'running' ? this.#run?.pid : undefined;
  }

  get restarts(): number {
    return Math.max(0, this.#runs - 1);
  }

  /** Spawns the first run; resolves with its pid, rejects (and closes) when it cannot be started at all. */
  async start(): Promise<number> {
    if (this.#state !== 'idle') throw new TypeError('SupervisedProcess.start() after start() or close()');
    const run = this.#spawn();
    await new Promise<void>((resolve, reject) => {
      run.child.once('spawn', resolve);
      run.child.once('error', reject);
    }).catch((err: unknown) => {
      throw new Error(`could not start ${this.#opts.command}: ${(err as Error).message}`);
    });
    return run.pid as number;
  }

  /** Signals the running child's process group; its exit counts like a crash, so the supervisor restarts it. */
  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    const run = this.#run;
    if (run !== undefined && this.#state === 'running') signalGroup(run, signal);
  }

  /** Closes stdin, waits, sends SIGTERM, waits, sends SIGKILL; resolves once the process (and its group) is gone. */
  close(): Promise<void> {
    this.#closing ??= this.#shutDown();
    return this.#closing;
  }

  async #shutDown(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closing';
    this.#cancelRestart?.();
    this.#cancelRestart = undefined;
    const run = this.#run;
    if (run !== undefined) {
      const grace = this.#opts.shutdownGraceMs ?? DEFAULT_GRACE_MS;
      run.child.stdin?.end();
      if (!(await endsWithin(run, grace))) {
        signalGroup(run, 'SIGTERM');
        if (!(await endsWithin(run, grace))) {
          this.#log.warn({ child_pid: run.pid }, 'upstream process ignored SIGTERM; sending SIGKILL');
          signalGroup(run, 'SIGKILL');
          await run.ended;
        }
      }
    }
    this.#finish('closed');
  }

  #spawn(): Run {
    const child = spawn(this.#opts.command, this.#opts.args ?? [], {
      ...(this.#opts.cwd !== undefined ? { cwd: this.#opts.cwd } : {}),
      env: this.#env,
      stdio: ['pipe', 'pipe', 'pipe'],
      shell: false,
      // Its own process group (POSIX), so a signal to the group reaches grandchildren too.
      detached: process.platform !== 'win32',
      windowsHide: true,
    });
    let markEnded!: () => void;
    const run: Run = {
      child,
      pid: undefined,
      startedAt: this.#clock.now(),
      spawnError: undefined,
      ended: new Promise<void>((resolve) => (markEnded = resolve)),
    };
    this.#run = run;
    this.#runs += 1;
    this.#state = 'running';
    const runNumber = this.#runs;

    // A write to a dead child's stdin fails with EPIPE; the exit handling below is what deals with the death.
    child.stdin.on('error', (err) => this.#log.debug({ err: err.message }, 'upstream stdin error'));
    child.stdout.on('error', (err) => this.#log.debug({ err: err.message }, 'upstream stdout error'));
    child.stderr.on('error', (err) => this.#log.debug({ err: err.message }, 'upstream stderr error'));
    this.#forwardLines(child.stderr, 'stderr', () => run.pid, 'info');
    if ((this.#opts.stdout ?? 'log') === 'log') this.#forwardLines(child.stdout, 'stdout', () => run.pid, 'debug');

    child.once('spawn', () => {
      run.pid = child.pid;
      this.#log.info({ child_pid: child.pid, run: runNumber, command: this.#opts.command }, 'upstream process started');
      this.emit('started', { pid: child.pid as number, run: runNumber, stdin: child.stdin, stdout: child.stdout });
    });
    // `on`, not `once`: a later failed kill() emits 'error' again, and an unheard 'error' would crash Writ.
    child.on('error', (err) => {
      if (run.pid === undefined) run.spawnError = err;
      else this.#log.warn({ child_pid: run.pid, err: err.message }, 'upstream process error');
    });
    child.once('exit', () => {
      signalGroup(run, 'SIGKILL');
      // 'close' waits for the pipes; something outside the group may hold them, so do not wait for ever.
      const t = setTimeout(() => {
        child.stdin.destroy();
        child.stdout.destroy();
        child.stderr.destroy();
      }, PIPE_DRAIN_MS);
      child.once('close', () => clearTimeout(t));
    });
    // 'close' comes after the exit and after the last stdout byte, so a caller has seen every message by then.
    child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
      markEnded();
      this.#ended(run, code, signal);
    });
    return run;
  }

  #ended(run: Run, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.#run === run) this.#run = undefined;
    const expected = this.#state === 'closing' || this.#state === 'closed';
    const exit: SupervisedExit = { pid: run.pid, code, signal, expected };
    if (run.spawnError !== undefined) exit.error = run.spawnError;
    this.#log[expected ? 'info' : 'warn'](
      { child_pid: run.pid, code, signal, ...(run.spawnError ? { err: run.spawnError.message } : {}) },
      expected ? 'upstream process exited' : 'upstream process exited unexpectedly',
    );
    this.emit('exited', exit);
    if (expected) return;

    if (run.pid === undefined && this.#runs === 1) {
      this.#finish(`could not start ${this.#opts.command}: ${run.spawnError?.message ?? 'unknown error'}`);
      return;
    }
    const uptime = this.#clock.now() - run.startedAt;
    this.#quickFailures = uptime >= this.#backoff.resetAfterMs ? 0 : this.#quickFailures + 1;
    if (this.#quickFailures >= this.#backoff.maxQuickFailures) {
      const how = run.spawnError?.message ?? (signal !== null ? `signal ${signal}` : `exit code ${code}`);
      this.#finish(`gave up after ${this.#quickFailures} quick failures (last: ${how})`);
      return;
    }
    const delayMs = Math.min(this.#backoff.initialMs * 2 ** Math.max(0, this.#quickFailures - 1), this.#backoff.maxMs);
    this.#state = 'waiting';
    this.#log.info({ delay_ms: delayMs, quick_failures: this.#quickFailures }, 'restarting upstream process');
    this.emit('restarting', { delayMs, quickFailures: this.#quickFailures });
    this.#cancelRestart = this.#clock.schedule(() => {
      this.#cancelRestart = undefined;
      if (this.#state === 'waiting') this.#spawn();
    }, delayMs);
  }

  #finish(reason: string): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#cancelRestart?.();
    this.#cancelRestart = undefined;
    if (reason !== 'closed') this.#log.error({ reason }, 'upstream process supervisor gave up');
    this.emit('close', reason);
  }

  #forwardLines(stream: Readable, name: 'stdout' | 'stderr', pid: () => number | undefined, level: 'info' | 'debug'): void {
    const splitter = new LineSplitter(this.#opts.maxLogLineBytes ?? DEFAULT_MAX_LOG_LINE_BYTES, ({ text, truncated }) => {
      if (text.length === 0 && !truncated) return;
      this.#log[level]({ child_pid: pid(), stream: name, line: text, ...(truncated ? { truncated } : {}) }, `upstream ${name}`);
    });
    stream.on('data', (chunk: Buffer) => splitter.push(chunk));
    stream.on('end', () => splitter.end());
  }
}

function endsWithin(run: Run, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    run.ended.then(() => true),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
  ]).finally(() => clearTimeout(timer));
}

/** Signals the child's whole process group; falls back to the child alone where there is no group (Windows). */
function signalGroup(run: Run, signal: NodeJS.Signals): void {
  if (run.pid === undefined) return;
  try {
    if (process.platform !== 'win32') process.kill(-run.pid, signal);
    else run.child.kill(signal);
  } catch {
    // ESRCH: the group is already gone, which is the point.
  }
}

/**
 * A Writ node as its own operating-system process — `writ serve` from the built CLI with a config file and the
 * environment an operator would give it — for tests of what only separate processes show (a cluster on one
 * PostgreSQL). Its JSON log lines are kept, so a test can assert on what the node said and show it on failure.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** Loopback, where tests run every upstream, receiver and identity provider (refused by default). */
const LOOPBACK = ['127.0.0.0/8', '::1'];

export interface WritProcess {
  readonly name: string;
  /** The URL it listens on. */
  readonly url: string;
  readonly logs: Array<Record<string, unknown>>;
  /**
   * Resolves with the first log line that satisfies `p` (already logged or still to come); with `from`, only among
   * the lines from that index of `logs` on (what is logged after a moment the test chose).
   */
  waitForLog(p: (line: Record<string, unknown>) => boolean, from?: number): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
  /** Ends the process as a crash would (SIGKILL: no handler, no flush, no close runs) and waits until it is gone. */
  kill(): Promise<void>;
}

export interface WritProcessOptions {
  name: string;
  /** writ.yaml content as an object (written as JSON, which is YAML). */
  config: Record<string, unknown>;
  env: Record<string, string>;
  /** More `writ serve` arguments (`--workers 2`). */
  args?: string[];
}

export async function startWritProcess(o: WritProcessOptions): Promise<WritProcess> {
  const dir = mkdtempSync(join(tmpdir(), `writ-${o.name}-`));
  const file = join(dir, 'writ.yaml');
  writeFileSync(file, JSON.stringify(o.config));
  // One process unless the test asks for workers: `writ serve` alone runs one per core.
  const args = o.args?.includes('--workers') === true ? o.args : [...(o.args ?? []), '--workers', '1'];
  const child: ChildProcess = spawn(process.execPath, [CLI, 'serve', '--config', file, ...args], {
    cwd: dir,
    // Tests run every peer on loopback, which the egress rules refuse by default.
    env: { PATH: process.env['PATH'] ?? '', WRIT_EGRESS_ALLOW: LOOPBACK.join(','), ...o.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Array<Record<string, unknown>> = [];
  const waiters = new Set<{ p: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }>();
  let stderr = '';
  let buffered = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const text = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        line = { msg: text };
      }
      logs.push(line);
      for (const w of [...waiters])
        if (w.p(line)) {
          waiters.delete(w);
          w.resolve(line);
        }
    }
  });
  child.stderr?.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  let stopping = false;
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code, signal) => {
      // A node that dies by itself is a finding: show why, whatever the test then reports.
      if (!stopping)
        process.stderr.write(
          `writ node ${o.name} exited (${String(code ?? signal)}):\n${stderr}\n${logs
            .slice(-20)
            .map((l) => JSON.stringify(l))
            .join('\n')}\n`,
        );
      resolve(code);
    }),
  );
  const waitForLog = (p: (l: Record<string, unknown>) => boolean, from = 0): Promise<Record<string, unknown>> => {
    const seen = logs.slice(from).find(p);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve) => waiters.add({ p, resolve }));
  };
  const listening = await Promise.race([
    // With --workers, the primary says so once every worker serves.
    waitForLog((l) => l['msg'] === (args[args.indexOf('--workers') + 1] !== '1' ? 'writ serving on every worker' : 'writ listening')),
    exited.then((code) => {
      throw new Error(`writ node ${o.name} exited with ${String(code)} before listening:\n${stderr}\n${JSON.stringify(logs)}`);
    }),
  ]);
  return {
    name: o.name,
    url: String(listening['url']),
    logs,
    waitForLog,
    async stop() {
      stopping = true;
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
    async kill() {
      stopping = true;
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * A target of this bench (target.ts) in a process of its own, and its CPU time, for run.ts and ab.ts. A checkout's
 * built target.js can be given, so that ab.ts runs another build's target beside this one's.
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { JsonWebKey } from 'node:crypto';
import { fileURLToPath } from 'node:url';

export const THIS_TARGET = fileURLToPath(new URL('./target.js', import.meta.url));

/** What a target reports once it listens; the Writ targets hand over a task token and its proof key. */
export interface Ready {
  port: number;
  token?: string;
  dpopPrivateJwk?: JsonWebKey;
  publicUrl?: string;
}

export function startTarget(
  mode: string,
  o: { upstream?: string; databaseUrl?: string; target?: string; execArgv?: string[] } = {},
): Promise<{ child: ChildProcess; ready: Ready }> {
  const target = o.target ?? THIS_TARGET;
  const args = [mode, o.upstream ?? '', ...(o.databaseUrl !== undefined ? [o.databaseUrl] : [])];
  const child = fork(target, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: o.execArgv ?? [] });
  return new Promise((resolve, reject) => {
    child.once('message', (m: { ready: Ready }) => resolve({ child, ready: m.ready }));
    child.once('exit', (code) => reject(new Error(`${mode} (${target}) exited with ${code}`)));
  });
}

/** The target process's CPU time so far, µs (user + system). */
export function cpuOf(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    child.once('message', (m: { cpu: NodeJS.CpuUsage }) => resolve(m.cpu.user + m.cpu.system));
    child.send({ cpu: true });
  });
}

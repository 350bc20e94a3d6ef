/**
 * The supervisor with real child processes: backoff doubling to its cap and the give-up after N quick failures
 * (counted through events, timed by an injected clock — no assertion looks at the wall clock), the reset after a run
 * that stayed up, shutdown escalating to SIGKILL, no grandchild left behind, and a child environment that holds
 * nothing of Writ's own.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  SupervisedProcess,
  type SupervisedExit,
  type SupervisedRestart,
  type SupervisedStart,
} from '../../../src/gateway/mcp/upstream/index.js';
import { immediateClock, isAlive, manualClock, memoryLog, nextEvent, waitUntilGone } from './upstream-test-kit.js';

const NODE = process.execPath;

function record(proc: SupervisedProcess): { started: SupervisedStart[]; exited: SupervisedExit[]; restarting: SupervisedRestart[] } {
  const r = { started: [] as SupervisedStart[], exited: [] as SupervisedExit[], restarting: [] as SupervisedRestart[] };
  proc.on('started', (s) => r.started.push(s));
  proc.on('exited', (e) => r.exited.push(e));
  proc.on('restarting', (e) => r.restarting.push(e));
  return r;
}

test(
  'a child that exits at once: restarts with doubling delays up to the cap, gives up after N, fires close',
  { timeout: 30_000 },
  async () => {
    const log = memoryLog();
    const clock = immediateClock();
    const proc = new SupervisedProcess({
      resourceId: 'quitter',
      command: NODE,
      args: ['-e', 'process.exit(3)'],
      logger: log.logger,
      clock,
      backoff: { initialMs: 100, maxMs: 350, maxQuickFailures: 5, resetAfterMs: 10_000 },
    });
    const events = record(proc);
    const closed = nextEvent<string>(proc, 'close');
    await proc.start();
    const reason = await closed;

    assert.equal(reason, 'gave up after 5 quick failures (last: exit code 3)');
    assert.equal(events.started.length, 5, 'the first run and four restarts');
    assert.deepEqual(
      events.exited.map((e) => [e.code, e.signal, e.expected]),
      Array.from({ length: 5 }, () => [3, null, false]),
    );
    assert.deepEqual(
      events.restarting.map((r) => [r.delayMs, r.quickFailures]),
      [
        [100, 1],
        [200, 2],
        [350, 3],
        [350, 4],
      ],
    );
    assert.deepEqual(clock.delays, [100, 200, 350, 350]);
    assert.equal(proc.restarts, 4);
    assert.equal(proc.pid, undefined);
    assert.ok(log.lines.some((l) => l.msg === 'upstream process supervisor gave up' && l.resource_id === 'quitter'));
    await proc.close(); // after a give-up: a no-op, and no second close event
  },
);

test('a run that stayed up resets the series: the next restart waits the initial delay again', { timeout: 30_000 }, async () => {
  const clock = manualClock();
  const proc = new SupervisedProcess({
    resourceId: 'sleeper',
    command: NODE,
    args: ['-e', 'setInterval(() => {}, 1000)'],
    logger: memoryLog().logger,
    clock,
    shutdownGraceMs: 50,
    backoff: { initialMs: 100, maxMs: 30_000, maxQuickFailures: 10, resetAfterMs: 5_000 },
  });
  const events = record(proc);
  const killAndAwaitRestart = async (pid: number): Promise<SupervisedRestart> => {
    const restarting = nextEvent<SupervisedRestart>(proc, 'restarting');
    process.kill(pid, 'SIGKILL');
    return restarting;
  };
  const fireAndAwaitStart = async (): Promise<SupervisedStart> => {
    const started = nextEvent<SupervisedStart>(proc, 'started');
    clock.fire();
    return started;
  };
  try {
    const first = await proc.start();
    assert.deepEqual(await killAndAwaitRestart(first), { delayMs: 100, quickFailures: 1 });
    const second = await fireAndAwaitStart();
    assert.deepEqual(await killAndAwaitRestart(second.pid), { delayMs: 200, quickFailures: 2 });
    const third = await fireAndAwaitStart();
    clock.advance(5_000); // the third run has now been up for resetAfterMs
    assert.deepEqual(await killAndAwaitRestart(third.pid), { delayMs: 100, quickFailures: 0 });
    assert.equal(events.exited.at(-1)?.signal, 'SIGKILL');
    const fourth = await fireAndAwaitStart();
    assert.equal(fourth.run, 4);
    await proc.close();
    for (const s of events.started) assert.equal(isAlive(s.pid), false, `pid ${s.pid} is gone`);
  } finally {
    await proc.close();
  }
});

test('close() while a restart is pending cancels it', { timeout: 30_000 }, async () => {
  const clock = manualClock();
  const proc = new SupervisedProcess({
    resourceId: 'x',
    command: NODE,
    args: ['-e', 'process.exit(1)'],
    logger: memoryLog().logger,
    clock,
  });
  const events = record(proc);
  const restarting = nextEvent(proc, 'restarting');
  const closed = nextEvent<string>(proc, 'close');
  await proc.start();
  await restarting;
  await proc.close();
  assert.equal(await closed, 'closed');
  assert.throws(() => clock.fire(), /no restart is scheduled/);
  assert.equal(events.started.length, 1);
});

test('the child environment: PATH, HOME and the configured variables only — never WRIT_KEK', { timeout: 30_000 }, async () => {
  const saved = process.env.WRIT_KEK;
  process.env.WRIT_KEK = 'parent-only-secret';
  try {
    const proc = new SupervisedProcess({
      resourceId: 'env',
      command: NODE,
      args: ['-e', 'process.stdout.write(JSON.stringify(process.env))'],
      env: { UPSTREAM_SETTING: 'from-resource-config' },
      logger: memoryLog().logger,
      stdout: 'pipe',
      backoff: { maxQuickFailures: 1 },
    });
    const output = nextEvent<SupervisedStart>(proc, 'started').then(
      ({ stdout }) =>
        new Promise<string>((resolve) => {
          let text = '';
          stdout.on('data', (c: Buffer) => (text += c.toString('utf8')));
          stdout.on('end', () => resolve(text));
        }),
    );
    const closed = nextEvent(proc, 'close');
    await proc.start();
    const env = JSON.parse(await output) as Record<string, string>;
    await closed;

    assert.equal(env.WRIT_KEK, undefined);
    assert.equal(env.UPSTREAM_SETTING, 'from-resource-config');
    if (process.env.PATH !== undefined) assert.equal(env.PATH, process.env.PATH);
    const unexpected = Object.keys(env).filter((k) => !['PATH', 'HOME', 'UPSTREAM_SETTING'].includes(k));
    assert.deepEqual(unexpected, [], 'nothing else of the parent environment');
  } finally {
    if (saved === undefined) delete process.env.WRIT_KEK;
    else process.env.WRIT_KEK = saved;
  }
});

test('shutdown escalates: stdin closed, then SIGTERM (ignored), then SIGKILL; the pid is gone', { timeout: 30_000 }, async () => {
  const log = memoryLog();
  const stubborn = "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000); console.log('handler installed');";
  const proc = new SupervisedProcess({
    resourceId: 'stubborn',
    command: NODE,
    args: ['-e', stubborn],
    logger: log.logger,
    shutdownGraceMs: 50,
  });
  const events = record(proc);
  const pid = await proc.start();
  await log.waitFor((l) => l.line === 'handler installed'); // stdout in `log` mode: debug lines
  await proc.close();
  assert.equal(isAlive(pid), false);
  assert.equal(events.exited.length, 1);
  assert.deepEqual([events.exited[0]?.signal, events.exited[0]?.expected], ['SIGKILL', true]);
  assert.ok(log.lines.some((l) => l.msg === 'upstream process ignored SIGTERM; sending SIGKILL'));
});

test('a grandchild (the real server behind npx or a shell wrapper) does not outlive close()', { timeout: 30_000 }, async () => {
  const log = memoryLog();
  const wrapper = [
    "const { spawn } = require('node:child_process');",
    "const g = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });",
    "console.error('grandchild ' + g.pid);",
    "process.on('SIGTERM', () => {});", // the wrapper itself waits for SIGKILL; the group signal reaches g anyway
    'setInterval(() => {}, 1000);',
  ].join('\n');
  const proc = new SupervisedProcess({
    resourceId: 'wrapper',
    command: NODE,
    args: ['-e', wrapper],
    logger: log.logger,
    shutdownGraceMs: 50,
  });
  const pid = await proc.start();
  const line = await log.waitFor((l) => typeof l.line === 'string' && l.line.startsWith('grandchild '));
  const grandchild = Number(String(line.line).slice('grandchild '.length));
  assert.equal(isAlive(grandchild), true);
  await proc.close();
  assert.equal(isAlive(pid), false);
  // The grandchild is not ours to reap: it died from the group signal and init reaps it; wait for that, do not assert a time.
  await waitUntilGone(grandchild);
});

test('stderr lines reach the logger with the resource id, cut at the line cap', { timeout: 30_000 }, async () => {
  const log = memoryLog();
  const script = "process.stderr.write('short line\\n' + 'x'.repeat(100) + '\\nlast without newline')";
  const proc = new SupervisedProcess({
    resourceId: 'talker',
    command: NODE,
    args: ['-e', script],
    logger: log.logger,
    maxLogLineBytes: 10,
    backoff: { maxQuickFailures: 1 },
  });
  const closed = nextEvent(proc, 'close');
  await proc.start();
  await closed;
  const stderr = log.lines.filter((l) => l.stream === 'stderr');
  assert.deepEqual(
    stderr.map((l) => [l.line, l.truncated ?? false, l.resource_id]),
    [
      ['short line', false, 'talker'],
      ['xxxxxxxxxx', true, 'talker'],
      ['last witho', true, 'talker'],
    ],
  );
});

test('a command that does not exist: start() rejects and the supervisor closes', { timeout: 30_000 }, async () => {
  const proc = new SupervisedProcess({ resourceId: 'missing', command: '/nonexistent/mcp-server', logger: memoryLog().logger });
  const closed = nextEvent<string>(proc, 'close');
  await assert.rejects(proc.start(), /could not start \/nonexistent\/mcp-server: spawn \/nonexistent\/mcp-server ENOENT/);
  assert.match(await closed, /could not start/);
});

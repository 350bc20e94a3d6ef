/**
 * The write gate (threads/write-gate.ts): one writer at a time across the threads of a process, a holder's turn given
 * back only by that holder (or for it, when it died), and the event loop's connection holding it exactly as long as
 * SQLite holds its write lock — from a transaction's first write to its end.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { sql } from 'kysely';
import { openStore } from '../../src/storage/index.js';
import { GATE_HOLDER, WriteGate } from '../../src/threads/index.js';

test('one holder at a time: a second acquire waits, and gives up at its bound', () => {
  const gate = new WriteGate();
  assert.equal(gate.acquire(GATE_HOLDER.eventLoop, 0), true);
  assert.equal(gate.acquire(GATE_HOLDER.auditThread, 5), false);
  gate.release(GATE_HOLDER.eventLoop);
  assert.equal(gate.acquire(GATE_HOLDER.auditThread, 0), true);
  gate.release(GATE_HOLDER.auditThread);
});

test("release gives back only the named holder's turn (a dead thread's, never a live one's)", () => {
  const gate = new WriteGate();
  assert.equal(gate.acquire(GATE_HOLDER.eventLoop, 0), true);
  gate.release(GATE_HOLDER.auditThread);
  assert.equal(new WriteGate(gate.shared).acquire(GATE_HOLDER.auditThread, 0), false, 'still the event loop’s');
  gate.release(GATE_HOLDER.eventLoop);
  assert.equal(new WriteGate(gate.shared).acquire(GATE_HOLDER.auditThread, 0), true);
});

test('mutual exclusion across threads: no two holders are ever inside at once', async () => {
  const gate = new WriteGate();
  // [0] how many are inside, [1] the most ever seen inside, [2] turns taken in all
  const cells = new Int32Array(new SharedArrayBuffer(3 * Int32Array.BYTES_PER_ELEMENT));
  const turns = 20_000;
  const body = (holder: number): void => {
    for (let i = 0; i < turns; i++) {
      if (!gate.acquire(holder as 1 | 2, 10_000)) throw new Error('gate not had within 10 s');
      const inside = Atomics.add(cells, 0, 1) + 1;
      if (inside > Atomics.load(cells, 1)) Atomics.store(cells, 1, inside);
      Atomics.add(cells, 2, 1);
      Atomics.sub(cells, 0, 1);
      gate.release(holder as 1 | 2);
    }
  };
  const worker = new Worker(
    `const { workerData, parentPort } = require('node:worker_threads');
     const cell = new Int32Array(workerData.gate); const cells = new Int32Array(workerData.cells);
     parentPort.postMessage('started');
     for (let i = 0; i < workerData.turns; i++) {
       for (;;) { const seen = Atomics.compareExchange(cell, 0, 0, 2); if (seen === 0) break; Atomics.wait(cell, 0, seen, 100); }
       const inside = Atomics.add(cells, 0, 1) + 1;
       if (inside > Atomics.load(cells, 1)) Atomics.store(cells, 1, inside);
       Atomics.add(cells, 2, 1);
       Atomics.sub(cells, 0, 1);
       if (Atomics.compareExchange(cell, 0, 2, 0) === 2) Atomics.notify(cell, 0, 1);
     }`,
    { eval: true, workerData: { gate: gate.shared, cells: cells.buffer, turns } },
  );
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
  await new Promise((resolve) => worker.once('message', resolve));
  body(GATE_HOLDER.eventLoop);
  assert.equal(await exited, 0);
  assert.equal(Atomics.load(cells, 2), 2 * turns);
  assert.equal(Atomics.load(cells, 1), 1, 'never two inside');
});

test("the event loop's connection holds the gate from a transaction's first write to its end; reads never take it", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'writ-gate-'));
  const store = await openStore({ sqlitePath: join(dir, 'writ.db') });
  try {
    const shared = store.sqliteFile?.gate;
    assert.ok(shared !== undefined, 'a SQLite file has a gate');
    const other = new WriteGate(shared);
    const free = (): boolean => {
      const had = other.acquire(GATE_HOLDER.auditThread, 0);
      if (had) other.release(GATE_HOLDER.auditThread);
      return had;
    };
    await store.db.transaction().execute(async (trx) => {
      await trx.selectFrom('agents').selectAll().execute();
      assert.equal(free(), true, 'a read leaves the gate free');
      await sql`insert into client_assertions (key, expires_at) values ('gate-test', 1)`.execute(trx);
      assert.equal(free(), false, 'held from the first write');
      await trx.selectFrom('agents').selectAll().execute();
      assert.equal(free(), false, 'and for the rest of the transaction');
    });
    assert.equal(free(), true, 'given back at commit');
    await assert.rejects(
      store.db.transaction().execute(async (trx) => {
        await sql`insert into client_assertions (key, expires_at) values ('gate-test-2', 1)`.execute(trx);
        throw new Error('changed my mind');
      }),
      /changed my mind/,
    );
    assert.equal(free(), true, 'given back at rollback');
    await sql`delete from client_assertions where key = 'gate-test'`.execute(store.db);
    assert.equal(free(), true, 'a write outside a transaction gives it back at once');
    // While the audit thread holds it, the event loop's reads go on (WAL readers never wait for a writer).
    assert.equal(other.acquire(GATE_HOLDER.auditThread, 0), true);
    await assert.doesNotReject(store.db.selectFrom('agents').selectAll().execute());
    other.release(GATE_HOLDER.auditThread);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * The log streamed to sinks: a SIEM endpoint that fails at first (retried, nothing skipped) receiving OCSF events as
 * NDJSON, and a small rotating file receiving the stored rows. Each sink resumes from its own cursor after a restart:
 * every event exactly once, in chain order, on both.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { describeEachStore } from '../helpers/stores.js';
import { eventually } from '../helpers/eventually.js';
import { useHarness } from '../helpers/writ-harness.js';

describeEachStore('audit sinks', (kind) => {
  const dir = mkdtempSync(join(tmpdir(), 'writ-sinks-'));
  const file = join(dir, 'audit.jsonl');
  const received: Array<{ metadata: { sequence: number; version: string }; class_uid: number }> = [];
  let refusals = 2;
  const siem = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => {
      if (req.headers['content-type'] !== 'application/x-ndjson') {
        res.writeHead(415).end();
        return;
      }
      // The collector is down at first: the same batch must come again, from the same cursor.
      if (refusals > 0) {
        refusals--;
        res.writeHead(503).end();
        return;
      }
      for (const line of body.split('\n')) if (line !== '') received.push(JSON.parse(line) as (typeof received)[number]);
      res.writeHead(200).end();
    });
  });
  let port = 0;
  before(async () => {
    await new Promise<void>((resolve) => siem.listen(0, '127.0.0.1', resolve));
    port = (siem.address() as AddressInfo).port;
  });
  const h = useHarness(kind, {
    config: {
      'audit.sinkPollMs': 10,
      get 'audit.sinks'() {
        return [
          { name: 'siem', kind: 'webhook', url: `http://127.0.0.1:${port}/ingest`, format: 'ocsf', batchSize: 7 },
          { name: 'archive', kind: 'file', path: file, format: 'jsonl', batchSize: 5, maxBytes: 4096, maxFiles: 50 },
        ];
      },
    },
  });
  after(() => {
    siem.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Seqs in the file and its rotations, oldest file first. */
  const archived = (): number[] => {
    const files = [];
    for (let i = 50; i >= 1; i--) if (existsSync(`${file}.${i}`)) files.push(`${file}.${i}`);
    if (existsSync(file)) files.push(file);
    return files.flatMap((f) =>
      readFileSync(f, 'utf8')
        .split('\n')
        .slice(0, -1)
        .map((l) => (JSON.parse(l) as { seq: number }).seq),
    );
  };
  const stored = async (): Promise<number[]> => {
    await h.writ.flushAudit();
    return (await h.store.db.selectFrom('audit_events').select('seq').orderBy('seq').execute()).map((r) => r.seq);
  };
  const someEvents = async (tag: string, n: number): Promise<void> => {
    for (let i = 0; i < n; i++)
      await h.admin.post('/revocations', { target: { type: 'token', jti: `tok_${tag}_${i}` }, reason: 'sink test' });
  };

  test('every event reaches both sinks once, in order, across failures, rotation and a restart', async () => {
    await someEvents('a', 20);
    let all = await stored();
    await eventually(async () => received.length >= all.length && archived().length >= all.length, 'both sinks caught up');
    assert.deepEqual(
      received.map((e) => e.metadata.sequence),
      all,
    );
    assert.ok(received.every((e) => e.metadata.version === '1.3.0' && typeof e.class_uid === 'number'));
    assert.deepEqual(archived(), all);
    assert.ok(existsSync(`${file}.1`), 'the file rotated');

    await h.restart();
    await someEvents('b', 6);
    all = await stored();
    await eventually(
      async () => received.length >= all.length && archived().length >= all.length,
      'both sinks caught up after the restart',
    );
    assert.deepEqual(
      received.map((e) => e.metadata.sequence),
      all,
      'resumed from the cursor: nothing twice, nothing missed',
    );
    assert.deepEqual(archived(), all);
    // The cursor moves after delivery: it catches up with what was delivered.
    const last = all.at(-1);
    const cursors = await eventually(async () => {
      const rows = await h.store.db.selectFrom('audit_sink_cursors').selectAll().orderBy('name').execute();
      return rows.length === 2 && rows.every((c) => c.seq === last) ? rows : undefined;
    }, 'both cursors at the last event');
    assert.deepEqual(
      cursors.map((c) => c.name),
      ['archive', 'siem'],
    );
  });
});

/**
 * Signed checkpoints of the audit chain: signed with a key of their own (published, never a token key), made on
 * demand, exported, and what they detect with only the exported checkpoints in hand — a cut tail, and history
 * rewritten with every hash recomputed (a chain that verifies on its own). The CLI does the same offline, from an
 * exported log, a saved JWKS and the exported checkpoints.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'kysely';
import { SignJWT, importJWK, generateKeyPair, exportJWK, type JSONWebKeySet } from 'jose';
import {
  canonicalJson,
  chainHash,
  CHECKPOINT_TYP,
  CheckpointInvalidError,
  verifyCheckpoint,
  type AuditCheckpoint,
} from '../../src/audit/index.js';
import { describeEachStore } from '../helpers/stores.js';
import { useHarness } from '../helpers/writ-harness.js';
import { eventually } from '../helpers/eventually.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

interface Verification {
  ok: boolean;
  problem?: string;
  firstBadSeq?: number;
}

describeEachStore('audit checkpoints', (kind) => {
  const h = useHarness(kind);

  const jwks = async (): Promise<JSONWebKeySet> => (await (await fetch(`${h.writ.url}/.well-known/jwks.json`)).json()) as JSONWebKeySet;
  const someEvents = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++)
      await h.admin.post('/revocations', {
        target: { type: 'token', jti: `tok_cp_${kind.name}_${i}_${Date.now()}` },
        reason: 'checkpoint test',
      });
    await h.writ.flushAudit();
  };
  const checkpoint = (): Promise<AuditCheckpoint & { created: boolean }> => h.admin.post('/audit/checkpoints', {});

  test('a checkpoint signs the head with a key of its own, published but not a token key; one per head', async () => {
    await someEvents(2);
    const first = await checkpoint();
    assert.equal(first.created, true);
    const head = await h.store.db
      .selectFrom('audit_events')
      .select(['seq', 'hash'])
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirstOrThrow();
    assert.deepEqual([first.seq, first.hash], [head.seq, head.hash]);
    assert.match(first.kid, /^audit-/);
    const again = await checkpoint();
    assert.equal(again.created, false, 'the same head is signed once');
    assert.equal(again.jws, first.jws);

    const keys = await jwks();
    const published = keys.keys.find((k) => k.kid === first.kid);
    assert.deepEqual([published?.alg, published?.kty, published?.crv, published?.use], ['ES256', 'EC', 'P-256', 'sig']);
    const signed = await verifyCheckpoint(first.jws, keys, h.writ.publicUrl);
    assert.deepEqual([signed.seq, signed.hash], [first.seq, first.hash]);
    const [header] = first.jws.split('.');
    assert.equal(JSON.parse(Buffer.from(header as string, 'base64url').toString()).typ, CHECKPOINT_TYP);

    // What a checkpoint must not pass for.
    await assert.rejects(verifyCheckpoint(first.jws, keys, 'https://another.example'), CheckpointInvalidError);
    const [h64, p64, s64] = first.jws.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(p64, 'base64url').toString()) as Record<string, unknown>;
    const otherHash = Buffer.from(JSON.stringify({ ...claims, seq: (claims['seq'] as number) + 100 })).toString('base64url');
    await assert.rejects(verifyCheckpoint(`${h64}.${otherHash}.${s64}`, keys), CheckpointInvalidError, 'a claim changed');
    // Signed by a key that is not the checkpoint key (here, one the attacker made and slipped into the key set).
    const attacker = await generateKeyPair('ES256');
    const forged = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', typ: CHECKPOINT_TYP, kid: 'set-attacker' })
      .sign(attacker.privateKey);
    const withAttacker = { keys: [...keys.keys, { ...(await exportJWK(attacker.publicKey)), kid: 'set-attacker', alg: 'ES256' }] };
    await assert.rejects(verifyCheckpoint(forged, withAttacker), CheckpointInvalidError, 'only audit- keys sign checkpoints');
    // The right key but another typ: a token-shaped JWS is not a checkpoint.
    await importJWK(published as Parameters<typeof importJWK>[0]);
    const [, , sig] = first.jws.split('.');
    const retyped = `${Buffer.from(JSON.stringify({ alg: 'ES256', typ: 'at+jwt', kid: first.kid })).toString('base64url')}.${p64}.${sig}`;
    await assert.rejects(verifyCheckpoint(retyped, keys), CheckpointInvalidError);

    const listed = await h.admin.get<AuditCheckpoint[]>('/audit/checkpoints');
    assert.ok(listed.some((c) => c.seq === first.seq && c.jws === first.jws));
  });

  test('with only exported checkpoints in hand: a cut tail and rewritten history are detected', async () => {
    await someEvents(5);
    const cp = await checkpoint();
    await someEvents(2);
    const exported = await h.admin.get<AuditCheckpoint[]>('/audit/checkpoints');
    const keys = await jwks();
    const anchors: Array<{ seq: number; hash: string }> = [];
    for (const c of exported) anchors.push(await verifyCheckpoint(c.jws, keys));
    const verify = (): Promise<Verification> => h.admin.post('/audit/verify', { anchors: anchors.map(({ seq, hash }) => ({ seq, hash })) });
    assert.equal((await verify()).ok, true);

    // History rewritten: an event before the checkpoint edited and every hash from there on recomputed. The chain
    // alone still verifies; the checkpoint does not.
    const victim = cp.seq - 2;
    const rows = await h.store.db.selectFrom('audit_events').selectAll().where('seq', '>=', victim).orderBy('seq').execute();
    const original = rows.map((r) => ({ seq: r.seq, body: r.body, prev_hash: r.prev_hash, hash: r.hash }));
    let prev = rows[0]?.prev_hash as string;
    for (const r of rows) {
      const body = r.seq === victim ? canonicalJson({ ...JSON.parse(r.body), reason: 'nothing to see' }) : r.body;
      const hash = chainHash(prev, body);
      await h.store.db
        .updateTable('audit_events')
        .set({ body, prev_hash: prev, hash, ...(r.seq === victim ? { reason: 'nothing to see' } : {}) })
        .where('seq', '=', r.seq)
        .execute();
      prev = hash;
    }
    assert.equal((await h.admin.get<Verification>('/audit/verify')).ok, true, 'the rewritten chain is consistent on its own');
    const rewritten = await verify();
    assert.deepEqual([rewritten.ok, rewritten.problem, rewritten.firstBadSeq], [false, 'altered', cp.seq]);
    for (const o of original)
      await h.store.db
        .updateTable('audit_events')
        .set({ body: o.body, prev_hash: o.prev_hash, hash: o.hash, reason: JSON.parse(o.body).reason ?? null })
        .where('seq', '=', o.seq)
        .execute();
    assert.equal((await verify()).ok, true, 'restored');

    // The tail cut below the checkpoint: a shorter chain, valid on its own.
    await h.store.db
      .deleteFrom('audit_events')
      .where('seq', '>=', cp.seq - 1)
      .execute();
    assert.equal((await h.admin.get<Verification>('/audit/verify')).ok, true, 'the cut chain is consistent on its own');
    const cut = await verify();
    assert.deepEqual([cut.ok, cut.problem], [false, 'removed']);
    // Put back what was cut, so the next test starts from an intact log.
    await sql`DELETE FROM audit_events WHERE seq >= ${cp.seq - 1}`.execute(h.store.db);
    for (const r of rows.filter((x) => x.seq >= cp.seq - 1)) await h.store.db.insertInto('audit_events').values(r).execute();
  });

  test('writ audit verify, offline: an exported log, a saved JWKS and the exported checkpoints; a cut export fails', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'writ-audit-'));
    try {
      await someEvents(3);
      const cli = (args: string[]): Promise<{ code: number; stdout: string }> =>
        new Promise((resolve) =>
          execFile(
            process.execPath,
            [CLI, ...args],
            { env: { PATH: process.env['PATH'] ?? '', WRIT_URL: h.writ.url, WRIT_ADMIN_TOKEN: h.adminToken }, timeout: 30_000 },
            (err, stdout) => resolve({ code: err === null ? 0 : Number((err as { code?: number }).code ?? 1), stdout }),
          ),
        );
      const made = JSON.parse((await cli(['audit', 'checkpoint'])).stdout) as AuditCheckpoint;
      writeFileSync(join(dir, 'checkpoints.jsonl'), (await cli(['audit', 'checkpoints'])).stdout);
      writeFileSync(join(dir, 'log.jsonl'), (await cli(['audit', 'export', '--format', 'jsonl'])).stdout);
      writeFileSync(join(dir, 'jwks.json'), JSON.stringify(await jwks()));
      const offline = [
        'audit',
        'verify',
        '--log',
        join(dir, 'log.jsonl'),
        '--checkpoints',
        join(dir, 'checkpoints.jsonl'),
        '--jwks',
        join(dir, 'jwks.json'),
      ];
      const good = await cli(offline);
      assert.equal(good.code, 0, good.stdout);
      assert.equal((JSON.parse(good.stdout) as { latestCheckpoint: { seq: number } }).latestCheckpoint.seq, made.seq);

      // The export cut short: a valid chain, but it no longer reaches the checkpoint.
      const lines = readFileSync(join(dir, 'log.jsonl'), 'utf8').trim().split('\n');
      const kept = lines.filter((l) => (JSON.parse(l) as { seq: number }).seq < made.seq);
      writeFileSync(join(dir, 'log.jsonl'), `${kept.join('\n')}\n`);
      const cut = await cli(offline);
      assert.equal(cut.code, 2, cut.stdout);
      assert.equal((JSON.parse(cut.stdout) as Verification).problem, 'removed');

      // A checkpoint whose signature does not verify fails the command, whatever the chain says.
      const cps = readFileSync(join(dir, 'checkpoints.jsonl'), 'utf8').trim().split('\n');
      const last = JSON.parse(cps.at(-1) as string) as AuditCheckpoint;
      cps[cps.length - 1] = JSON.stringify({ ...last, jws: `${last.jws.slice(0, -4)}AAAA` });
      writeFileSync(join(dir, 'checkpoints.jsonl'), `${cps.join('\n')}\n`);
      assert.notEqual((await cli(offline)).code, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describeEachStore('audit checkpoints pushed out', (kind) => {
  const dir = mkdtempSync(join(tmpdir(), 'writ-cp-sink-'));
  const file = join(dir, 'checkpoints.jsonl');
  const received: string[] = [];
  let failFirst = true;
  const sink = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => {
      // The first delivery fails: the publisher must retry.
      if (failFirst) {
        failFirst = false;
        res.writeHead(503).end();
        return;
      }
      received.push(body);
      res.writeHead(204).end();
    });
  });
  const listening = new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  let port = 0;
  // Registered before the harness's own hook, so the endpoint's port is known when the harness reads its config.
  before(async () => {
    await listening;
    port = (sink.address() as AddressInfo).port;
  });
  const h = useHarness(kind, {
    config: {
      'audit.checkpoints.intervalSeconds': 0,
      'audit.checkpoints.file': file,
      get 'audit.checkpoints.webhookUrl'() {
        return `http://127.0.0.1:${port}/checkpoints`;
      },
    },
  });
  after(() => {
    sink.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a new checkpoint is appended to the file and delivered to the endpoint (retried), not again for the same head', async () => {
    await h.admin.post('/revocations', { target: { type: 'token', jti: `tok_sink_${kind.name}` }, reason: 'sink test' });
    const made = await h.admin.post<AuditCheckpoint & { created: boolean }>('/audit/checkpoints', {});
    assert.equal(made.created, true);
    const line = { seq: made.seq, hash: made.hash, time: made.time, kid: made.kid, jws: made.jws };
    // Only whole lines: the file may be caught while a line is being appended.
    const lines = (): unknown[] =>
      existsSync(file)
        ? readFileSync(file, 'utf8')
            .split('\n')
            .slice(0, -1)
            .map((l) => JSON.parse(l) as unknown)
        : [];
    // Pushed in the background: the answer does not wait for a slow or failing endpoint.
    await eventually(async () => lines().length === 1 && received.length === 1, 'the checkpoint pushed to both sinks');
    assert.deepEqual(lines(), [line]);
    assert.deepEqual(
      received.map((b) => JSON.parse(b) as unknown),
      [line],
    );
    const again = await h.admin.post<{ created: boolean }>('/audit/checkpoints', {});
    assert.equal(again.created, false);
    // A later head is pushed after it, in order; the unchanged head was not pushed again.
    await h.admin.post('/revocations', { target: { type: 'token', jti: `tok_sink2_${kind.name}` }, reason: 'sink test' });
    const next = await h.admin.post<AuditCheckpoint>('/audit/checkpoints', {});
    await eventually(async () => lines().length === 2 && received.length === 2, 'the next checkpoint pushed');
    assert.deepEqual(
      lines().map((l) => (l as { seq: number }).seq),
      [made.seq, next.seq],
    );
  });
});

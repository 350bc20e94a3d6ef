/**
 * The outbox is durable and shared: a held SET survives a restart and is delivered after it; and two Writ nodes on one
 * PostgreSQL database, both pushing the same stream, deliver every SET exactly once and in the outbox's order (the
 * stream lease). SQLite is one node per file, so the two-node case runs on PostgreSQL only.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/observability/index.js';
import { startWritServer } from '../../src/server/index.js';
import { AdminClient } from '../../src/admin-client/index.js';
import { describeEachStore } from '../helpers/stores.js';
import { LOOPBACK_EGRESS, type Harness } from '../helpers/writ-harness.js';
import { eventually, outboxRows, pushFixture, revoke, ssfCall, type PushReceiver, type PushStream } from './ssf-helpers.js';

const SESSION_REVOKED = 'https://schemas.openid.net/secevent/caep/event-type/session-revoked';

describeEachStore('ssf durability', (kind) => {
  const fx = pushFixture(kind);
  let h: Harness;
  let push: PushReceiver;
  before(() => {
    ({ h, push } = fx);
  });
  const pushStream = (): Promise<PushStream> => fx.stream();

  test('a SET held by a paused stream survives a restart and is delivered when the stream is enabled', async () => {
    const s = await pushStream();
    await ssfCall(h, s.token, 'POST', '/ssf/v1/status', { stream_id: s.id, status: 'paused' });
    const { txn } = await revoke(h, { type: 'token', jti: 'tok_across_restart' });
    await eventually(async () => (await outboxRows(h, s.id)).some((r) => r.event_type === SESSION_REVOKED), 'the SET in the outbox');
    await h.restart();
    await ssfCall(h, s.token, 'POST', '/ssf/v1/status', { stream_id: s.id, status: 'enabled' });
    const got = await push.take((p) => p.claims.aud === s.aud && p.claims.txn === txn);
    assert.ok(SESSION_REVOKED in got.claims.events);
  });

  test(
    'two nodes on one database push each SET once, in order',
    { skip: kind.name !== 'postgres' && 'SQLite: one node per database file' },
    async () => {
      const s = await pushStream();
      const config = loadConfig({
        file: null,
        env: { WRIT_KEK: h.kek, WRIT_ADMIN_TOKEN: h.adminToken },
        overrides: {
          'server.port': 0,
          'server.publicUrl': h.writ.publicUrl,
          'log.level': 'silent',
          'audit.flushIntervalMs': 5,
          'egress.allow': LOOPBACK_EGRESS,
        },
      });
      const other = await startWritServer({ config, logger: silentLogger(), now: h.clock.now, store: h.store });
      try {
        const admins = [h.admin, new AdminClient(other.url, h.adminToken)];
        const txns: string[] = [];
        for (let i = 0; i < 12; i++) {
          const r = await (admins[i % 2] as AdminClient).post<{ seq: number }>('/revocations', {
            target: { type: 'token', jti: `tok_two_nodes_${i}` },
            reason: 'two nodes',
          });
          txns.push(`writ-revocation-${r.seq}`);
        }
        for (const txn of txns) await push.take((p) => p.claims.aud === s.aud && p.claims.txn === txn);
        const mine = push.received.filter((p) => p.claims.aud === s.aud && SESSION_REVOKED in p.claims.events);
        assert.equal(mine.length, txns.length, 'each SET pushed exactly once');
        assert.equal(new Set(mine.map((p) => p.claims.jti)).size, txns.length);
        const order = (await outboxRows(h, s.id)).filter((r) => r.event_type === SESSION_REVOKED).map((r) => r.jti);
        assert.deepEqual(
          mine.map((p) => p.claims.jti),
          order,
          'in the outbox order',
        );
        assert.ok(mine.every((p) => p.claims.iss === h.writ.publicUrl));
      } finally {
        await other.close();
      }
    },
  );
});

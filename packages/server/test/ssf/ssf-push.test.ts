/**
 * RFC 8935 push delivery end to end, on every store: a revocation made through the admin API reaches a loopback
 * receiver as a SET that verifies against Writ's JWKS (jose's remote key set, as any receiver would use it), with the
 * SSF/CAEP claims; 5xx is retried until delivered, 400 is recorded and never retried, a paused stream holds its SETs
 * and delivers them in order, a disabled one drops them, and verification and stream-updated events go out.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { AuthorizationDetail } from '@writ/protocol';
import { describeEachStore } from '../helpers/stores.js';
import type { Harness } from '../helpers/writ-harness.js';
import { eventually, outboxRows, pushFixture, revoke, ssfCall, type PushReceiver, type PushedSet, type PushStream } from './ssf-helpers.js';

const SESSION_REVOKED = 'https://schemas.openid.net/secevent/caep/event-type/session-revoked';
const STREAM_UPDATED = 'https://schemas.openid.net/secevent/ssf/event-type/stream-updated';
const VERIFICATION = 'https://schemas.openid.net/secevent/ssf/event-type/verification';
const READ: AuthorizationDetail[] = [{ type: 'http', actions: ['GET'], paths: ['/v1/projects'] }];

describeEachStore('ssf push', (kind) => {
  const fx = pushFixture(kind);
  const pushStream = (authorization?: string): Promise<PushStream> => fx.stream(authorization);
  let h: Harness;
  let push: PushReceiver;
  before(() => {
    ({ h, push } = fx);
  });
  const ofStream = (aud: string, type: string, txn?: string) => (s: PushedSet) =>
    s.claims.aud === aud && type in s.claims.events && (txn === undefined || s.claims.txn === txn);

  test('a revocation reaches the receiver as a SET that verifies with Writ’s JWKS, one per target type', async () => {
    const s = await pushStream('Bearer receiver-secret-1');
    const jwks = createRemoteJWKSet(new URL(`${h.writ.publicUrl}/.well-known/jwks.json`));
    const iss = h.writ.publicUrl;
    const agent = await h.registerAgent('agent-a');
    const task = await h.startTask(agent, { details: READ });
    const jkt = 'x'.repeat(43);
    const cases: Array<[Record<string, unknown>, Record<string, unknown>, string]> = [
      [{ type: 'token', jti: 'tok_123' }, { format: 'jwt_id', iss, jti: 'tok_123' }, 'admin'],
      [{ type: 'task', taskId: task.id }, { format: 'complex', session: { format: 'opaque', id: task.id } }, 'admin'],
      [{ type: 'agent', agentId: 'agent-a' }, { format: 'complex', application: { format: 'opaque', id: 'agent-a' } }, 'admin'],
      [{ type: 'user', userId: 'dev:alice' }, { format: 'iss_sub', iss, sub: 'dev:alice' }, 'admin'],
      [{ type: 'key', jkt }, { format: 'uri', uri: `urn:ietf:params:oauth:jwk-thumbprint:sha-256:${jkt}` }, 'admin'],
    ];
    for (const [target, subId] of cases) {
      const before = Math.floor(h.clock.now() / 1000);
      const { txn } = await revoke(h, target, `because ${String(target['type'])}`);
      const got = await push.take(ofStream(s.aud, SESSION_REVOKED, txn));
      // RFC 8935 §2: one SET per POST, with its media type, asking for JSON errors, carrying the stored Authorization.
      assert.equal(got.headers['content-type'], 'application/secevent+jwt');
      assert.equal(got.headers['accept'], 'application/json');
      assert.equal(got.headers['authorization'], 'Bearer receiver-secret-1');
      const { payload, protectedHeader } = await jwtVerify(got.body, jwks, {
        issuer: iss,
        audience: s.aud,
        typ: 'secevent+jwt',
        algorithms: ['RS256'],
      });
      assert.equal(protectedHeader.alg, 'RS256');
      assert.ok(typeof protectedHeader.kid === 'string');
      assert.equal(payload.sub, undefined, 'no sub (SSF)');
      assert.equal(payload.exp, undefined, 'no exp (SSF)');
      assert.equal(typeof payload.jti, 'string');
      assert.ok(typeof payload.iat === 'number' && payload.iat >= before - 1);
      assert.equal(payload['txn'], txn);
      assert.deepEqual(payload['sub_id'], subId, `sub_id for ${String(target['type'])}`);
      const events = payload['events'] as Record<string, Record<string, unknown>>;
      assert.deepEqual(Object.keys(events), [SESSION_REVOKED], 'exactly one event');
      const e = events[SESSION_REVOKED] as Record<string, unknown>;
      assert.equal(e['initiating_entity'], 'admin');
      assert.deepEqual(e['reason_admin'], { en: `because ${String(target['type'])}` });
      assert.ok(
        typeof e['event_timestamp'] === 'number' && e['event_timestamp'] >= before - 1 && e['event_timestamp'] <= (payload.iat ?? 0),
      );
    }
    // Everything: the tenant is Writ itself. (Last, in its own harness would be cleaner; the stream is deleted next.)
    await s.done();
    assert.ok(!JSON.stringify(await h.admin.get('/audit?type=admin.change&limit=1000')).includes('receiver-secret-1'), 'never audited');
  });

  test('every SET of one revocation shares its txn; jtis are unique', async () => {
    const a = await pushStream();
    const b = await pushStream();
    const { txn } = await revoke(h, { type: 'user', userId: 'dev:bob' });
    const [sa, sb] = await Promise.all([
      push.take(ofStream(a.aud, SESSION_REVOKED, txn)),
      push.take(ofStream(b.aud, SESSION_REVOKED, txn)),
    ]);
    assert.equal(sa.claims.txn, sb.claims.txn);
    assert.notEqual(sa.claims.jti, sb.claims.jti);
    await a.done();
    await b.done();
  });

  test('a 503 is retried (same SET) until the receiver takes it', async () => {
    const s = await pushStream();
    push.script(s.path, { status: 503 }, { status: 503 });
    const { txn } = await revoke(h, { type: 'token', jti: 'tok_retry' });
    const got = await push.take(ofStream(s.aud, SESSION_REVOKED, txn));
    const attempts = push.received.filter((p) => p.claims.jti === got.claims.jti);
    assert.deepEqual(
      attempts.map((p) => p.status),
      [503, 503, 202],
    );
    assert.ok(
      attempts.every((p) => p.body === got.body),
      'a retry sends the same bytes',
    );
    const rows = await eventually(async () => {
      const r = await outboxRows(h, s.id);
      return r[0]?.state === 'delivered' ? r : undefined;
    }, 'the outbox to record the delivery');
    assert.equal(rows[0]?.attempts, 2);
    await s.done();
  });

  test('a 400 is a permanent refusal: recorded with the receiver’s err, not retried, and later SETs still flow', async () => {
    const s = await pushStream();
    push.script(s.path, { status: 400, body: JSON.stringify({ err: 'invalid_audience', description: 'not for us' }) });
    const first = await revoke(h, { type: 'token', jti: 'tok_refused' });
    const second = await revoke(h, { type: 'token', jti: 'tok_after' });
    await push.take(ofStream(s.aud, SESSION_REVOKED, second.txn));
    const refused = push.received.filter((p) => p.claims.aud === s.aud && p.claims.txn === first.txn);
    assert.deepEqual(
      refused.map((p) => p.status),
      [400],
    );
    const rows = await outboxRows(h, s.id);
    assert.equal(rows[0]?.state, 'failed');
    assert.equal(rows[0]?.last_error, 'invalid_audience');
    assert.equal(rows[1]?.state === 'delivered' || rows[1]?.state === 'pending', true);
    await s.done();
  });

  test('paused holds SETs and delivers them later, in order; disabled drops them; stream-updated announces each change', async () => {
    const s = await pushStream();
    const setStatus = (status: string, reason?: string) =>
      ssfCall(h, s.token, 'POST', '/ssf/v1/status', { stream_id: s.id, status, ...(reason !== undefined ? { reason } : {}) });
    assert.equal((await setStatus('paused', 'maintenance')).status, 200);
    const paused = await push.take(ofStream(s.aud, STREAM_UPDATED));
    assert.deepEqual(paused.claims.events[STREAM_UPDATED], { status: 'paused', reason: 'maintenance' });
    assert.deepEqual(paused.claims.sub_id, { format: 'opaque', id: s.id });

    const one = await revoke(h, { type: 'token', jti: 'tok_held_1' });
    const two = await revoke(h, { type: 'token', jti: 'tok_held_2' });
    const held = await eventually(async () => {
      const r = (await outboxRows(h, s.id)).filter((x) => x.event_type === SESSION_REVOKED);
      return r.length === 2 ? r : undefined;
    }, 'both SETs in the outbox');
    assert.ok(
      held.every((r) => r.state === 'pending' && r.attempts === 0),
      'held, never attempted',
    );
    assert.equal(push.received.filter((p) => p.claims.aud === s.aud && SESSION_REVOKED in p.claims.events).length, 0);

    assert.equal((await setStatus('enabled')).status, 200);
    const a = await push.take(ofStream(s.aud, SESSION_REVOKED, one.txn));
    const b = await push.take(ofStream(s.aud, SESSION_REVOKED, two.txn));
    const mine = push.received.filter((p) => p.claims.aud === s.aud);
    assert.ok(mine.indexOf(a) < mine.indexOf(b), 'in the order the revocations were made');
    await push.take((p) => ofStream(s.aud, STREAM_UPDATED)(p) && p.claims.events[STREAM_UPDATED]?.['status'] === 'enabled');

    assert.equal((await setStatus('disabled', 'off')).status, 200);
    await push.take((p) => ofStream(s.aud, STREAM_UPDATED)(p) && p.claims.events[STREAM_UPDATED]?.['status'] === 'disabled');
    const dropped = await revoke(h, { type: 'token', jti: 'tok_dropped' });
    assert.equal((await setStatus('enabled')).status, 200);
    await push.take((p) => ofStream(s.aud, STREAM_UPDATED)(p) && p.claims.events[STREAM_UPDATED]?.['status'] === 'enabled');
    const later = await revoke(h, { type: 'token', jti: 'tok_later' });
    await push.take(ofStream(s.aud, SESSION_REVOKED, later.txn));
    assert.equal(push.received.filter((p) => p.claims.txn === dropped.txn && p.claims.aud === s.aud).length, 0, 'dropped while disabled');
    await s.done();
  });

  test('verification: the SET echoes the state, its subject is the stream; too soon again is 429', async () => {
    const s = await pushStream();
    const res = await ssfCall(h, s.token, 'POST', '/ssf/v1/verify', { stream_id: s.id, state: 'VGhpcyBpcyBhbiBleGFtcGxl' });
    assert.equal(res.status, 204);
    const got = await push.take(ofStream(s.aud, VERIFICATION));
    assert.deepEqual(got.claims.events, { [VERIFICATION]: { state: 'VGhpcyBpcyBhbiBleGFtcGxl' } });
    assert.deepEqual(got.claims.sub_id, { format: 'opaque', id: s.id });
    assert.equal(got.claims.iss, h.writ.publicUrl);
    assert.equal((await ssfCall(h, s.token, 'POST', '/ssf/v1/verify', { stream_id: s.id })).status, 429);
    h.clock.advance(16);
    try {
      assert.equal((await ssfCall(h, s.token, 'POST', '/ssf/v1/verify', { stream_id: s.id })).status, 204);
      const again = await push.take(ofStream(s.aud, VERIFICATION));
      assert.deepEqual(again.claims.events, { [VERIFICATION]: {} });
    } finally {
      h.clock.advance(-16);
    }
    await s.done();
  });

  test('revoking everything: the subject is the tenant, Writ’s issuer', async () => {
    const s = await pushStream();
    const { txn } = await revoke(h, { type: 'all' }, 'incident 42');
    const got = await push.take(ofStream(s.aud, SESSION_REVOKED, txn));
    assert.deepEqual(got.claims.sub_id, { format: 'complex', tenant: { format: 'uri', uri: h.writ.publicUrl } });
    assert.deepEqual(got.claims.events[SESSION_REVOKED]?.['reason_admin'], { en: 'incident 42' });
    await s.done();
  });
});

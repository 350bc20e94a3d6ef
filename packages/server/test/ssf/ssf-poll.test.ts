/**
 * RFC 8936 poll delivery, on every store: SETs are returned until acknowledged and never after; `setErrs` settle a
 * SET too; `maxEvents: 0` only acknowledges; a long poll is answered as soon as a revocation is made; only the
 * stream's receiver may poll it, and a push stream cannot be polled.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { describeEachStore } from '../helpers/stores.js';
import { useHarness } from '../helpers/writ-harness.js';
import { createReceiver, decodeSet, eventually, outboxRows, revoke, ssfCall } from './ssf-helpers.js';

const SESSION_REVOKED = 'https://schemas.openid.net/secevent/caep/event-type/session-revoked';

interface PollAnswer {
  sets: Record<string, string>;
  moreAvailable: boolean;
}

describeEachStore('ssf poll', (kind) => {
  // Long enough that a long poll answered at all was answered because of the revocation, not its bound.
  const h = useHarness(kind, { config: { 'ssf.pollMaxWaitSeconds': 120 } });

  async function pollStream(): Promise<{ id: string; token: string; aud: string; url: string; done(): Promise<void> }> {
    const r = await createReceiver(h);
    const res = await ssfCall(h, r.token, 'POST', '/ssf/v1/streams', {});
    const config = res.json<{ stream_id: string; delivery: { endpoint_url: string } }>();
    return {
      id: config.stream_id,
      token: r.token,
      aud: r.audience,
      url: config.delivery.endpoint_url,
      done: () => h.admin.delete(`/ssf/receivers/${r.id}`),
    };
  }
  const poll = async (s: { token: string; url: string }, body: Record<string, unknown>): Promise<PollAnswer> => {
    const res = await ssfCall(h, s.token, 'POST', new URL(s.url).pathname, body);
    assert.equal(res.status, 200, res.text);
    return res.json<PollAnswer>();
  };

  test('poll returns SETs until they are acknowledged, then never again', async () => {
    const s = await pollStream();
    assert.ok(s.url.startsWith(`${h.writ.publicUrl}/ssf/v1/poll/`), 'the endpoint is Writ’s own, per stream');
    const one = await revoke(h, { type: 'token', jti: 'tok_poll_1' }, 'poll one');
    const two = await revoke(h, { type: 'token', jti: 'tok_poll_2' }, 'poll two');
    await eventually(async () => (await outboxRows(h, s.id)).length === 2, 'both SETs in the outbox');

    const first = await poll(s, { maxEvents: 1, returnImmediately: true });
    assert.equal(Object.keys(first.sets).length, 1);
    assert.equal(first.moreAvailable, true);
    const [jti1, set1] = Object.entries(first.sets)[0] as [string, string];
    const jwks = createRemoteJWKSet(new URL(`${h.writ.publicUrl}/.well-known/jwks.json`));
    const { payload } = await jwtVerify(set1, jwks, { issuer: h.writ.publicUrl, audience: s.aud, typ: 'secevent+jwt' });
    assert.equal(payload.jti, jti1);
    assert.equal(payload['txn'], one.txn, 'oldest first');
    assert.ok(SESSION_REVOKED in (payload['events'] as object));

    // Not acknowledged: returned again, with the next one.
    const again = await poll(s, { returnImmediately: true });
    assert.deepEqual(Object.keys(again.sets).sort(), [jti1, ...Object.keys(again.sets).filter((j) => j !== jti1)].sort());
    assert.equal(Object.keys(again.sets).length, 2);
    assert.equal(again.sets[jti1], set1, 'the same SET, byte for byte');
    assert.equal(again.moreAvailable, false);
    const jti2 = Object.keys(again.sets).find((j) => j !== jti1) as string;
    assert.equal(decodeSet(again.sets[jti2] as string).claims.txn, two.txn);

    // Ack the first; the second is still there.
    const afterAck = await poll(s, { ack: [jti1], returnImmediately: true });
    assert.deepEqual(Object.keys(afterAck.sets), [jti2]);
    // maxEvents 0: acknowledge only.
    const ackOnly = await poll(s, { ack: [jti2], maxEvents: 0 });
    assert.deepEqual(ackOnly, { sets: {}, moreAvailable: false });
    assert.deepEqual(await poll(s, { returnImmediately: true }), { sets: {}, moreAvailable: false });
    // Acknowledging again, or a jti that is not this stream's, changes nothing.
    assert.deepEqual(await poll(s, { ack: [jti1, 'not-a-jti'], returnImmediately: true }), { sets: {}, moreAvailable: false });
    await s.done();
  });

  test('setErrs settle a SET as refused, with the receiver’s error recorded', async () => {
    const s = await pollStream();
    await revoke(h, { type: 'user', userId: 'dev:carol' });
    const got = await eventually(async () => {
      const p = await poll(s, { returnImmediately: true });
      return Object.keys(p.sets).length === 1 ? p : undefined;
    }, 'the SET');
    const jti = Object.keys(got.sets)[0] as string;
    await poll(s, { setErrs: { [jti]: { err: 'invalid_key', description: 'unknown kid' } }, maxEvents: 0 });
    assert.deepEqual(await poll(s, { returnImmediately: true }), { sets: {}, moreAvailable: false });
    const [row] = await outboxRows(h, s.id);
    assert.equal(row?.state, 'failed');
    assert.deepEqual(JSON.parse(row?.last_error ?? '{}'), { err: 'invalid_key', description: 'unknown kid' });
    await s.done();
  });

  test('a long poll is answered as soon as a revocation is made', async () => {
    const s = await pollStream();
    const waiting = poll(s, { returnImmediately: false });
    const { txn } = await revoke(h, { type: 'token', jti: 'tok_long_poll' });
    const answer = await waiting;
    const sets = Object.values(answer.sets);
    assert.equal(sets.length, 1);
    assert.equal(decodeSet(sets[0] as string).claims.txn, txn);
    await s.done();
  });

  test('only its receiver may poll a stream; a push stream cannot be polled; polling needs a bearer token', async () => {
    const s = await pollStream();
    const other = await createReceiver(h);
    const path = new URL(s.url).pathname;
    assert.equal((await ssfCall(h, other.token, 'POST', path, { returnImmediately: true })).status, 404);
    const anonymous = await ssfCall(h, undefined, 'POST', path, { returnImmediately: true });
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Bearer /);
    const pushed = await ssfCall(h, s.token, 'POST', '/ssf/v1/streams', {
      delivery: { method: 'urn:ietf:rfc:8935', endpoint_url: 'http://127.0.0.1:9/never' },
    });
    const pushId = pushed.json()['stream_id'] as string;
    const refused = await ssfCall(h, s.token, 'POST', `/ssf/v1/poll/${pushId}`, { returnImmediately: true });
    assert.equal(refused.status, 400);
    assert.equal(refused.json()['error'], 'invalid_request');
    await s.done();
    await h.admin.delete(`/ssf/receivers/${other.id}`);
  });
});

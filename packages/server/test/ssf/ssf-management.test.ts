/**
 * The transmitter's discovery document, receiver credentials (RFC 6750 errors and challenges, scopes, one receiver
 * never sees another's streams) and the stream management API of SSF §8.1, on every store.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeEachStore } from '../helpers/stores.js';
import { useHarness } from '../helpers/writ-harness.js';
import { createReceiver, ssfCall } from './ssf-helpers.js';

const SESSION_REVOKED = 'https://schemas.openid.net/secevent/caep/event-type/session-revoked';
const PUSH = 'urn:ietf:rfc:8935';
const POLL = 'urn:ietf:rfc:8936';

describeEachStore('ssf management', (kind) => {
  const h = useHarness(kind);

  test('the discovery document names every endpoint under the issuer', async () => {
    const res = await fetch(`${h.writ.url}/.well-known/ssf-configuration`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    const d = (await res.json()) as Record<string, unknown>;
    const iss = h.writ.publicUrl;
    assert.deepEqual(d, {
      spec_version: '1_0',
      issuer: iss,
      jwks_uri: `${iss}/.well-known/jwks.json`,
      delivery_methods_supported: [PUSH, POLL],
      configuration_endpoint: `${iss}/ssf/v1/streams`,
      status_endpoint: `${iss}/ssf/v1/status`,
      add_subject_endpoint: `${iss}/ssf/v1/subjects/add`,
      remove_subject_endpoint: `${iss}/ssf/v1/subjects/remove`,
      verification_endpoint: `${iss}/ssf/v1/verify`,
      critical_subject_members: ['session', 'application', 'tenant'],
      authorization_schemes: [{ spec_urn: 'urn:ietf:rfc:6749' }],
      default_subjects: 'ALL',
    });
    // The SET key is published beside the token keys: RS256, at least 2048 bits.
    const jwks = (await (await fetch(d['jwks_uri'])).json()) as { keys: Array<Record<string, string>> };
    const setKey = jwks.keys.find((k) => k['kid']?.startsWith('set-'));
    assert.ok(setKey !== undefined, 'the SET key is in the JWKS');
    assert.equal(setKey['alg'], 'RS256');
    assert.equal(setKey['use'], 'sig');
    assert.equal(setKey['kty'], 'RSA');
    assert.ok(Buffer.from(setKey['n'] ?? '', 'base64url').length >= 256);
    assert.equal(setKey['d'], undefined, 'no private member');
  });

  test('receiver tokens are shown once, stored hashed, listed and deleted by the admin API', async () => {
    const r = await createReceiver(h, { name: 'siem', audience: 'https://siem.example' });
    assert.match(r.token, /^writ_ssf_[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(r.scopes, ['ssf.manage', 'ssf.read']);
    const list = await h.admin.get<Array<Record<string, unknown>>>('/ssf/receivers');
    const listed = list.find((x) => x['id'] === r.id);
    assert.ok(listed !== undefined);
    assert.equal(listed['token'], undefined);
    assert.ok(!JSON.stringify(list).includes(r.token));
    const stored = await h.store.db.selectFrom('ssf_receivers').selectAll().where('id', '=', r.id).executeTakeFirstOrThrow();
    assert.ok(!JSON.stringify(stored).includes(r.token), 'only a digest is stored');
    await assert.rejects(h.admin.post('/ssf/receivers', { name: 'x', audience: 'a', scopes: ['ssf.admin'] }), /scopes/);
    const openapi = (await (await fetch(`${h.writ.url}/admin/v1/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    assert.ok(openapi.paths['/admin/v1/ssf/receivers']?.['post'] !== undefined);
    assert.ok(openapi.paths['/admin/v1/ssf/receivers/{id}']?.['delete'] !== undefined);
    await h.admin.delete(`/ssf/receivers/${r.id}`);
    assert.equal((await ssfCall(h, r.token, 'GET', '/ssf/v1/streams')).status, 401, 'a deleted receiver is unknown');
    await assert.rejects(h.admin.delete(`/ssf/receivers/${r.id}`), /no SSF receiver/);
  });

  test('missing, invalid and query tokens are 401; a missing scope is 403 insufficient_scope', async () => {
    const missing = await ssfCall(h, undefined, 'GET', '/ssf/v1/streams');
    assert.equal(missing.status, 401);
    assert.equal(missing.headers.get('www-authenticate'), 'Bearer realm="writ-ssf"');
    assert.equal(missing.json()['error'], 'invalid_token');

    const invalid = await ssfCall(h, 'writ_ssf_not-a-real-token-at-all-000000000000000', 'GET', '/ssf/v1/streams');
    assert.equal(invalid.status, 401);
    assert.match(invalid.headers.get('www-authenticate') ?? '', /^Bearer realm="writ-ssf", error="invalid_token"/);
    assert.equal(invalid.json()['error'], 'invalid_token');

    const r = await createReceiver(h, { scopes: ['ssf.read'] });
    // RFC 6750 §2.3 query tokens are not accepted (CAEP interoperability profile: header only).
    const query = await ssfCall(h, undefined, 'GET', `/ssf/v1/streams?access_token=${r.token}`);
    assert.equal(query.status, 401);
    const twice = await fetch(`${h.writ.url}/ssf/v1/streams`, {
      headers: [
        ['authorization', `Bearer ${r.token}`],
        ['authorization', `Bearer ${r.token}`],
      ],
    });
    assert.ok(twice.status === 400 || twice.status === 401, `two Authorization headers: ${twice.status}`);

    assert.equal((await ssfCall(h, r.token, 'GET', '/ssf/v1/streams')).status, 200, 'ssf.read may read');
    const denied = await ssfCall(h, r.token, 'POST', '/ssf/v1/streams', {});
    assert.equal(denied.status, 403);
    assert.equal(denied.json()['error'], 'insufficient_scope');
    assert.match(denied.headers.get('www-authenticate') ?? '', /error="insufficient_scope".*scope="ssf\.manage"/);
    assert.equal((await ssfCall(h, r.token, 'GET', '/ssf/v1/streams')).json<unknown[]>().length, 0, 'nothing was created');
  });

  test('streams: create, read, list, PATCH, PUT, status, subjects, DELETE', async () => {
    const r = await createReceiver(h, { audience: 'https://rp.example/caep' });
    const created = await ssfCall(h, r.token, 'POST', '/ssf/v1/streams', {
      events_requested: [SESSION_REVOKED, 'https://example.com/unknown'],
      description: 'mine',
    });
    assert.equal(created.status, 201);
    const s = created.json<Record<string, unknown>>();
    const id = s['stream_id'] as string;
    assert.deepEqual(s, {
      stream_id: id,
      iss: h.writ.publicUrl,
      aud: 'https://rp.example/caep',
      events_supported: [SESSION_REVOKED, 'urn:writ:ssf:event-type:tool-revoked', 'urn:writ:ssf:event-type:tool-restored'],
      events_requested: [SESSION_REVOKED, 'https://example.com/unknown'],
      events_delivered: [SESSION_REVOKED],
      delivery: { method: POLL, endpoint_url: `${h.writ.publicUrl}/ssf/v1/poll/${id}` },
      min_verification_interval: 15,
      description: 'mine',
    });
    assert.deepEqual((await ssfCall(h, r.token, 'GET', `/ssf/v1/streams?stream_id=${id}`)).json(), s);
    assert.deepEqual((await ssfCall(h, r.token, 'GET', '/ssf/v1/streams')).json(), [s]);

    const patched = await ssfCall(h, r.token, 'PATCH', '/ssf/v1/streams', {
      stream_id: id,
      delivery: { method: PUSH, endpoint_url: 'https://rp.example/push', authorization_header: 'Bearer push-secret-123' },
    });
    assert.equal(patched.status, 200);
    assert.deepEqual(patched.json()['delivery'], { method: PUSH, endpoint_url: 'https://rp.example/push' });
    assert.equal(patched.json()['description'], 'mine', 'PATCH keeps what it does not name');
    assert.ok(!patched.text.includes('push-secret-123'), 'the authorization header is never returned');
    const row = await h.store.db.selectFrom('ssf_streams').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    assert.ok(row.authorization_envelope !== null && !row.authorization_envelope.includes('push-secret'), 'sealed at rest');

    // A read-modify-write PUT: transmitter-supplied members are accepted and ignored.
    const put = await ssfCall(h, r.token, 'PUT', '/ssf/v1/streams', { ...s, events_requested: [] });
    assert.equal(put.status, 200);
    assert.deepEqual(put.json()['events_delivered'], []);
    assert.equal(put.json()['description'], 'mine');
    assert.equal(put.json<{ delivery: { method: string } }>().delivery.method, POLL, 'PUT replaces the delivery');

    const status = await ssfCall(h, r.token, 'GET', `/ssf/v1/status?stream_id=${id}`);
    assert.deepEqual(status.json(), { stream_id: id, status: 'enabled' });
    const paused = await ssfCall(h, r.token, 'POST', '/ssf/v1/status', { stream_id: id, status: 'paused', reason: 'maintenance' });
    assert.deepEqual(paused.json(), { stream_id: id, status: 'paused', reason: 'maintenance' });
    assert.deepEqual((await ssfCall(h, r.token, 'GET', `/ssf/v1/status?stream_id=${id}`)).json(), {
      stream_id: id,
      status: 'paused',
      reason: 'maintenance',
    });

    const subject = { format: 'email', email: 'alice@example.com' };
    assert.equal((await ssfCall(h, r.token, 'POST', '/ssf/v1/subjects/add', { stream_id: id, subject, verified: true })).status, 200);
    assert.equal((await ssfCall(h, r.token, 'POST', '/ssf/v1/subjects/remove', { stream_id: id, subject })).status, 204);
    assert.equal((await ssfCall(h, r.token, 'POST', '/ssf/v1/subjects/remove', { stream_id: id, subject })).status, 404);

    assert.equal((await ssfCall(h, r.token, 'DELETE', `/ssf/v1/streams?stream_id=${id}`)).status, 204);
    assert.equal((await ssfCall(h, r.token, 'GET', `/ssf/v1/streams?stream_id=${id}`)).status, 404);
  });

  test('another receiver cannot see, change, poll or delete a stream: 404, as if it did not exist', async () => {
    const a = await createReceiver(h);
    const b = await createReceiver(h);
    const id = (await ssfCall(h, a.token, 'POST', '/ssf/v1/streams', {})).json()['stream_id'] as string;
    for (const [method, path, body] of [
      ['GET', `/ssf/v1/streams?stream_id=${id}`, undefined],
      ['PATCH', '/ssf/v1/streams', { stream_id: id, description: 'hijacked' }],
      ['PUT', '/ssf/v1/streams', { stream_id: id }],
      ['DELETE', `/ssf/v1/streams?stream_id=${id}`, undefined],
      ['GET', `/ssf/v1/status?stream_id=${id}`, undefined],
      ['POST', '/ssf/v1/status', { stream_id: id, status: 'disabled' }],
      ['POST', '/ssf/v1/subjects/add', { stream_id: id, subject: { format: 'opaque', id: 'x' } }],
      ['POST', '/ssf/v1/verify', { stream_id: id }],
      ['POST', `/ssf/v1/poll/${id}`, { returnImmediately: true }],
    ] as const) {
      const res = await ssfCall(h, b.token, method, path, body);
      assert.equal(res.status, 404, `${method} ${path}: ${res.status} ${res.text}`);
    }
    assert.deepEqual((await ssfCall(h, b.token, 'GET', '/ssf/v1/streams')).json(), []);
    const still = (await ssfCall(h, a.token, 'GET', `/ssf/v1/streams?stream_id=${id}`)).json();
    assert.equal(still['description'], undefined);
    assert.deepEqual((await ssfCall(h, a.token, 'GET', `/ssf/v1/status?stream_id=${id}`)).json()['status'], 'enabled');
  });

  test('bad input is a 400 with a clear error and changes nothing', async () => {
    const r = await createReceiver(h);
    const id = (await ssfCall(h, r.token, 'POST', '/ssf/v1/streams', { description: 'before' })).json()['stream_id'] as string;
    const before = (await ssfCall(h, r.token, 'GET', `/ssf/v1/streams?stream_id=${id}`)).text;
    const bad: Array<[string, string, unknown]> = [
      ['POST', '/ssf/v1/streams', { delivery: { method: PUSH } }],
      ['POST', '/ssf/v1/streams', { delivery: { method: PUSH, endpoint_url: 'ftp://rp.example/x' } }],
      ['POST', '/ssf/v1/streams', { delivery: { method: PUSH, endpoint_url: 'https://user:pw@rp.example/x' } }],
      [
        'POST',
        '/ssf/v1/streams',
        { delivery: { method: PUSH, endpoint_url: 'https://rp.example/x', authorization_header: 'a\r\nX-Evil: 1' } },
      ],
      ['POST', '/ssf/v1/streams', { delivery: { method: 'urn:example:carrier-pigeon' } }],
      ['POST', '/ssf/v1/streams', { events_requested: 'not-an-array' }],
      ['POST', '/ssf/v1/streams', { surprise: true }],
      ['POST', '/ssf/v1/streams', '{not json'],
      ['PATCH', '/ssf/v1/streams', { description: 'no stream id' }],
      ['PATCH', '/ssf/v1/streams', { stream_id: id, description: 'x', delivery: { method: PUSH, endpoint_url: 'javascript:alert(1)' } }],
      ['POST', '/ssf/v1/status', { stream_id: id, status: 'asleep' }],
      ['POST', '/ssf/v1/subjects/add', { stream_id: id, subject: { format: 'email' } }],
      ['POST', '/ssf/v1/subjects/add', { stream_id: id, subject: { format: 'complex' } }],
      ['POST', '/ssf/v1/verify', { stream_id: id, state: 42 }],
      ['POST', `/ssf/v1/poll/${id}`, { maxEvents: -1 }],
      ['POST', `/ssf/v1/poll/${id}`, { ack: 'jti' }],
    ];
    for (const [method, path, body] of bad) {
      const res = await ssfCall(h, r.token, method, path, body);
      assert.equal(res.status, 400, `${method} ${path} ${JSON.stringify(body)}: ${res.status} ${res.text}`);
      assert.equal(res.json()['error'], 'invalid_request');
      assert.ok(typeof res.json()['error_description'] === 'string' && (res.json()['error_description'] as string).length > 0);
    }
    assert.equal((await ssfCall(h, r.token, 'GET', `/ssf/v1/streams?stream_id=${id}`)).text, before);
    assert.equal((await ssfCall(h, r.token, 'GET', '/ssf/v1/streams')).json<unknown[]>().length, 1, 'no stream was created');
    assert.deepEqual((await ssfCall(h, r.token, 'GET', `/ssf/v1/status?stream_id=${id}`)).json()['status'], 'enabled');
  });
});

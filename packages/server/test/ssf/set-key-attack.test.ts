/**
 * Key separation, as an attack: the SET signing key and the audit checkpoint key are published in Writ's JWKS, but
 * neither is a token key. An `at+jwt` signed with one — every claim otherwise valid, the DPoP proof correct — is refused by the gateway's per-call
 * check, whose key resolver (`SigningKeys.get`) does not know the SET key; and a real SET presented as an access
 * token is refused too.
 */
import assert from 'node:assert/strict';
import { createPrivateKey, sign, type JsonWebKey } from 'node:crypto';
import { test } from 'node:test';
import { createDpopProof } from '@writ/agent';
import type { AuthorizationDetail } from '@writ/protocol';
import { KeyEncryptionKey, openEnvelope } from '../../src/crypto/index.js';
import { describeEachStore } from '../helpers/stores.js';
import { useHarness } from '../helpers/writ-harness.js';
import { rawRequest } from '../helpers/raw-request.js';
import { createReceiver, eventually, revoke, ssfCall } from './ssf-helpers.js';

const READ: AuthorizationDetail[] = [{ type: 'http', actions: ['GET'], paths: ['/v1/projects'] }];

describeEachStore('ssf SET key is not a token key', (kind) => {
  const h = useHarness(kind);
  let registered: Awaited<ReturnType<typeof h.registerAgent>> | undefined;

  for (const { purpose, name, sealedAs, alg } of [
    { purpose: 'set', name: 'the SET key', sealedAs: 'ssf-key', alg: 'RS256' },
    { purpose: 'audit-checkpoint', name: 'the audit checkpoint key', sealedAs: 'audit-key', alg: 'ES256' },
  ] as const)
    test(`an at+jwt signed with ${name} is refused at the gateway (unknown kid), though the key is in the JWKS`, async () => {
      // The default grant permits agent-a only: both cases use it.
      const agent = (registered ??= await h.registerAgent('agent-a'));
      const task = await h.startTask(agent, { details: READ });
      const path = '/r/api/v1/projects';
      const call = async (token: string) =>
        rawRequest(h.writ.url, {
          method: 'GET',
          path,
          headers: [
            ['authorization', `DPoP ${token}`],
            ['dpop', await createDpopProof(agent.dpopKey, { htm: 'GET', htu: `${h.writ.publicUrl}${path}`, accessToken: token })],
          ],
        });
      assert.equal((await call(task.token)).status, 200, 'the real token works');

      const row = await h.store.db.selectFrom('dedicated_keys').selectAll().where('purpose', '=', purpose).executeTakeFirstOrThrow();
      const jwks = (await (await fetch(`${h.writ.url}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> };
      assert.ok(
        jwks.keys.some((k) => k.kid === row.kid),
        `${name} is published`,
      );
      const kek = KeyEncryptionKey.fromBase64('kek-1', h.kek);
      const setKey = createPrivateKey({
        key: JSON.parse(openEnvelope(kek, row.private_envelope, `${sealedAs}:${row.kid}`).toString()) as JsonWebKey,
        format: 'jwk',
      });
      const claims = JSON.parse(Buffer.from(task.token.split('.')[1] as string, 'base64url').toString()) as Record<string, unknown>;
      const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
      const jws = (header: Record<string, unknown>, body: Record<string, unknown>): string => {
        const input = `${b64(header)}.${b64(body)}`;
        return `${input}.${sign('sha256', Buffer.from(input), alg === 'ES256' ? { key: setKey, dsaEncoding: 'ieee-p1363' } : setKey).toString('base64url')}`;
      };
      const n = h.upstream.requests.length;
      const forged = jws({ alg, typ: 'at+jwt', kid: row.kid }, { ...claims, jti: `forged-with-${purpose}-key` });
      const res = await call(forged);
      assert.equal(res.status, 401, res.body);
      assert.equal((res.json() as { code: string }).code, 'ERR_TOKEN_KID_UNKNOWN');
      assert.match(String(res.headers['www-authenticate']), /invalid_token/);
      assert.equal(h.upstream.requests.length, n, 'nothing reached the upstream');

      // Naming a token key's kid while signing with the SET key fails the signature check instead.
      const tokenKid = (JSON.parse(Buffer.from(task.token.split('.')[0] as string, 'base64url').toString()) as { kid: string }).kid;
      const swapped = await call(jws({ alg, typ: 'at+jwt', kid: tokenKid }, claims));
      assert.equal(swapped.status, 401);
      assert.ok(['ERR_TOKEN_ALG', 'ERR_TOKEN_SIGNATURE'].includes((swapped.json() as { code: string }).code), swapped.body);
      assert.equal(h.upstream.requests.length, n);
    });

  test('a real SET presented as an access token is refused', async () => {
    const agent = await h.registerAgent('agent-b');
    const r = await createReceiver(h);
    const s = (await ssfCall(h, r.token, 'POST', '/ssf/v1/streams', {})).json()['stream_id'] as string;
    await revoke(h, { type: 'token', jti: 'tok_for_a_set' });
    const set = await eventually(async () => {
      const p = await ssfCall(h, r.token, 'POST', `/ssf/v1/poll/${s}`, { returnImmediately: true });
      return Object.values(p.json<{ sets: Record<string, string> }>().sets)[0];
    }, 'a SET');
    const path = '/r/api/v1/projects';
    const res = await rawRequest(h.writ.url, {
      method: 'GET',
      path,
      headers: [
        ['authorization', `DPoP ${set}`],
        ['dpop', await createDpopProof(agent.dpopKey, { htm: 'GET', htu: `${h.writ.publicUrl}${path}`, accessToken: set })],
      ],
    });
    assert.equal(res.status, 401);
    assert.ok(['ERR_TOKEN_TYPE', 'ERR_TOKEN_KID_UNKNOWN'].includes((res.json() as { code: string }).code), res.body);
  });
});

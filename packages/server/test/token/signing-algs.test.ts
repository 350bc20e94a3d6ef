/** Task tokens signed with EdDSA or RS256 instead of the ES256 default work end to end and verify with jose. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { STORE_KINDS } from '../helpers/stores.js';
import { startHarness } from '../helpers/writ-harness.js';

for (const alg of ['EdDSA', 'RS256'] as const) {
  test(`tokens.signingAlg ${alg}: issued, published, enforced`, async () => {
    const h = await startHarness(STORE_KINDS[0] as (typeof STORE_KINDS)[number], { config: { 'tokens.signingAlg': alg } });
    try {
      const agent = await h.registerAgent('agent-a');
      const task = await h.startTask(agent, { details: [{ type: 'http', actions: ['GET'], paths: ['/v1/*'] }] });
      assert.equal(decodeProtectedHeader(task.token).alg, alg);
      await jwtVerify(task.token, createRemoteJWKSet(new URL(`${h.writ.url}/.well-known/jwks.json`)), {
        issuer: h.writ.publicUrl,
        typ: 'at+jwt',
        algorithms: [alg],
      });
      assert.equal((await task.fetch(`${h.resourceUri('api')}/v1/projects`)).status, 200);
    } finally {
      await h.close();
    }
  });
}

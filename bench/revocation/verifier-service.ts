/**
 * A service that verifies Writ task tokens itself: Fastify with `@writ/verify/fastify`, `createWritVerifier` following
 * the Writ node's revocation feed (`GET /revocation/v1/events`, admin token for now) and fetching its JWKS. One route,
 * `GET /v1/projects`, answered 200 once the call has passed every check. Ready once the verifier is (keys loaded and
 * the feed's first catch-up done).
 */
import Fastify from 'fastify';
import { createWritVerifier } from '@writ/verify';
import { writFastify } from '@writ/verify/fastify';
import { freePort } from '../lib/free-port.js';
import { serveChild } from './child-process.js';

export interface VerifierSetup {
  issuer: string;
  audience: string;
  feedToken: string;
}

serveChild<VerifierSetup, { url: string }>(async (setup) => {
  const verifier = createWritVerifier({ issuer: setup.issuer, audience: setup.audience, feedToken: setup.feedToken });
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const app = Fastify({ logger: false, keepAliveTimeout: 60_000 });
  await app.register(writFastify, { verifier, publicUrl: url });
  app.get('/v1/projects', async () => ({ projects: [{ id: '1', name: 'apollo' }] }));
  await app.listen({ port, host: '127.0.0.1' });
  await verifier.whenReady();
  return {
    ready: { url },
    close: async () => {
      await verifier.close();
      await app.close();
    },
  };
});

/**
 * A service that verifies Writ task tokens itself: Fastify with `@writ/verify/fastify`, `createWritVerifier` following
 * the Writ node's revocation feed (`GET /revocation/v1/events`, admin token for now) and fetching its JWKS. One route,
 * `GET /v1/projects`, answered 200 once the call has passed every check. Ready once the verifier is (keys loaded and
 * the feed's first catch-up done).
 */
import Fastify from 'fastify';
import { createWritVerifier } from '@writ/verify';
import { writFastify } from '@writ/verify/fastify';
import { freePort } from '@writ/dev/kit';
import { serveChild } from './child-process.js';

export interface VerifierSetup {
  issuer: string;
  audience: string;
  feedToken: string;
  /** Fail (rather than wait forever) when the verifier is not ready by then, ms. */
  readyTimeoutMs: number;
}

export interface VerifierReady {
  url: string;
  /** From listening until the verifier was ready: JWKS loaded and the revocation feed's catch-up done. */
  readyMs: number;
}

serveChild<VerifierSetup, VerifierReady>(async (setup) => {
  const verifier = createWritVerifier({ issuer: setup.issuer, audience: setup.audience, feedToken: setup.feedToken });
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const app = Fastify({ logger: false, keepAliveTimeout: 60_000 });
  await app.register(writFastify, { verifier, publicUrl: url });
  app.get('/v1/projects', async () => ({ projects: [{ id: '1', name: 'apollo' }] }));
  await app.listen({ port, host: '127.0.0.1' });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t0 = performance.now();
  try {
    await Promise.race([
      verifier.whenReady(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`verifier not ready within ${setup.readyTimeoutMs} ms`)), setup.readyTimeoutMs);
      }),
    ]);
  } catch (err) {
    await verifier.close();
    await app.close();
    throw err;
  } finally {
    clearTimeout(timer);
  }
  const readyMs = performance.now() - t0;
  return {
    ready: { url, readyMs },
    close: async () => {
      await verifier.close();
      await app.close();
    },
  };
});

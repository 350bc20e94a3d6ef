/**
 * bench/token-exchange — token exchanges per second (RFC 8693 with private_key_jwt and DPoP, through Writ's whole
 * issuance path: client assertion, proof, user token, Cedar grants, task and token rows, signing, audit) next to the
 * ceiling measured in the same run: raw `jose` ES256 sign-and-verify, one at a time.
 *
 *   npm run bench:token-exchange [-- --seconds 10 --concurrency 8]
 */
import { fork } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createHistogram } from 'node:perf_hooks';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import { TOKEN_TYPE } from '@writ/protocol';
import { exchangeToken, generateDpopKey } from '@writ/agent';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? dflt : Number(process.argv[i + 1]);
};
const SECONDS = arg('seconds', 10);
const CONCURRENCY = arg('concurrency', 8);

async function ceiling(ms: number): Promise<number> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const end = performance.now() + ms;
  let n = 0;
  while (performance.now() < end) {
    const t = await new SignJWT({ sub: 'alice', n })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt' })
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(privateKey);
    await jwtVerify(t, publicKey);
    n++;
  }
  return n / (ms / 1000);
}

async function main(): Promise<void> {
  const upstream = createServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const client = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(client.publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  // The soak's Writ process: the real server on SQLite, a dev identity provider, one agent with a grant.
  const child = fork(fileURLToPath(new URL('../soak/writ-node.js', import.meta.url)), [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  child.send({
    setup: { upstream: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`, agentJwk: { ...jwk, kid, alg: 'ES256' } },
  });
  const ready = await new Promise<{ url: string; idToken: string }>((resolve) =>
    child.once('message', (m: { ready: { url: string; idToken: string } }) => resolve(m.ready)),
  );
  const dpopKey = await generateDpopKey();
  const once = (): Promise<unknown> =>
    exchangeToken({
      issuer: ready.url,
      clientId: 'soak-agent',
      clientKey: client.privateKey,
      clientKid: kid,
      dpopKey,
      subjectToken: ready.idToken,
      subjectTokenType: TOKEN_TYPE.idToken,
      resource: `${ready.url}/r/api`,
      authorizationDetails: [{ type: 'http', actions: ['GET'], paths: ['/v1/**'] }],
      purpose: 'bench',
    });
  for (let i = 0; i < 200; i++) await once();
  const ceilingBefore = await ceiling(3000);
  const hist = createHistogram();
  let done = 0;
  const end = performance.now() + SECONDS * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < end) {
        const t0 = process.hrtime.bigint();
        await once();
        hist.record(Number(process.hrtime.bigint() - t0));
        done++;
      }
    }),
  );
  const rate = done / ((performance.now() - started) / 1000);
  const ceilingAfter = await ceiling(3000);
  const ceil = (ceilingBefore + ceilingAfter) / 2;
  child.send({ exit: true });
  upstream.close();
  console.log(`bench/token-exchange — node ${process.version}, ${CONCURRENCY} concurrent clients, ${SECONDS}s`);
  console.log('| what | per second | p50 ms | p99 ms |\n|---|---|---|---|');
  console.log(`| raw jose ES256 sign + verify (ceiling, mean of before/after) | ${ceil.toFixed(0)} | — | — |`);
  console.log(
    `| Writ token exchange with DPoP (client and server on this machine) | ${rate.toFixed(0)} | ${(hist.percentile(50) / 1e6).toFixed(2)} | ${(hist.percentile(99) / 1e6).toFixed(2)} |`,
  );
  console.log(`ratio: ${((rate / ceil) * 100).toFixed(1)}% of the ceiling (aim ≥ 40%)`);
  setTimeout(() => process.exit(0), 500).unref();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

/**
 * bench/token-exchange — token exchanges per second (RFC 8693 with private_key_jwt and DPoP, through Writ's whole
 * issuance path: client assertion, proof, user token, Cedar grants, task and token rows, signing, audit) next to the
 * ceiling measured in the same run: raw `jose` ES256 sign-and-verify, one at a time.
 *
 * The clients sign a fresh assertion and a fresh proof per exchange inside the timed window, with raw node:crypto
 * (lean-client.ts); `--client sdk` uses the agent SDK (jose + fetch) instead. Writ's own CPU time per exchange (the
 * Writ process, all its threads) is reported too: it does not depend on how much CPU the clients take.
 *
 * With `--postgres <server URL>`, the Writ process runs on a scratch PostgreSQL database of its own (created and
 * dropped by the run) instead of SQLite.
 *
 *   npm run bench:token-exchange [-- --seconds 10 --concurrency 8 --client lean|sdk --postgres postgres://…]
 */
import { fork } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createHistogram } from 'node:perf_hooks';
import { createHash, generateKeyPairSync, randomBytes, type JsonWebKey } from 'node:crypto';
import { calculateJwkThumbprint, generateKeyPair, importJWK, jwtVerify, SignJWT, type CryptoKey, type JWK } from 'jose';
import { PATHS, TOKEN_TYPE } from '@writ/protocol';
import { exchangeToken, type DpopKey } from '@writ/agent';
import { authorizeAs } from '@writ/dev/kit';
import { leanExchanger, leanRefresher } from './lean-client.js';
import { createScratchDatabase, scratchPrefix, type ScratchDatabase } from '../lib/scratch-database.js';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? dflt : Number(process.argv[i + 1]);
};
const SECONDS = arg('seconds', 10);
const CONCURRENCY = arg('concurrency', 8);
const CLIENT = process.argv.includes('sdk') ? 'sdk' : 'lean';
const POSTGRES = ((): string | undefined => {
  const i = process.argv.indexOf('--postgres');
  return i === -1 ? undefined : process.argv[i + 1];
})();

function es256Jwks(): { privateJwk: JsonWebKey; publicJwk: JWK } {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const privateJwk = privateKey.export({ format: 'jwk' });
  const { kty, crv, x, y } = privateJwk;
  return { privateJwk, publicJwk: { kty, crv, x, y } as JWK };
}

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
  const client = es256Jwks();
  const jwk = client.publicJwk;
  const kid = await calculateJwkThumbprint(jwk);
  const database: ScratchDatabase | undefined =
    POSTGRES !== undefined ? await createScratchDatabase(POSTGRES, `${scratchPrefix()}_token`) : undefined;
  // The soak's Writ process: the real server on SQLite, a dev identity provider, one agent with a grant.
  // BENCH_PROFILE=writ: a CPU profile of the Writ process, written when it exits (bench/results/profiles).
  const profile = process.env['BENCH_PROFILE'] === 'writ' ? ['--cpu-prof', '--cpu-prof-dir=bench/results/profiles'] : [];
  const child = fork(fileURLToPath(new URL('../soak/writ-node.js', import.meta.url)), [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: profile,
  });
  child.send({
    setup: {
      upstream: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
      agentJwk: { ...jwk, kid, alg: 'ES256' },
      ...(database !== undefined ? { databaseUrl: database.url } : {}),
    },
  });
  const ready = await new Promise<{ url: string; idToken: string; alicePassword: string }>((resolve) =>
    child.once('message', (m: { ready: { url: string; idToken: string; alicePassword: string } }) => resolve(m.ready)),
  );
  const dpop = es256Jwks();
  const dpopKey: DpopKey = {
    alg: 'ES256',
    privateKey: (await importJWK({ ...dpop.privateJwk }, 'ES256')) as CryptoKey,
    publicJwk: dpop.publicJwk,
    jkt: await calculateJwkThumbprint(dpop.publicJwk),
  };
  const clientKey = (await importJWK({ ...client.privateJwk }, 'ES256')) as CryptoKey;
  const request = {
    subjectToken: ready.idToken,
    subjectTokenType: TOKEN_TYPE.idToken,
    resource: `${ready.url}/r/api`,
    authorizationDetails: [{ type: 'http' as const, actions: ['GET' as const], paths: ['/v1/**'] }],
    purpose: 'bench',
  };
  const sdk = (): Promise<unknown> =>
    exchangeToken({ issuer: ready.url, clientId: 'soak-agent', clientKey, clientKid: kid, dpopKey, ...request });
  const lean = leanExchanger({
    issuer: ready.url,
    clientId: 'soak-agent',
    clientJwk: client.privateJwk,
    clientKid: kid,
    dpopJwk: dpop.privateJwk,
    connections: CONCURRENCY,
    ...request,
  });
  const once = CLIENT === 'sdk' ? sdk : lean;
  // Both clients are accepted by the same server before anything is measured.
  for (let i = 0; i < 20; i++) await sdk();
  for (let i = 0; i < 200; i++) await once();
  const ceilingBefore = await ceiling(3000);
  const cpuBefore = await writCpu(child);
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
  const cpuAfter = await writCpu(child);
  const writUs = (cpuAfter.user + cpuAfter.system - cpuBefore.user - cpuBefore.system) / done;
  const refreshes = await refreshGrant(ready, dpop.privateJwk, child);
  const ceilingAfter = await ceiling(3000);
  const ceil = (ceilingBefore + ceilingAfter) / 2;
  child.send({ exit: true });
  await new Promise((resolve) => child.once('exit', resolve));
  upstream.close();
  await database?.drop();
  console.log(
    `bench/token-exchange — node ${process.version}, ${CONCURRENCY} concurrent ${CLIENT} clients, ${SECONDS}s, Writ on ${database !== undefined ? 'PostgreSQL' : 'SQLite'}`,
  );
  console.log('| what | per second | p50 ms | p99 ms |\n|---|---|---|---|');
  console.log(`| raw jose ES256 sign + verify (ceiling, mean of before/after) | ${ceil.toFixed(0)} | — | — |`);
  console.log(
    `| Writ token exchange with DPoP (client and server on this machine) | ${rate.toFixed(0)} | ${(hist.percentile(50) / 1e6).toFixed(2)} | ${(hist.percentile(99) / 1e6).toFixed(2)} |`,
  );
  console.log(
    `| Writ refresh-token grant with DPoP (rotation, family and revocation checks; same run) | ${refreshes.rate.toFixed(0)} | ${refreshes.p50.toFixed(2)} | ${refreshes.p99.toFixed(2)} |`,
  );
  console.log(
    `Writ process CPU per exchange (all threads): ${(writUs / 1000).toFixed(2)} ms; per refresh: ${(refreshes.writUs / 1000).toFixed(2)} ms`,
  );
  console.log(`ratio: ${((rate / ceil) * 100).toFixed(1)}% of the ceiling (aim ≥ 40%)`);
  setTimeout(() => process.exit(0), 500).unref();
}

/**
 * The refresh-token grant, timed like the exchange: one stock client (registered by RFC 7591), alice signs in and
 * consents once per loop (untimed), then each loop rotates its own refresh token family as fast as it can.
 */
async function refreshGrant(
  ready: { url: string; alicePassword: string },
  dpopJwk: JsonWebKey,
  child: ReturnType<typeof fork>,
): Promise<{ rate: number; p50: number; p99: number; writUs: number }> {
  const redirectUri = 'http://127.0.0.1:9/cb';
  const reg = await fetch(`${ready.url}${PATHS.register}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: 'bench host', redirect_uris: [redirectUri] }),
  });
  const clientId = ((await reg.json()) as { client_id: string }).client_id;
  const refresher = leanRefresher({ issuer: ready.url, clientId, dpopJwk, connections: CONCURRENCY });
  const start = async (): Promise<string> => {
    const verifier = randomBytes(32).toString('base64url');
    const q = new URLSearchParams({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: redirectUri,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
      resource: `${ready.url}/r/api-scoped`,
      scope: 'read',
    });
    const { url } = await authorizeAs(
      `${ready.url}${PATHS.authorize}?${q}`,
      { username: 'alice', password: ready.alicePassword },
      { redirectUri },
    );
    const res = await fetch(`${ready.url}${PATHS.token}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: refresher.proof() },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: url.searchParams.get('code') ?? '',
        redirect_uri: redirectUri,
        client_id: clientId,
        code_verifier: verifier,
      }),
    });
    const body = (await res.json()) as { refresh_token?: string };
    if (body.refresh_token === undefined) throw new Error(`no refresh token: ${JSON.stringify(body)}`);
    return body.refresh_token;
  };
  const families = await Promise.all(Array.from({ length: CONCURRENCY }, start));
  for (let i = 0; i < families.length; i++) for (let w = 0; w < 20; w++) families[i] = await refresher.refresh(families[i] as string);
  const cpuBefore = await writCpu(child);
  const hist = createHistogram();
  let done = 0;
  const end = performance.now() + SECONDS * 1000;
  const started = performance.now();
  await Promise.all(
    families.map(async (first) => {
      let token = first;
      while (performance.now() < end) {
        const t0 = process.hrtime.bigint();
        token = await refresher.refresh(token);
        hist.record(Number(process.hrtime.bigint() - t0));
        done++;
      }
    }),
  );
  const rate = done / ((performance.now() - started) / 1000);
  const cpuAfter = await writCpu(child);
  return {
    rate,
    p50: hist.percentile(50) / 1e6,
    p99: hist.percentile(99) / 1e6,
    writUs: (cpuAfter.user + cpuAfter.system - cpuBefore.user - cpuBefore.system) / done,
  };
}

/** CPU time of the Writ process so far (process.cpuUsage there: every thread, including the policy worker). */
function writCpu(child: ReturnType<typeof fork>): Promise<{ user: number; system: number }> {
  return new Promise((resolve) => {
    child.once('message', (m: { cpu: { user: number; system: number } }) => resolve(m.cpu));
    child.send({ mem: true });
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

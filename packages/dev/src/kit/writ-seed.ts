/**
 * The one set-up of a Writ node through its admin API, shared by tests and benchmarks: the dev identity provider,
 * an upstream secret `api-key`, an HTTP resource `api` that injects it as a bearer token, a grant, and agents with
 * their keys; plus task tokens minted through the agent SDK, as an agent would get them.
 */
import type { JsonWebKey } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { TOKEN_TYPE } from '@writ/protocol';
import { WritAgent, type DpopKey, type Task } from '@writ/agent';
import type { AdminClient } from '@writ/server';

type Admin = Pick<AdminClient, 'post' | 'put'>;
import type { DevIdentityProvider } from '../idp/index.js';

/** The secret the upstream receives as `Authorization: Bearer …` from the resource `api`. */
export const UPSTREAM_SECRET = 'upstream-secret-value-1234567890';

/** `agentId` may GET `/v1/*` on `api` for alice, and nothing else. */
export const seedGrant = (agentId: string): string =>
  `permit (principal == Writ::Agent::"${agentId}", action == Writ::Action::"http", resource == Writ::Resource::"api") when { context.user == Writ::User::"dev:alice" && context.method == "GET" && context.path like "/v1/*" };`;

export interface AgentKeys {
  clientKey: CryptoKey;
  /** The public JWK registered for the agent (with `kid`, `alg` and `use`). */
  clientJwk: JWK & { kid: string };
  clientKid: string;
  dpopKey: DpopKey;
  /** The DPoP private key as a JWK, for `makeProofFactory`. */
  dpopPrivateJwk: JsonWebKey;
}

/** A fresh ES256 client key (private_key_jwt) and DPoP key for one agent. */
export async function agentKeys(): Promise<AgentKeys> {
  const client = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(client.publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  const dpop = await generateKeyPair('ES256', { extractable: true });
  const pub = await exportJWK(dpop.publicKey);
  return {
    clientKey: client.privateKey,
    clientJwk: { ...jwk, kid, alg: 'ES256', use: 'sig' },
    clientKid: kid,
    dpopKey: {
      alg: 'ES256',
      privateKey: dpop.privateKey,
      publicJwk: { kty: pub.kty as string, crv: pub.crv as string, x: pub.x as string, y: pub.y as string },
      jkt: await calculateJwkThumbprint(pub),
    },
    dpopPrivateJwk: await exportJWK(dpop.privateKey),
  };
}

/** Registers the identity provider `dev`, the secret `api-key`, the resource `api` on `upstream` and the grant. */
export async function seedWrit(
  admin: Admin,
  o: { idp: Pick<DevIdentityProvider, 'issuer' | 'audience'>; upstream: string; grant: { id: string; policy: string } },
): Promise<void> {
  await admin.post('/identity-providers', { id: 'dev', issuer: o.idp.issuer, discovery: true, audience: o.idp.audience });
  await admin.put('/secrets/api-key', { value: UPSTREAM_SECRET, description: 'the upstream credential of resource api' });
  await admin.post('/resources', { id: 'api', baseUrl: o.upstream, secretId: 'api-key', inject: { mode: 'bearer' } });
  await admin.post('/grants', o.grant);
}

/** Registers agent `agentId` with the public half of `keys`. */
export async function registerAgentKeys(admin: Admin, agentId: string, keys: AgentKeys, owner = 'team-test'): Promise<void> {
  await admin.post('/agents', { id: agentId, name: agentId, owner, jwks: { keys: [keys.clientJwk] } });
}

/** The agent SDK for a registered agent. */
export function writAgent(issuer: string, agentId: string, keys: AgentKeys): WritAgent {
  return new WritAgent({ issuer, agentId, clientKey: keys.clientKey, clientKid: keys.clientKid, dpopKey: keys.dpopKey });
}

/** Mints `count` task tokens (one task each) for GET /v1/** on resource `api` for alice, `concurrency` at a time. */
export async function mintTasks(o: {
  issuer: string;
  agentId: string;
  keys: AgentKeys;
  idp: DevIdentityProvider;
  count: number;
  concurrency?: number;
}): Promise<Task[]> {
  const agent = writAgent(o.issuer, o.agentId, o.keys);
  const alice = o.idp.accounts.find((a) => a.username === 'alice');
  const { idToken } = await o.idp.loginAs('alice', alice?.password);
  const out: Task[] = new Array(o.count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(o.concurrency ?? 4, o.count) }, async () => {
      while (next < o.count) {
        const i = next++;
        out[i] = await agent.startTask({
          subjectToken: idToken,
          subjectTokenType: TOKEN_TYPE.idToken,
          resource: `${o.issuer}/r/api`,
          authorizationDetails: [{ type: 'http', actions: ['GET'], paths: ['/v1/**'] }],
          purpose: 'bench',
        });
      }
    }),
  );
  return out;
}

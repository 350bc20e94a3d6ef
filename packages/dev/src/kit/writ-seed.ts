/**
 * The one bench set-up of a Writ node through its admin API: a dev identity provider, an upstream secret, an HTTP
 * resource `api` on the given upstream, a grant that permits GET /v1/* for alice, and one agent; plus the agent's keys
 * and a ready `WritAgent` to mint task tokens with.
 */
import type { JsonWebKey } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { TOKEN_TYPE } from '@writ/protocol';
import { WritAgent, type DpopKey, type Task, type WritAgentOptions } from '@writ/agent';
import type { AdminClient } from '@writ/server';
import type { DevIdentityProvider } from '@writ/dev';

export interface BenchAgentKeys {
  clientKey: NonNullable<WritAgentOptions['clientKey']>;
  /** The public JWK registered for the agent (with `kid` and `alg`). */
  clientJwk: Record<string, unknown>;
  clientKid: string;
  dpopKey: DpopKey;
  /** The DPoP private key as a JWK, for `makeProofFactory`. */
  dpopPrivateJwk: JsonWebKey;
}

export async function benchAgentKeys(): Promise<BenchAgentKeys> {
  const client = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(client.publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  const dpop = await generateKeyPair('ES256', { extractable: true });
  const pub = await exportJWK(dpop.publicKey);
  return {
    clientKey: client.privateKey,
    clientJwk: { ...jwk, kid, alg: 'ES256' },
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

/** Registers the identity provider, secret, resource `api`, grant and agent `agentId` on a fresh Writ node. */
export async function seedWrit(
  admin: AdminClient,
  o: { idp: DevIdentityProvider; upstream: string; agentId: string; keys: BenchAgentKeys },
): Promise<void> {
  await admin.post('/identity-providers', { id: 'dev', issuer: o.idp.issuer, discovery: true, audience: o.idp.audience });
  await admin.put('/secrets/api-key', { value: 'bench-upstream-secret-0123456789' });
  await admin.post('/resources', { id: 'api', baseUrl: o.upstream, secretId: 'api-key', inject: { mode: 'bearer' } });
  await admin.post('/grants', {
    id: 'bench',
    policy: `permit (principal == Writ::Agent::"${o.agentId}", action == Writ::Action::"http", resource == Writ::Resource::"api") when { context.user == Writ::User::"dev:alice" && context.method == "GET" && context.path like "/v1/*" };`,
  });
  await admin.post('/agents', { id: o.agentId, name: o.agentId, owner: 'bench', jwks: { keys: [o.keys.clientJwk] } });
}

/** Mints `count` task tokens (one task each) for GET /v1/** on resource `api`, `concurrency` exchanges at a time. */
export async function mintTasks(o: {
  issuer: string;
  agentId: string;
  keys: BenchAgentKeys;
  idp: DevIdentityProvider;
  count: number;
  concurrency?: number;
}): Promise<Task[]> {
  const agent = new WritAgent({
    issuer: o.issuer,
    agentId: o.agentId,
    clientKey: o.keys.clientKey,
    clientKid: o.keys.clientKid,
    dpopKey: o.keys.dpopKey,
  });
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

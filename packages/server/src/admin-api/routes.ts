/**
 * The admin API (`/admin/v1`): one table of routes. Fastify serves it and the OpenAPI document is generated from
 * the same table and the same zod schemas that validate each request, so the two cannot drift apart. Every change
 * is audited by the module that makes it.
 */
import { z } from 'zod';
import {
  grantInput,
  grantModeInput,
  identityProviderInput,
  workloadIssuerInput,
  resourceInput,
  type AgentLifecycle,
  type Register,
} from '../register/index.js';
import type { TaskService } from '../tasks/index.js';
import type { RevocationService } from '../revocation/index.js';
import type { ConnectionSummary, KekInventory, KekRotationReport, Vault } from '../vault/index.js';
import { observeReport, taskChain, type AuditCheckpoint, type AuditCheckpoints } from '../audit/index.js';
import { actor } from './actor.js';
import { AUDIT_ROUTES } from './audit-routes.js';
import { REVOCATION_ROUTES } from './revocation-routes.js';
import { AGENT_ROUTES } from './agent-routes.js';
import { VAULT_ROUTES } from './vault-routes.js';
import type { Kysely } from 'kysely';
import type { Database } from '../storage/index.js';
import { AdminError } from '../errors/index.js';
import type { AdminPrincipal } from './admin-auth.js';
import type { SigningKeys } from '../token/index.js';
import type { AuditPort } from '../audit/index.js';
import { TOKEN_SIGNING_ALGS, type NodeChecks } from '@writ/protocol';
import { ssfReceiverInput, type SsfReceivers } from '../ssf/index.js';
import type { Consents } from '../authorization/index.js';
import type { Approvals } from '../approvals/index.js';
import type { PostureOptions, PostureReport } from '../posture/index.js';
import { APPROVAL_ROUTES } from './approval-routes.js';
import { OVERVIEW_ROUTES } from './overview-routes.js';
import type { NodeReport } from '../cluster/index.js';

/** Epoch ms; default: the last 24 hours. */
const observeReportQuery = z.strictObject({
  since: z.coerce.number().int().nonnegative().optional(),
  until: z.coerce.number().int().positive().optional(),
});

const postureQuery = z.strictObject({
  /** The usage window for grants, days (default 30). */
  windowDays: z.coerce.number().int().min(1).max(3650).optional(),
  /** An active task older than this many hours is long-lived (default 24). */
  taskHours: z.coerce.number().int().min(1).max(87_600).optional(),
  /** Secrets and admin tokens older than this many days are due for rotation (default 90). */
  rotateDays: z.coerce.number().int().min(1).max(3650).optional(),
});

export interface AdminServices {
  db: Kysely<Database>;
  keys: SigningKeys;
  /** How long a retired signing key stays published: the longest token life plus skew, so no valid token fails. */
  retiredKeyPublishMs: number;
  audit: AuditPort;
  register: Register;
  /** Agents' lifecycle: end and review dates, last use, owners offboarded. */
  lifecycle: AgentLifecycle;
  /** The `agents` configuration's review windows, in days. */
  agentDefaults: { reviewWithinDays: number; unusedDays: number };
  tasks: TaskService;
  revocations: RevocationService;
  vault: Vault;
  flushAudit(): Promise<void>;
  /** Shared Signals receivers (the credentials of SSF stream management and polling). */
  ssfReceivers: SsfReceivers;
  /** Consents people asked Writ to remember for a stock client (authorization server). */
  consents: Consents;
  /** Calls held back for a person's approval (`@approval` grants). */
  approvals: Approvals;
  /** The posture report of this deployment, as seen from this node. */
  posture(o: Partial<PostureOptions>): Promise<PostureReport>;
  /** Writ's version (OCSF `metadata.product.version`). */
  version: string;
  /** Resolves once this node's hot-path caches hold every register change made so far. */
  changesInForce(): Promise<void>;
  /** People's connected accounts at upstreams (`user_oauth` secrets): listed without tokens, revoked at once. */
  connections: {
    list(filter: { secretId?: string; userId?: string }): Promise<ConnectionSummary[]>;
    /** Revokes and returns how many were active. */
    revoke(secretId: string, userId: string, actor: string): Promise<number>;
  };
  /** The KEK's reach: how many envelopes each KEK seals, and the rotation that re-wraps them under the current one. */
  kek: { inventory(): Promise<KekInventory>; rotate(): Promise<KekRotationReport> };
  /** The node's clock, epoch ms (a test's, or the wall clock). */
  now(): number;
  /** This node as `/readyz` reports it: readiness, revocation freshness, upstream use, cluster role. */
  node(): Promise<{ ready: boolean; checks: NodeChecks }>;
  /** Every cluster node's revocation freshness as it last reported it; null on the embedded store (one process). */
  nodes(): Promise<NodeReport[] | null>;
  /** The console's one-time sign-in links (console/); absent where the console is not served. */
  consoleLinks?: { create(principal: AdminPrincipal): Promise<{ url: string; expires_at: number }> } | undefined;
  /** Signed checkpoints of the audit chain; `created` ones are also pushed to the configured sinks. */
  checkpoints: { create(): Promise<{ checkpoint: AuditCheckpoint; created: boolean } | undefined>; list: AuditCheckpoints['list'] };
}

export interface AdminRoute {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  summary: string;
  tag: string;
  body?: z.ZodType;
  query?: z.ZodType;
  /** 201 for creations, 204 for deletions, 200 otherwise. */
  status?: number;
  /** false for a POST that only reads (validate, verify): a read-only operator may send it. */
  changes?: false;
  handler(input: {
    params: Record<string, string>;
    body: unknown;
    query: unknown;
    principal: AdminPrincipal;
    services: AdminServices;
  }): Promise<unknown>;
}

const taskQuery = z.strictObject({
  agent: z.string().max(200).optional(),
  user: z.string().max(400).optional(),
  status: z.enum(['active', 'completed', 'revoked', 'expired']).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});

const reasonInput = z.strictObject({ reason: z.string().min(1).max(500) });
const consentQuery = z.strictObject({
  user: z.string().max(400).optional(),
  client: z.string().max(2000).optional(),
  agent: z.string().max(200).optional(),
  all: z.enum(['true', 'false']).optional(),
});
const rotateInput = z.strictObject({ alg: z.enum(TOKEN_SIGNING_ALGS).optional() });
const validateInput = z.strictObject({ policy: z.string().min(1).max(100_000) });

type Services = AdminServices;

/**
 * The routes of one collection — list, create (201), show, delete (204) — the shape most of the table shares. The
 * body is validated by the plugin before the handler runs, so `create` receives the schema's output.
 */
function collection<B extends z.ZodType>(c: {
  url: string;
  tag: string;
  body: B;
  list: [string, (s: Services) => Promise<unknown>];
  create: [string, (s: Services, body: z.output<B>, by: string) => Promise<unknown>];
  show?: [string, (s: Services, id: string) => Promise<unknown>];
  remove: [string, (s: Services, id: string, by: string) => Promise<unknown>];
}): AdminRoute[] {
  const one = `${c.url}/:id`;
  return [
    { method: 'GET', url: c.url, tag: c.tag, summary: c.list[0], handler: ({ services }) => c.list[1](services) },
    {
      method: 'POST',
      url: c.url,
      tag: c.tag,
      summary: c.create[0],
      body: c.body,
      status: 201,
      handler: ({ body, principal, services }) => c.create[1](services, body as z.output<B>, actor(principal)),
    },
    ...(c.show !== undefined
      ? [
          {
            method: 'GET',
            url: one,
            tag: c.tag,
            summary: c.show[0],
            handler: ({ params, services }) => (c.show as NonNullable<typeof c.show>)[1](services, params['id'] as string),
          } satisfies AdminRoute,
        ]
      : []),
    {
      method: 'DELETE',
      url: one,
      tag: c.tag,
      summary: c.remove[0],
      status: 204,
      handler: ({ params, principal, services }) => c.remove[1](services, params['id'] as string, actor(principal)),
    },
  ];
}

export const ADMIN_ROUTES: AdminRoute[] = [
  ...OVERVIEW_ROUTES,
  ...AGENT_ROUTES,
  ...collection({
    url: '/identity-providers',
    tag: 'identity providers',
    body: identityProviderInput,
    list: ['List trusted identity providers', (s) => s.register.listIdentityProviders()],
    create: [
      'Trust a user identity provider (issuer + JWKS URL or OIDC discovery)',
      (s, body, by) => s.register.createIdentityProvider(body, by),
    ],
    remove: ['Stop trusting an identity provider', (s, id, by) => s.register.deleteIdentityProvider(id, by)],
  }),
  ...collection({
    url: '/workload-issuers',
    tag: 'workload issuers',
    body: workloadIssuerInput,
    list: ['List trusted workload-identity issuers', (s) => s.register.listWorkloadIssuers()],
    create: [
      'Trust a workload-identity issuer (Kubernetes service accounts, SPIFFE JWT-SVIDs, OIDC workload tokens)',
      (s, body, by) => s.register.createWorkloadIssuer(body, by),
    ],
    remove: ['Stop trusting a workload-identity issuer', (s, id, by) => s.register.deleteWorkloadIssuer(id, by)],
  }),
  ...collection({
    url: '/resources',
    tag: 'resources',
    body: resourceInput,
    list: ['List resources', (s) => s.register.listResources()],
    create: ['Register an HTTP resource and how its secret is injected', (s, body, by) => s.register.createResource(body, by)],
    show: ['Show a resource', (s, id) => s.register.getResource(id)],
    remove: [
      "Remove a resource (refused while a grant puts conditions on its tools' arguments)",
      (s, id, by) => s.register.deleteResource(id, by),
    ],
  }),
  ...VAULT_ROUTES,
  {
    method: 'POST',
    url: '/grants/validate',
    tag: 'grants',
    changes: false,
    summary: 'Validate a policy against the Writ schema without storing it',
    body: validateInput,
    handler: ({ body, services }) => services.register.validateGrant((body as z.output<typeof validateInput>).policy),
  },
  {
    method: 'POST',
    url: '/grants/:id/mode',
    tag: 'grants',
    summary: 'Deploy a grant to observe (evaluated beside the enforced set, never changing an answer) or promote it to enforce',
    body: grantModeInput,
    handler: ({ params, body, principal, services }) => services.register.setGrantMode(params['id'] as string, body, actor(principal)),
  },
  {
    method: 'GET',
    url: '/grants/observe-report',
    tag: 'grants',
    summary: 'What the observed grants would have allowed or denied on live calls, per grant, resource and action',
    query: observeReportQuery,
    handler: async ({ query, services }) => {
      const q = query as z.output<typeof observeReportQuery>;
      const until = q.until ?? Date.now();
      const observedGrants = new Set((await services.register.listGrants()).filter((g) => g.mode === 'observe').map((g) => g.id));
      return observeReport(services.db, { since: q.since ?? until - 24 * 3600_000, until, observedGrants });
    },
  },
  ...collection({
    url: '/grants',
    tag: 'grants',
    body: grantInput,
    list: ['List grants (Cedar policies)', (s) => s.register.listGrants()],
    create: ['Add a grant; it is stored only if it validates against the Writ schema', (s, body, by) => s.register.createGrant(body, by)],
    show: ['Show a grant', (s, id) => s.register.getGrant(id)],
    remove: ['Remove a grant', (s, id, by) => s.register.deleteGrant(id, by)],
  }),
  ...collection({
    url: '/ssf/receivers',
    tag: 'shared signals',
    body: ssfReceiverInput,
    list: ['List Shared Signals receivers (their tokens are never shown again)', (s) => s.ssfReceivers.list()],
    create: [
      "Create a Shared Signals receiver; the answer holds its bearer token, once. `audience` is its SETs' aud",
      (s, body, by) => s.ssfReceivers.create(body, by),
    ],
    remove: [
      'Delete a Shared Signals receiver with its streams and the SETs queued for them',
      (s, id, by) => s.ssfReceivers.delete(id, by),
    ],
  }),
  {
    method: 'GET',
    url: '/consents',
    tag: 'consents',
    summary: 'List remembered consents (in force, or all with all=true)',
    query: consentQuery,
    handler: ({ query, services }) => {
      const q = query as z.output<typeof consentQuery>;
      return services.consents.list({ userId: q.user, clientId: q.client, agentId: q.agent, all: q.all === 'true' });
    },
  },
  {
    method: 'GET',
    url: '/consents/:id',
    tag: 'consents',
    summary: 'Show a remembered consent',
    handler: ({ params, services }) => services.consents.get(params['id'] as string),
  },
  {
    method: 'POST',
    url: '/consents/:id/revoke',
    tag: 'consents',
    summary: 'Withdraw a remembered consent: never reused again, and the tasks it let the client start there end now',
    body: reasonInput,
    handler: ({ params, body, principal, services }) =>
      services.consents.revoke(params['id'] as string, actor(principal), (body as z.output<typeof reasonInput>).reason),
  },
  {
    method: 'GET',
    url: '/tasks',
    tag: 'tasks',
    summary: 'List tasks',
    query: taskQuery,
    handler: ({ query, services }) => {
      const q = query as z.output<typeof taskQuery>;
      return services.tasks.list({ agentId: q.agent, userId: q.user, status: q.status, limit: q.limit });
    },
  },
  {
    method: 'GET',
    url: '/tasks/:id',
    tag: 'tasks',
    summary: 'Show a task',
    handler: ({ params, services }) => services.tasks.get(params['id'] as string),
  },
  {
    method: 'POST',
    url: '/tasks/:id/revoke',
    tag: 'tasks',
    summary: 'Revoke a task and every descendant task',
    body: reasonInput,
    handler: ({ params, body, principal, services }) =>
      services.tasks.end(params['id'] as string, {
        status: 'revoked',
        reason: (body as z.output<typeof reasonInput>).reason,
        actor: actor(principal),
      }),
  },
  {
    method: 'GET',
    url: '/tasks/:id/audit',
    tag: 'audit',
    summary: 'The audit chain of a task and its descendants: user → agents → calls, with decisions',
    handler: async ({ params, services }) => {
      const id = params['id'] as string;
      // Throws ERR_ADMIN_NOT_FOUND: an empty chain for a mistyped id would read as "nothing happened".
      await services.tasks.get(id);
      await services.flushAudit();
      return taskChain(services.db, id);
    },
  },
  {
    method: 'GET',
    url: '/keys',
    tag: 'keys',
    summary: 'List the published token-signing keys (public information only)',
    handler: async ({ services }) => services.keys.list(),
  },
  {
    method: 'POST',
    url: '/keys/rotate',
    tag: 'keys',
    summary: 'Rotate the token-signing key now; the previous key stays published until every token it signed has expired',
    body: rotateInput,
    handler: async ({ body, principal, services }) => {
      const alg = (body as z.output<typeof rotateInput>).alg ?? services.keys.activeAlg;
      const kid = await services.keys.rotate(alg, services.retiredKeyPublishMs);
      services.audit.record({
        type: 'admin.change',
        actor_chain: [actor(principal)],
        decision: 'allow',
        reason: 'signing_key.rotated',
        data: { kid, alg },
      });
      return { kid, alg, keys: services.keys.list() };
    },
  },
  {
    method: 'GET',
    url: '/posture',
    tag: 'posture',
    summary:
      'Findings a security team fixes first (owners, lifecycle, unused grants, bearer resources, long-lived tasks, unrotated secrets and admin tokens, stale revocation state), each mapped to OWASP NHI, OWASP Agentic and NIST CSF PR.AA',
    query: postureQuery,
    handler: ({ query, services }) => {
      const q = query as z.output<typeof postureQuery>;
      return services.posture({
        ...(q.windowDays !== undefined ? { windowMs: q.windowDays * 86_400_000 } : {}),
        ...(q.taskHours !== undefined ? { taskMaxAgeMs: q.taskHours * 3_600_000 } : {}),
        ...(q.rotateDays !== undefined ? { rotateAfterMs: q.rotateDays * 86_400_000 } : {}),
      });
    },
  },
  ...REVOCATION_ROUTES,
  ...APPROVAL_ROUTES,
  ...AUDIT_ROUTES,
];

export function notFound(what: string): never {
  throw new AdminError('ERR_ADMIN_NOT_FOUND', what);
}

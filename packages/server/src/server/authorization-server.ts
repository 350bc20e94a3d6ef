/**
 * The authorization server's wiring (authorization/): its parts built from the configuration and the node's
 * services, as gateways.ts does for the gateways, so the composition root stays readable.
 */
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { PATHS } from '@writ/protocol';
import { isLoopbackHost, type RevocationSet } from '@writ/verify/internal';
import type { WritConfig } from '../config/index.js';
import type { EgressGuard } from '../http/index.js';
import type { AuditPort } from '../audit/index.js';
import type { Register, RegisterSnapshot } from '../register/index.js';
import type { Database } from '../storage/index.js';
import type { TaskService } from '../tasks/index.js';
import type { IssuancePolicy, SigningKeys, TokenServiceDeps } from '../token/index.js';
import type { UserTokenVerifier } from '../identity/index.js';
import type { ToolCatalogue } from '../gateway/index.js';
import type { Logger } from '../observability/index.js';
import type { Approvals } from '../approvals/index.js';
import {
  ApprovalPages,
  registerApprovalPageRoutes,
  AuthorizationFlow,
  CONSOLE_REQUEST_PREFIX,
  type AuthorizationFlowDeps,
  ClientRegistry,
  ConnectedAccounts,
  registerConnectedAccountRoutes,
  type ConnectedAccountsDeps,
  Consents,
  IdentityProviderLogin,
  Sessions,
  TokenGrants,
  registerAuthorizationRoutes,
  stockClientGrants,
  type StockClientGrants,
} from '../authorization/index.js';

export interface AuthorizationWiring {
  config: WritConfig;
  db: Kysely<Database>;
  publicUrl: string;
  register: Register;
  snapshot: RegisterSnapshot;
  tasks: TaskService;
  policy: IssuancePolicy;
  users: UserTokenVerifier;
  keys: SigningKeys;
  revocations: RevocationSet;
  tokenService: TokenServiceDeps;
  tools: ToolCatalogue;
  egress: EgressGuard;
  csrfKey: Buffer;
  audit: AuditPort;
  logger: Logger;
  now: () => number;
  /** People's connected accounts at upstreams (`user_oauth` secrets): what their pages need of the vault. */
  connectedAccounts: Pick<ConnectedAccountsDeps, 'connections' | 'secrets' | 'redeemCode' | 'revokeAtUpstream' | 'changed'>;
  /** Calls held back for a person's approval: their page is served beside consent. */
  approvals: Approvals;
  /** Where a sign-in the operator console started ends (console/), when the console is served. */
  console?: AuthorizationFlowDeps['console'];
}

export interface NodeAuthorizationServer {
  grants: StockClientGrants;
  consents: Consents;
  routes(app: FastifyInstance): void;
  /** The identity provider's registration changed. */
  invalidate(): void;
  /** Sign-in at the identity provider for the operator console (the same relying party, coming back to it). */
  consoleSignIn: { configured(): boolean; start(): Promise<{ url: URL; setCookie: string }> };
  prune(): Promise<void>;
}

export function createAuthorizationServer(w: AuthorizationWiring): NodeAuthorizationServer {
  const settings = w.config.authorization;
  const issuer = new URL(w.publicUrl);
  const caFile = settings.metadataDocuments.caFile;
  const clients = new ClientRegistry({
    db: w.db,
    register: w.register,
    settings,
    fetch: w.egress.fetch(caFile !== undefined ? { ca: readFileSync(caFile, 'utf8') } : {}),
    audit: w.audit,
    now: w.now,
  });
  const login = new IdentityProviderLogin({
    db: w.db,
    settings,
    callbackUrl: `${w.publicUrl}${PATHS.loginCallback}`,
    // Plain http is only ever acceptable on loopback; anywhere else the cookie never travels without TLS.
    secureCookies: !(issuer.protocol === 'http:' && isLoopbackHost(issuer.hostname)),
    findProvider: async (id) => (await w.register.listIdentityProviders()).find((p) => p.id === id),
    fetch: w.egress.fetch(),
    now: w.now,
  });
  const sessions = new Sessions({
    db: w.db,
    sessionSeconds: settings.sessionSeconds,
    // Plain http is only ever acceptable on loopback; anywhere else the cookie never travels without TLS.
    secureCookies: !(issuer.protocol === 'http:' && isLoopbackHost(issuer.hostname)),
    now: w.now,
  });
  const consents = new Consents({ db: w.db, rememberDays: settings.rememberConsentDays, tasks: w.tasks, audit: w.audit, now: w.now });
  const findResource = async (id: string) => w.snapshot.resource(id);
  const catalogue = { tools: (resource: Parameters<ToolCatalogue['tools']>[0]) => w.tools.tools(resource, w.register.version) };
  const flow = new AuthorizationFlow({
    db: w.db,
    issuer: w.publicUrl,
    settings,
    clients,
    login,
    sessions,
    consents,
    findResource,
    catalogue,
    policy: w.policy,
    csrfKey: w.csrfKey,
    audit: w.audit,
    now: w.now,
    console: w.console,
  });
  const grantDeps = {
    db: w.db,
    issuer: w.publicUrl,
    keys: w.keys,
    settings,
    maxLifetimeSeconds: w.config.tokens.maxLifetimeSeconds,
    clients,
    findResource,
    revocations: w.revocations,
    tasks: w.tasks,
    proof: w.tokenService,
    audit: w.audit,
    now: w.now,
  };
  const grants = stockClientGrants({
    grants: new TokenGrants(grantDeps),
    idJag: { ...grantDeps, tokenEndpoint: `${w.publicUrl}${PATHS.token}`, users: w.users, policy: w.policy, catalogue },
    audit: w.audit,
    onUnexpected: (err, traceId) => w.logger.error({ err, trace_id: traceId }, 'token grant failed unexpectedly'),
  });
  const connected = new ConnectedAccounts({
    ...w.connectedAccounts,
    issuer: w.publicUrl,
    sessions,
    login,
    csrfKey: w.csrfKey,
    audit: w.audit,
  });
  const approvalPages = new ApprovalPages({ issuer: w.publicUrl, sessions, login, approvals: w.approvals, csrfKey: w.csrfKey });
  return {
    grants,
    consents,
    routes: (app) => {
      registerAuthorizationRoutes(app, { issuer: w.publicUrl, flow, clients, settings });
      registerConnectedAccountRoutes(app, connected);
      registerApprovalPageRoutes(app, approvalPages);
    },
    invalidate: () => login.invalidate(),
    consoleSignIn: { configured: () => login.configured, start: () => login.start(CONSOLE_REQUEST_PREFIX) },
    prune: async () => {
      const now = w.now();
      await sessions.prune();
      await w.db.deleteFrom('oauth_requests').where('expires_at', '<', now).execute();
      await w.db
        .deleteFrom('oauth_codes')
        .where('expires_at', '<', now - 3600_000)
        .execute();
      await w.db.deleteFrom('oauth_refresh_tokens').where('expires_at', '<', now).execute();
    },
  };
}

/**
 * The composition root: the only place that constructs concrete implementations and wires them together.
 * Everything else receives its dependencies.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { DPOP_ALGS, PATHS } from '@writ/protocol';
import { createDpopNonces, InMemoryReplayCache, RevocationSet, VerifiedTokenCache, type CheckCallContext } from '@writ/verify';
import { hostForUrl, type WritConfig } from '../config/index.js';
import { openStore, type Store } from '../storage/index.js';
import { deriveKey, KeyEncryptionKey } from '../crypto/index.js';
import { createVault } from '../vault/index.js';
import { createAuditWriter } from '../audit/index.js';
import { createPolicyEngine, createCallDecisionCache, createIssuanceDecisionCache, type PolicyEngine } from '../policy/index.js';
import { Register, type Agent, type Resource } from '../register/index.js';
import { RevocationFeed, RevocationService } from '../revocation/index.js';
import { TaskService } from '../tasks/index.js';
import { SigningKeys, type TokenServiceDeps } from '../token/index.js';
import { createUserTokenVerifier, createWorkloadTokenVerifier } from '../identity/index.js';
import { SharedReplayCache } from '../dpop/index.js';
import { handleCommonTokenRequest, isCommonTokenRequest } from './token-fast-path.js';
import { HttpGateway, McpGateway, UpstreamFactory, createGatewayAudit } from '../gateway/index.js';
import { AdminAuth } from '../admin-api/index.js';
import { createMetrics, type Logger } from '../observability/index.js';
import { registerHttpSurface } from './http-surface.js';
import { createSsfTransmitter } from '../ssf/index.js';

export interface WritServer {
  /** The URL Writ listens on (loopback in dev). */
  readonly url: string;
  readonly publicUrl: string;
  readonly store: Store;
  readonly register: Register;
  readonly tasks: TaskService;
  readonly revocations: RevocationService;
  readonly adminAuth: AdminAuth;
  flushAudit(): Promise<void>;
  close(): Promise<void>;
}

export interface StartOptions {
  config: WritConfig;
  logger: Logger;
  /** Overrides for tests: a clock. */
  now?: () => number;
  /** An already-open store (tests); the caller keeps ownership and closes it. */
  store?: Store;
}

export async function startWritServer(opts: StartOptions): Promise<WritServer> {
  const { config, logger } = opts;
  const now = opts.now ?? Date.now;
  if (config.vault.kek === undefined) throw new Error('vault.kek (or WRIT_KEK) is required: 32 random bytes, base64');
  const kek = KeyEncryptionKey.fromBase64(config.vault.kekId, config.vault.kek);
  const store = opts.store ?? (await openStore({ databaseUrl: config.storage.databaseUrl, sqlitePath: config.storage.sqlitePath }));
  const closers: Array<() => Promise<void> | void> = opts.store === undefined ? [() => store.close()] : [];
  try {
    const audit = createAuditWriter({
      db: store.db,
      dialect: store.dialect,
      ...(store.sqlite !== undefined ? { sqlite: store.sqlite } : {}),
      flushIntervalMs: config.audit.flushIntervalMs,
      maxBuffered: config.audit.maxBufferedEvents,
      logger,
    });
    closers.unshift(() => audit.close());
    const policy: PolicyEngine = createPolicyEngine();
    closers.unshift(() => policy.close());
    const register = new Register({ db: store.db, policy, audit, now });
    await register.reloadPolicies();
    const vault = createVault({ db: store.db, kek });

    // Bind first, so that with port 0 (tests) the issuer and every resource URI name the real port.
    const route: { dispatch?: (req: IncomingMessage, res: ServerResponse) => void } = {};
    const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
      const dispatch = route.dispatch;
      if (dispatch === undefined) {
        res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' }).end('{"code":"ERR_NOT_READY","message":"starting"}');
        return;
      }
      dispatch(req, res);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.server.port, config.server.host, () => resolve());
    });
    closers.unshift(
      () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    );
    const addr = server.address() as AddressInfo;
    const url = `http://${hostForUrl(addr.address)}:${addr.port}`;
    const publicUrl = config.server.publicUrl ?? url;
    const revocationSet = new RevocationSet();
    const revocations = new RevocationService({
      db: store.db,
      set: revocationSet,
      audit,
      maxTokenLifetimeSeconds: config.tokens.maxLifetimeSeconds,
      now,
    });
    await revocations.load();
    const tasks = new TaskService({ db: store.db, revocations, audit, now });
    const keys = new SigningKeys({ db: store.db, kek, now });
    await keys.init(config.tokens.signingAlg);

    // Hot-path snapshots of the register, refreshed on every change.
    const cache = new RegisterSnapshot(register);
    await cache.refresh();
    register.onChange((change) => {
      void cache.refresh().catch((err: unknown) => logger.error({ err }, 'register snapshot refresh failed'));
      if (change.kind === 'resource') {
        gateway.invalidate(change.id);
        upstreams.invalidate(change.id);
      }
      if (change.kind === 'secret') vault.invalidate(change.id);
    });

    const sharedReplay =
      config.dpop.replayStore === 'database' || (config.dpop.replayStore === 'auto' && store.dialect === 'postgres')
        ? new SharedReplayCache({ db: store.db, maxLocalEntries: config.dpop.replayCacheSize, now: () => now() / 1000 })
        : undefined;
    const replay = sharedReplay ?? new InMemoryReplayCache({ maxEntries: config.dpop.replayCacheSize });
    // Derived from the KEK, so every node that shares the KEK accepts every other node's nonces.
    const nonces = config.dpop.requireNonce
      ? createDpopNonces({ key: deriveKey(kek, 'dpop-nonce'), windowSeconds: config.dpop.nonceWindowSeconds, now: () => now() / 1000 })
      : undefined;
    const check: Omit<CheckCallContext, 'audience'> = {
      issuer: publicUrl,
      keys,
      replay,
      revocations: revocationSet,
      // ~1.5 KB per entry: 20k tokens in flight is a busy node; past that, the oldest pay the signature check again.
      tokenCache: new VerifiedTokenCache({ maxEntries: 20_000 }),
      algorithms: DPOP_ALGS,
      maxAgeSeconds: config.dpop.proofMaxAgeSeconds,
      clockSkewSeconds: config.tokens.clockSkewSeconds,
      now: () => now() / 1000,
      ...(nonces !== undefined ? { nonces } : {}),
    };
    const users = createUserTokenVerifier({
      listProviders: () => register.listIdentityProviders(),
      clockSkewSeconds: config.tokens.clockSkewSeconds,
      now,
    });
    const workloads = createWorkloadTokenVerifier({
      listIssuers: () => register.listWorkloadIssuers(),
      clockSkewSeconds: config.tokens.clockSkewSeconds,
      now,
    });
    register.onChange((c) => {
      if (c.kind === 'identity_provider') users.invalidate();
      if (c.kind === 'workload_issuer') workloads.invalidate();
    });

    const tokenService: TokenServiceDeps = {
      db: store.db,
      issuer: publicUrl,
      tokenEndpoint: `${publicUrl}${PATHS.token}`,
      keys,
      // Decisions are a function of the policy set and the request with its entities: issuance asks the worker only
      // for questions it has not answered under the current policy set.
      policy: createIssuanceDecisionCache(policy, { maxEntries: 50_000 }),
      users,
      workloads,
      replay,
      audit,
      check,
      findAgent: (id) => register.findAgent(id),
      listAgents: () => register.listAgents(),
      findResource: async (id) => cache.resource(id),
      defaultLifetimeSeconds: config.tokens.defaultLifetimeSeconds,
      maxLifetimeSeconds: config.tokens.maxLifetimeSeconds,
      maxDelegationDepth: config.tokens.maxDelegationDepth,
      clockSkewSeconds: config.tokens.clockSkewSeconds,
      proofMaxAgeSeconds: config.dpop.proofMaxAgeSeconds,
      dpopAlgs: DPOP_ALGS,
      ...(nonces !== undefined ? { nonces } : {}),
      now,
    };

    const decisions = createCallDecisionCache(policy, { maxEntries: 100_000 });
    // Gauges read at scrape time; the feed and the MCP gateway exist by the first scrape.
    const metrics = createMetrics({
      revocation: () => ({ lastSeq: revocationSet.lastSeq, entries: revocationSet.size }),
      mcpSessions: () => mcpGateway.sessionCounts,
      revocationFeedClients: () => revocationFeed.clients,
    });
    // What both gateways (HTTP and MCP) need for the per-call check and the call-time grants.
    const enforcement = {
      publicUrl,
      check,
      resources: { get: (id: string) => cache.resource(id) },
      agents: { get: (id: string) => cache.agent(id) },
      entitiesVersion: () => String(register.version),
      decisions,
      ready: () => audit.healthy(),
      dpopAlgs: DPOP_ALGS,
      ...(nonces !== undefined ? { nonces } : {}),
      logger,
    };
    const gateway = new HttpGateway({
      ...enforcement,
      secrets: { get: (id) => vault.getSecretValue(id) },
      audit: createGatewayAudit(audit, (d, r) => metrics.decided('http', d, r)),
      maxBodyBytes: config.server.maxBodyBytes,
      upstreamTimeoutMs: config.server.upstreamTimeoutMs,
    });
    closers.unshift(() => gateway.close());

    const upstreams = new UpstreamFactory({
      secrets: { get: (id) => vault.getSecretValue(id) },
      timeoutMs: config.server.upstreamTimeoutMs,
      maxMessageBytes: config.mcp.maxUpstreamMessageBytes,
      logger,
    });
    closers.unshift(() => upstreams.close());
    const mcpGateway = new McpGateway({
      ...enforcement,
      audit: createGatewayAudit(audit, (d, r) => metrics.decided('mcp', d, r)),
      connect: (resource) => upstreams.connect(resource),
      maxBodyBytes: config.server.maxBodyBytes,
      requestTimeoutMs: config.mcp.requestTimeoutSeconds * 1000,
      sessionIdleMs: config.mcp.sessionIdleSeconds * 1000,
      maxSessions: config.mcp.maxSessions,
      maxSessionsPerTask: config.mcp.maxSessionsPerTask,
    });
    closers.unshift(() => mcpGateway.close());
    // The kill switch reaches open MCP sessions at once, not only at their next request.
    const offRevoked = revocations.onRevoked(() => mcpGateway.revoked());
    closers.unshift(offRevoked);

    const adminAuth = new AdminAuth({ db: store.db, fixedToken: config.adminToken });
    // Shared Signals transmitter (ssf/): a SET for every revocation made on this node, pushed or polled.
    const ssf = await createSsfTransmitter({ db: store.db, kek, issuer: publicUrl, revocations, audit, logger, config: config.ssf, now });
    closers.unshift(() => ssf.close());
    const revocationFeed = new RevocationFeed({
      source: revocations,
      authorize: async (authorization) => (await adminAuth.authenticate(authorization)) !== undefined,
    });
    let fastifyHandler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
    const app = Fastify({
      logger: false,
      bodyLimit: 1024 * 1024,
      serverFactory: (handler) => {
        fastifyHandler = handler;
        return server;
      },
    });
    registerHttpSurface(app, {
      publicUrl,
      tokenService,
      keys,
      extraJwks: () => ssf.jwks(),
      tasks,
      check,
      adminAuth,
      admin: {
        db: store.db,
        register,
        tasks,
        revocations,
        vault,
        policy,
        keys,
        retiredKeyPublishMs: (config.tokens.maxLifetimeSeconds + config.tokens.clockSkewSeconds + 60) * 1000,
        audit,
        flushAudit: () => audit.flush(),
        ssfReceivers: ssf.receivers,
      },
      findResource: (id) => cache.resource(id),
      metrics: metrics.registry,
      readiness: async () => {
        const checks: Record<string, unknown> = {};
        let ready = true;
        try {
          await store.db.selectFrom('revocations').select('seq').limit(1).execute();
          checks['store'] = 'ok';
        } catch (err) {
          ready = false;
          checks['store'] = `unreachable: ${(err as Error).message}`;
        }
        checks['audit'] = audit.healthy() ? 'ok' : 'backlogged';
        if (!audit.healthy()) ready = false;
        checks['revocation'] = { last_seq: revocationSet.lastSeq, entries: revocationSet.size, mode: 'embedded' };
        checks['mcp'] = mcpGateway.sessionCounts;
        checks['revocation_feed'] = { clients: revocationFeed.clients };
        return { ready, checks };
      },
      audit,
      introspection: {
        db: store.db,
        issuer: publicUrl,
        keys,
        revocations: revocationSet,
        revocationService: revocations,
        audit,
        findAgent: (id) => register.findAgent(id),
        clockSkewSeconds: config.tokens.clockSkewSeconds,
        now,
      },
      logger,
    });
    ssf.register(app);
    await app.ready();
    const fastifyDispatch = fastifyHandler;
    if (fastifyDispatch === undefined) throw new Error('fastify did not hand over its request handler');
    route.dispatch = (req, res) => {
      if (req.url !== undefined && req.url.startsWith(PATHS.httpResourcePrefix)) gateway.handle(req, res);
      else if (req.url !== undefined && req.url.startsWith(PATHS.mcpResourcePrefix)) mcpGateway.handle(req, res);
      else if (req.url !== undefined && (req.url === PATHS.revocationFeed || req.url.startsWith(`${PATHS.revocationFeed}?`)))
        revocationFeed.handle(req, res);
      else if (isCommonTokenRequest(req)) handleCommonTokenRequest(req, res, tokenService);
      else fastifyDispatch(req, res);
    };
    closers.unshift(() => app.close());
    ssf.start();

    const rotationMs = config.tokens.signingKeyRotationHours * 3600_000;
    if (rotationMs > 0) {
      const publishMs = (config.tokens.maxLifetimeSeconds + config.tokens.clockSkewSeconds + 60) * 1000;
      const rotateTimer = setInterval(
        () => {
          keys
            .rotateIfDue(rotationMs, publishMs)
            .then((kid) => {
              if (kid !== undefined) {
                audit.record({
                  type: 'admin.change',
                  actor_chain: ['system:schedule'],
                  decision: 'allow',
                  reason: 'signing_key.rotated',
                  data: { kid, scheduled: true },
                });
                logger.info({ kid }, 'signing key rotated on schedule');
              }
            })
            .catch((err: unknown) => logger.error({ err }, 'scheduled signing key rotation failed'));
        },
        Math.min(rotationMs / 10, 3600_000),
      );
      rotateTimer.unref();
      closers.unshift(() => clearInterval(rotateTimer));
    }

    const pruneTimer = setInterval(() => {
      revocations.prune();
      void store.db
        .deleteFrom('client_assertions')
        .where('expires_at', '<', now())
        .execute()
        .catch(() => undefined);
      void sharedReplay?.prune().catch(() => undefined);
    }, 60_000);
    pruneTimer.unref();
    closers.unshift(() => clearInterval(pruneTimer));

    logger.info({ url, publicUrl, store: store.location }, 'writ listening');
    return {
      url,
      publicUrl,
      store,
      register,
      tasks,
      revocations,
      adminAuth,
      flushAudit: () => audit.flush(),
      close: async () => {
        for (const c of closers) {
          try {
            await c();
          } catch (err) {
            logger.warn({ err }, 'error during shutdown');
          }
        }
      },
    };
  } catch (err) {
    for (const c of closers) await Promise.resolve(c()).catch(() => undefined);
    throw err;
  }
}

/** In-memory copies of agents and resources for the per-call path; replaced whole on every register change. */
class RegisterSnapshot {
  readonly #register: Register;
  #agents = new Map<string, Agent>();
  #resources = new Map<string, Resource>();
  constructor(register: Register) {
    this.#register = register;
  }
  async refresh(): Promise<void> {
    const [agents, resources] = await Promise.all([this.#register.listAgents(), this.#register.listResources()]);
    this.#agents = new Map(agents.map((a) => [a.id, a]));
    this.#resources = new Map(resources.map((r) => [r.id, r]));
  }
  agent(id: string): Agent | undefined {
    return this.#agents.get(id);
  }
  resource(id: string): Resource | undefined {
    return this.#resources.get(id);
  }
}

/**
 * The composition root: the only place that constructs concrete implementations and wires them together.
 * Everything else receives its dependencies.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { hostname } from 'node:os';
import Fastify from 'fastify';
import { DPOP_ALGS, PATHS } from '@writ/protocol';
import { RevocationSet } from '@writ/verify/internal';
import { WRIT_VERSION, type WritConfig } from '../config/index.js';
import { FailedAuthThrottle } from '../http/index.js';
import { openStore, type Store } from '../storage/index.js';
import { deriveKey } from '../crypto/index.js';
import { aggregateAnonymousDenials, createAuditWriter, storeAppender } from '../audit/index.js';
import { auditOutlets } from './audit-outlets.js';
import { createPolicyEngine, createCallDecisionCache, createIssuanceDecisionCache, type PolicyEngine } from '../policy/index.js';
import { AgentLifecycle, Register, RegisterSnapshot } from '../register/index.js';
import { RevocationFeed, RevocationService } from '../revocation/index.js';
import { TaskService } from '../tasks/index.js';
import { SigningKeys, type TokenServiceDeps } from '../token/index.js';
import { AdminAuth } from '../admin-api/index.js';
import { createMetrics, startTracing, type Logger } from '../observability/index.js';
import { readNodeReports, type ClusterRole, type Freshness } from '../cluster/index.js';
import { joinCluster } from './cluster-wiring.js';
import { createCallCheck } from './call-check-wiring.js';
import { createIdentityVerifiers } from './identity-wiring.js';
import { registerHttpSurface } from './http-surface.js';
import { listen } from './listener.js';
import { createGateways, egressGuard } from './gateways.js';
import { createOAuthEndpoints } from './oauth-endpoints.js';
import { createAuthorizationServer } from './authorization-server.js';
import { createConsole } from './console-wiring.js';
import { createReadiness } from './readiness.js';
import { createDispatcher } from './route-dispatch.js';
import { startSchedules } from './schedules.js';
import { boundsPerWorker, joinSiblings, journalScope, relayListen, sessionRelay } from './sibling-wiring.js';
import type { SiblingBus } from '../workers/index.js';
import { bearerHoldsScope, createSsfTransmitter, SCOPE_REVOCATION_FEED } from '../ssf/index.js';
import { createVaultParts, keyRing } from './vault-wiring.js';
import { createGovernanceParts } from './governance-wiring.js';
import { CallBudgets } from '../budgets/index.js';
import { budgetCounters } from './budget-wiring.js';

export interface WritServer {
  /** The URL Writ listens on (loopback in dev). */
  readonly url: string;
  readonly publicUrl: string;
  readonly store: Store;
  readonly register: Register;
  readonly tasks: TaskService;
  readonly revocations: RevocationService;
  readonly adminAuth: AdminAuth;
  /** What this node serves, and (on PostgreSQL) its place in the cluster. */
  readonly role: ClusterRole;
  /** With sibling loops: the private loopback port where siblings relay this worker's MCP session requests. */
  readonly relayPort: number | undefined;
  /** This node's revocation freshness: null on the embedded store, where one process holds the whole log. */
  freshness(): Freshness | null;
  flushAudit(): Promise<void>;
  /** Writes agents' last use noted in memory now, instead of at the next interval; returns how many were written. */
  flushAgentUse(): Promise<number>;
  /** Exports the spans buffered so far (when tracing is on). */
  flushTraces(): Promise<void>;
  close(): Promise<void>;
}

export interface StartOptions {
  config: WritConfig;
  logger: Logger;
  /** Overrides for tests: a clock. */
  now?: () => number;
  /** An already-open store (tests); the caller keeps ownership and closes it. */
  store?: Store;
  /** When this is one of the event loops of `writ serve --workers N`: the channel to its siblings (workers/). */
  siblings?: SiblingBus;
}

export async function startWritServer(opts: StartOptions): Promise<WritServer> {
  const { logger, siblings } = opts;
  const config = siblings !== undefined ? boundsPerWorker(opts.config, siblings.workers) : opts.config;
  // With sibling loops, the clocked work (key rotation, checkpoints, sinks, Shared Signals deliveries) is the first
  // slot's: one of each, not N.
  const leads = siblings === undefined || siblings.slot === 1;
  const now = opts.now ?? Date.now;
  const kek = keyRing(config);
  const store =
    opts.store ??
    (await openStore({
      databaseUrl: config.storage.databaseUrl,
      sqlitePath: config.storage.sqlitePath,
      sqliteSynchronous: config.storage.sqliteSynchronous,
    }));
  const closers: Array<() => Promise<void> | void> = opts.store === undefined ? [() => store.close()] : [];
  try {
    // Spans for token requests and gateway calls, exported over OTLP when configured (observability/tracing.ts).
    const tracing = startTracing(config.tracing, WRIT_VERSION);
    closers.unshift(() => tracing.shutdown());
    // Refusals of unauthenticated callers are recorded per window and address, so they cannot grow the log (or its
    // backlog, past which every gateway refuses) at request rate; everything else is recorded as it happens.
    const audit = aggregateAnonymousDenials(
      createAuditWriter({
        appender: storeAppender(store, siblings !== undefined ? { journal: journalScope(siblings) } : {}),
        flushIntervalMs: config.audit.flushIntervalMs,
        maxBuffered: config.audit.maxBufferedEvents,
        commitTimeoutMs: config.audit.commitTimeoutMs,
        logger,
      }),
      { windowMs: config.audit.anonymousDenialWindowSeconds * 1000, now },
    );
    closers.unshift(() => audit.close());
    // Write-ahead records a stop left in the journal are chained before this node serves anything.
    await audit.flush();
    const policy: PolicyEngine = createPolicyEngine();
    closers.unshift(() => policy.close());
    // Observe mode's candidate set: a second policy worker, loaded only while some grant is observed.
    const candidatePolicy: PolicyEngine = createPolicyEngine();
    closers.unshift(() => candidatePolicy.close());
    const register = new Register({ db: store.db, policy, observed: candidatePolicy, audit, now });
    await register.reloadPolicies();
    const lifecycle = new AgentLifecycle({ db: store.db, register, now, onOwnerOffboarded: config.agents.onOwnerOffboarded });
    // What was noted of agents' use is written before the store closes.
    closers.unshift(async () => {
      await lifecycle.flush().catch((err: unknown) => logger.warn({ err }, 'agent last-use flush failed at stop'));
    });

    // What the listener refuses before any handler sees it (stalled or unreadable requests) is on the record too,
    // per window and address like every anonymous refusal.
    const listener = await listen(config.server.host, config.server.port, config.server, (source, status, reason) =>
      audit.record({ type: 'request.refused', decision: 'deny', reason, data: { source, status } }),
    );
    closers.unshift(() => listener.close());
    const url = listener.url;
    // Every request Writ sends on someone's behalf goes through this (upstreams, MCP servers, pushes, identity).
    const egress = egressGuard(config, listener.server);
    const egressFetch = egress.fetch();
    const publicUrl = config.server.publicUrl ?? url;
    // Secrets of every kind, people's connected accounts, the tokens minted from them (vault-wiring.ts).
    const vaultParts = await createVaultParts({ config, db: store.db, kek, egress, publicUrl, logger, now });
    closers.unshift(() => vaultParts.close());
    const { vault } = vaultParts;
    const role = config.cluster.role;
    const serves = { control: role !== 'gateway', gateway: role !== 'control' };
    // Each worker of `writ serve --workers` is a node of its own (a change a node hears from itself is not applied
    // again, so two workers must never share a name): the configured name, suffixed with the worker's slot.
    const nodeId = `${config.cluster.nodeId ?? `${hostname()}-${process.pid}`}${siblings !== undefined ? `/w${siblings.slot}` : ''}`;
    const revocationSet = new RevocationSet();
    const revocations = new RevocationService({
      db: store.db,
      set: revocationSet,
      audit,
      maxTokenLifetimeSeconds: config.tokens.maxLifetimeSeconds,
      now,
    });
    // Revoking a person revokes the use of their connected accounts in the same transaction.
    revocations.addWriteHook(vaultParts.revokeConnectionsOfRevokedUsers);
    await revocations.load();
    const tasks = new TaskService({ db: store.db, revocations, audit, now });
    const keys = new SigningKeys({ db: store.db, kek, now });
    // A gateway node verifies with the keys the control plane made; it never makes one.
    const madeFirstKey = serves.control ? await keys.init(config.tokens.signingAlg) : (await keys.reload(), false);
    // On PostgreSQL every node is a cluster node: what one writes, the others hear (cluster-wiring.ts). The callbacks
    // run once the node has started, when everything they name exists.
    const joined = joinCluster({
      store,
      config,
      nodeId,
      role,
      revocations,
      onRemoteChange: async (kind, id) => {
        if (kind === 'signing_key') await keys.reload();
        else await register.applyRemoteChange({ kind, id });
      },
      // After a gap in what this node heard, nothing it derived from the store is trusted.
      onResync: async () => {
        await register.resync();
        await keys.reload();
        for (const id of await cache.refresh()) gateways.invalidate(id);
        vaultParts.invalidate();
        identity.invalidate();
      },
      logger,
      now,
    });
    const cluster = joined?.node;
    if (joined !== undefined) closers.unshift(() => joined.close());

    // A retired signing key stays published until every token it signed has expired.
    const retiredKeyPublishMs = (config.tokens.maxLifetimeSeconds + config.tokens.clockSkewSeconds + 60) * 1000;
    // Hot-path snapshots of the register, refreshed on every change.
    const cache = new RegisterSnapshot(register);
    await cache.refresh();
    // The latest snapshot refresh: a change made through the admin API is answered only once the hot path has it.
    let snapshotRefresh: Promise<unknown> = Promise.resolve();
    register.onChange((change, origin) => {
      snapshotRefresh = cache.refresh().catch((err: unknown) => logger.error({ err }, 'register snapshot refresh failed'));
      if (change.kind === 'resource') {
        gateways.invalidate(change.id);
      }
      if (change.kind === 'secret') vaultParts.invalidate(change.id);
      if (origin === 'local')
        cluster?.publishChange(change.kind, change.id).catch((err: unknown) => logger.error({ err, change }, 'announcing a change failed'));
    });
    keys.onRotated((kid) => {
      cluster?.publishChange('signing_key', kid).catch((err: unknown) => logger.error({ err, kid }, 'announcing a key rotation failed'));
    });

    const {
      check,
      nonces,
      sharedReplay,
      close: closeCallCheck,
    } = createCallCheck({
      config,
      db: store.db,
      dialect: store.dialect,
      dedicated: store.dedicated?.bind(store),
      kek,
      issuer: publicUrl,
      keys,
      revocations: revocationSet,
      siblings,
      now,
    });
    closers.unshift(closeCallCheck);
    const identity = createIdentityVerifiers({
      register,
      fetch: egressFetch,
      clockSkewSeconds: config.tokens.clockSkewSeconds,
      now,
    });
    const { users, workloads } = identity;
    register.onChange((c) => {
      if (c.kind === 'identity_provider') authorizationServer.invalidate();
    });

    /** Every enforcement point on this node refuses calls while its revocation state is not confirmed current. */
    const revocationCurrent = (): boolean => cluster?.current ?? true;

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
      replay: check.replay,
      audit,
      check,
      // The hot-path snapshot (refreshed on every change, awaited by the admin API), the store for one it lacks yet
      // (a client registered a moment ago).
      findAgent: async (id) => cache.agent(id) ?? (await register.findAgent(id)),
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
      agentUsed: (id, at) => lifecycle.touch(id, at),
      onUnexpected: (err, traceId) => logger.error({ err, trace_id: traceId }, 'token exchange failed unexpectedly'),
    };

    const decisions = createCallDecisionCache(policy, { maxEntries: 100_000 });
    const counters = await budgetCounters(config, store, siblings !== undefined, logger);
    closers.unshift(async () => {
      await counters.close?.();
    });
    const callBudgets = new CallBudgets({ counters, now });
    // Approvals, observe mode and the posture report (governance-wiring.ts).
    const { approvals, observed, posture } = createGovernanceParts({
      config,
      db: store.db,
      keys: kek,
      audit,
      publicUrl,
      now,
      register,
      snapshot: cache,
      lifecycle,
      candidate: candidatePolicy,
      freshness: () => cluster?.freshness() ?? null,
      fetch: egressFetch,
      logger,
    });
    // Approvals stored before their arguments were sealed (migration 0024): sealed now, by whichever node starts first.
    const sealedApprovals = await approvals.sealStored();
    if (sealedApprovals > 0) logger.info({ approvals: sealedApprovals }, 'sealed the arguments of approvals stored in clear');
    // Gauges read at scrape time; the feed and the MCP gateway exist by the first scrape.
    const metrics = createMetrics({
      revocation: () => {
        const f = cluster?.freshness();
        return {
          lastSeq: revocationSet.lastSeq,
          entries: revocationSet.size,
          lagMs: f === undefined ? 0 : (f.lagMs ?? -1),
          current: f?.current ?? true,
        };
      },
      mcpSessions: () => gateways.mcp.sessionCounts,
      revocationFeedClients: () => revocationFeed.clients,
      upstreams: () => gateways.budget.snapshot(),
    });
    // What both gateways (HTTP and MCP) need for the per-call check and the call-time grants.
    const enforcement = {
      publicUrl,
      check,
      resources: { get: (id: string) => cache.resource(id) },
      agents: { get: (id: string) => cache.agent(id) },
      agentUsed: (id: string, at: number) => lifecycle.touch(id, at),
      entitiesVersion: () => String(register.version),
      decisions,
      approvalRule: (reasons: readonly string[]) => policy.approvalRule(reasons),
      toolArguments: (resourceId: string, tool: string) => policy.toolArguments(resourceId, tool),
      budgetRule: (reasons: readonly string[]) => policy.budgetRule(reasons),
      budgets: callBudgets,
      observed,
      approvals,
      ready: () => audit.healthy() && revocationCurrent(),
      dpopAlgs: DPOP_ALGS,
      ...(nonces !== undefined ? { nonces } : {}),
      logger,
      tracing,
    };
    // With sibling loops, an MCP session's later requests may reach another worker, which relays them to this one.
    const relay = siblings !== undefined ? sessionRelay(siblings, audit) : undefined;
    const gateways = createGateways({
      config,
      enforcement,
      audit,
      credentials: vaultParts.credentials,
      egress,
      metrics,
      logger,
      now,
      ...(relay !== undefined ? { sessionIdPrefix: relay.prefix } : {}),
    });
    closers.unshift(() => gateways.close());
    // Grants with conditions on tool arguments are validated against the input schemas the upstreams list now.
    register.useToolLister((resource) => gateways.tools.tools(resource, register.version));
    const adminAuth = new AdminAuth({ db: store.db, fixedToken: config.adminToken });
    // The operator console (console/): its sessions, and the sign-ins it shares with the authorization server.
    const consoleNode = createConsole({
      config,
      db: store.db,
      publicUrl,
      csrfKey: deriveKey(kek, 'console-csrf'),
      adminTokens: adminAuth,
      audit,
      auditHead: async () => {
        const r = await store.db
          .selectFrom('audit_events')
          .select((eb) => eb.fn.max('seq').as('seq'))
          .executeTakeFirst();
        return Number(r?.seq ?? 0);
      },
      now,
    });
    if (consoleNode !== undefined) closers.unshift(() => consoleNode.close());
    // The authorization server for stock OAuth/MCP clients (authorization/): sign-in, consent, its grants.
    const authorizationServer = createAuthorizationServer({
      config,
      db: store.db,
      publicUrl,
      register,
      snapshot: cache,
      tasks,
      policy: tokenService.policy,
      users,
      keys,
      revocations: revocationSet,
      tokenService,
      tools: gateways.tools,
      egress,
      csrfKey: deriveKey(kek, 'oauth-consent-csrf'),
      audit,
      logger,
      now,
      approvals,
      console: consoleNode?.finishSignIn,
      // A connection made or revoked is in force on this node and its sibling loops before the page answers.
      connectedAccounts: vaultParts.connectedAccounts(async (secretId, userId, what) => {
        register.noteConnectionChange(secretId, userId, what);
        await snapshotRefresh;
        await siblings?.settled();
      }),
    });
    // The kill switch reaches open MCP sessions at once, not only at their next request — from any node.
    const offRevoked = revocations.onEntry((entry) => {
      gateways.mcp.revoked(entry);
      // An offboarded person leaves the console too (every node hears the entry; ending sessions twice is harmless).
      if (entry.target.type === 'user' && consoleNode !== undefined)
        void consoleNode.userRevoked(entry.target.userId).catch((err: unknown) => logger.warn({ err }, 'console sessions not ended'));
    });
    closers.unshift(offRevoked);

    // One count of failed credential guesses per address, for admin tokens and receiver tokens alike.
    const authThrottle = new FailedAuthThrottle({
      maxFailures: config.limits.authFailures,
      windowMs: config.limits.authWindowSeconds * 1000,
      lockoutMs: config.limits.authLockoutSeconds * 1000,
      now,
    });
    // Shared Signals transmitter (ssf/): a SET for every revocation made on this node, pushed or polled.
    const ssf = await createSsfTransmitter({
      db: store.db,
      kek,
      issuer: publicUrl,
      revocations,
      audit,
      logger,
      config: config.ssf,
      egress,
      now,
    });
    closers.unshift(() => ssf.close());
    const revocationFeed = new RevocationFeed({
      source: revocations,
      // An admin token, or a receiver credential made for this and nothing else (scope writ.revocation_feed).
      authorize: async (authorization) =>
        (await adminAuth.authenticate(authorization)) !== undefined ||
        (await bearerHoldsScope(ssf.receivers, authorization, SCOPE_REVOCATION_FEED)),
      throttle: authThrottle,
      audit,
    });
    let fastifyHandler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
    // Where the audit goes besides this database: SIEM sinks, and signed checkpoints of its chain (audit-outlets.ts).
    const {
      streamer,
      checkpointKey,
      checkpoints: publishedCheckpoints,
    } = await auditOutlets({
      db: store.db,
      kek,
      config: config.audit,
      issuer: publicUrl,
      fetch: egressFetch,
      logger,
      now,
    });
    closers.unshift(() => streamer.stop());
    const readiness = createReadiness({
      ping: () => store.db.selectFrom('revocations').select('seq').limit(1).execute(),
      auditHealthy: () => audit.healthy(),
      freshness: () => cluster?.freshness(),
      revocations: revocationSet,
      cluster: { role, nodeId },
      mcpSessions: () => gateways.mcp.sessionCounts,
      feedClients: () => revocationFeed.clients,
      upstreams: () => gateways.budget.snapshot(),
    });
    const app = Fastify({
      logger: false,
      bodyLimit: config.server.adminBodyBytes,
      serverFactory: (handler) => {
        fastifyHandler = handler;
        return listener.server;
      },
    });
    registerHttpSurface(app, {
      publicUrl,
      nonce: () => nonces?.current(),
      keys,
      extraJwks: () => [...ssf.jwks(), checkpointKey.publicJwk, vaultParts.assertionKey.publicJwk],
      tasks,
      check,
      adminAuth,
      authThrottle,
      admin: {
        db: store.db,
        register,
        lifecycle,
        approvals,
        posture,
        agentDefaults: config.agents,
        tasks,
        revocations,
        vault,
        keys,
        retiredKeyPublishMs,
        audit,
        // What the admin API reads of the log includes every sibling loop's write-ahead records.
        flushAudit: () =>
          observed
            .settled()
            .then(() => audit.flush())
            .then(() => siblings?.publish({ kind: 'flush' })),
        ssfReceivers: ssf.receivers,
        consents: authorizationServer.consents,
        checkpoints: publishedCheckpoints,
        connections: vaultParts.connectionServices(register),
        kek: vaultParts.kekServices,
        version: WRIT_VERSION,
        node: readiness,
        now,
        nodes: async () =>
          cluster === undefined ? null : readNodeReports(store.db, { intervalMs: config.cluster.reportIntervalMs, now: now() }),
        consoleLinks: consoleNode?.links,
        // Held by this loop's hot path, and by every sibling loop's.
        changesInForce: () => snapshotRefresh.then(() => siblings?.settled()),
      },
      authorization: { routes: authorizationServer.routes, registration: config.authorization.registration.mode !== 'closed' },
      console:
        consoleNode === undefined
          ? undefined
          : { routes: (app) => consoleNode.routes(app, authorizationServer.consoleSignIn), sessions: consoleNode.sessionAuth },
      findResource: (id) => cache.resource(id),
      metrics: metrics.registry,
      readiness,
      audit,
      logger,
    });
    ssf.register(app, authThrottle);
    await app.ready();
    const fastifyDispatch = fastifyHandler;
    if (fastifyDispatch === undefined) throw new Error('fastify did not hand over its request handler');
    const dispatch = createDispatcher({
      role,
      nodeId,
      serves,
      revocationCurrent,
      maxHeadersCount: config.server.maxHeadersCount,
      audit,
      dpopAlgs: DPOP_ALGS,
      httpGateway: (req, res) => gateways.http.handle(req, res),
      mcpGateway: (req, res) => {
        const port = relay?.route(req);
        if (port === undefined) gateways.mcp.handle(req, res);
        else relay?.relay(req, res, port);
      },
      revocationFeed: (req, res) => revocationFeed.handle(req, res),
      oauth: createOAuthEndpoints({
        tracing,
        issuer: publicUrl,
        tokenService,
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
        grants: authorizationServer.grants,
        audit,
        logger,
      }),
      fastify: fastifyDispatch,
    });
    // A worker puts in force what its siblings changed while it started (held until now) before it serves anything.
    if (siblings !== undefined) {
      await joinSiblings(siblings, {
        audit,
        revocations,
        register,
        keys,
        inForce: () => snapshotRefresh.then(() => undefined),
        logger,
      });
    }
    listener.serve(dispatch);
    closers.unshift(() => app.close());
    const relayListener = relay !== undefined ? await relayListen(config.server, dispatch, audit) : undefined;
    if (relayListener !== undefined) closers.unshift(() => relayListener.close());
    // Deliveries are the control plane's work; a gateway node only publishes the SET key in its JWKS.
    if (serves.control && leads) {
      ssf.start();
      // One node streams the log to the sinks its config names (several control nodes would each deliver: see audit.md).
      streamer.start();
    }

    if (cluster !== undefined) {
      cluster.start();
      // Gateway nodes that started before the first key existed learn of it.
      if (madeFirstKey)
        cluster.publishChange('signing_key', 'first').catch((err: unknown) => logger.error({ err }, 'announcing the first key failed'));
      // Serve only once the catch-up is done; if it cannot be within the bound, start anyway and refuse calls until
      // it is (the node says why in /readyz and its logs).
      if (!(await cluster.whenCurrent(config.cluster.maxStalenessMs)))
        logger.error({ nodeId }, 'revocation state not current at start: enforcement points refuse calls until it is');
    }

    const stopSchedules = startSchedules({
      // Rotation is the control plane's work; a gateway node only verifies with the keys it is told of.
      rotationMs: serves.control && leads ? config.tokens.signingKeyRotationHours * 3600_000 : 0,
      retiredKeyPublishMs,
      keys,
      prune: [
        () => revocations.prune(),
        () => store.db.deleteFrom('client_assertions').where('expires_at', '<', now()).execute(),
        () => sharedReplay?.prune(),
        () => authorizationServer.prune(),
        () => consoleNode?.prune(),
        () => callBudgets.prune(),
        // One node ends expired registrations everywhere: their tokens are revoked (reported like any revocation).
        ...(serves.control && leads
          ? [
              () =>
                lifecycle.endExpired((agentId) =>
                  revocations
                    .revoke({ type: 'agent', agentId }, { reason: 'agent registration ended', actor: 'system:schedule' })
                    .then(() => undefined),
                ),
            ]
          : []),
      ],
      audit,
      checkpointMs: serves.control && leads ? config.audit.checkpoints.intervalSeconds * 1000 : 0,
      checkpoint: () => publishedCheckpoints.create(),
      flushAgentUse: () => lifecycle.flush(),
      agentUseFlushMs: config.agents.lastUsedFlushSeconds * 1000,
      logger,
    });
    closers.unshift(stopSchedules);

    logger.info({ url, publicUrl, store: store.location, role, nodeId, ...(siblings ? { slot: siblings.slot } : {}) }, 'writ listening');
    return {
      url,
      publicUrl,
      store,
      register,
      tasks,
      revocations,
      adminAuth,
      role,
      relayPort: relayListener !== undefined ? Number(new URL(relayListener.url).port) : undefined,
      freshness: () => cluster?.freshness() ?? null,
      flushAudit: () => observed.settled().then(() => audit.flush()),
      flushAgentUse: () => lifecycle.flush(),
      flushTraces: () => tracing.flush(),
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

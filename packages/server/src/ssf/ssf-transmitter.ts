/**
 * The Shared Signals Framework transmitter, assembled: every revocation made on this node becomes one SET (CAEP
 * `session-revoked`, or Writ's tool events for a killed tool) per enabled or paused stream that requested it, stored durably before it is pushed (RFC 8935)
 * or polled (RFC 8936).
 */
import type { FastifyInstance } from 'fastify';
import type { JWK } from 'jose';
import type { Kysely } from 'kysely';
import type { KeyEncryptionKey, KeyRing } from '../crypto/index.js';
import type { Logger } from '../observability/index.js';
import type { AuditPort } from '../audit/index.js';
import { recordFromRow, type RevocationRecord, type RevocationWriteHook } from '../revocation/index.js';
import type { Database } from '../storage/index.js';
import { PollWaiters } from './poll-waiters.js';
import { PushWorker } from './push-worker.js';
import { revocationEvent } from './security-event-token.js';
import { loadSetSigningKey } from './set-signing-key.js';
import { SsfOutbox } from './ssf-outbox.js';
import { SsfReceivers } from './ssf-receivers.js';
import { registerSsfRoutes } from './ssf-routes.js';
import type { EgressGuard, FailedAuthThrottle } from '../http/index.js';
import { SsfStreams } from './ssf-streams.js';

export interface SsfTransmitterDeps {
  db: Kysely<Database>;
  kek: KeyEncryptionKey | KeyRing;
  /** Writ's issuer (its public URL): the SETs' `iss` and the discovery document's `issuer`. */
  issuer: string;
  /**
   * Revocations made on this node: their SETs are stored in the revocation's own transaction (`addWriteHook`), so
   * both commit or neither; deliveries start once it has committed (`onRevoked`). Each is enqueued exactly once.
   */
  revocations: {
    addWriteHook(hook: RevocationWriteHook): void;
    onRevoked(listener: (r: RevocationRecord) => void): () => void;
  };
  audit: AuditPort;
  logger: Logger;
  /** Where pushes may go. */
  egress: EgressGuard;
  config: { pollMaxWaitSeconds: number; pushTimeoutMs: number; pushRetryInitialMs: number };
  now?: () => number;
  /** How often the push worker looks for work other nodes enqueued, ms (default 5,000). */
  sweepIntervalMs?: number;
}

export interface SsfTransmitter {
  readonly receivers: SsfReceivers;
  /** The SET key's public JWK, for Writ's JWKS document. */
  jwks(): JWK[];
  /** Mounts the SSF routes; `throttle` counts failed receiver authentications per address. */
  register(app: FastifyInstance, throttle: FailedAuthThrottle): void;
  start(): void;
  close(): Promise<void>;
}

/**
 * @example
 * const ssf = await createSsfTransmitter({ db, kek, issuer: publicUrl, revocations, audit, logger, config: config.ssf });
 * ssf.register(app, throttle);
 * ssf.start();
 * // … on shutdown
 * await ssf.close();
 */
export async function createSsfTransmitter(deps: SsfTransmitterDeps): Promise<SsfTransmitter> {
  const now = deps.now ?? Date.now;
  const key = await loadSetSigningKey({ db: deps.db, kek: deps.kek, now });
  const receivers = new SsfReceivers({ db: deps.db, audit: deps.audit, now });
  const streams = new SsfStreams({ db: deps.db, kek: deps.kek, issuer: deps.issuer, now });
  const waiters = new PollWaiters();
  let worker: PushWorker | undefined = undefined;
  const outbox = new SsfOutbox({
    db: deps.db,
    key,
    issuer: deps.issuer,
    now,
    onEnqueued: (ids) => {
      waiters.notify(ids);
      worker?.wake();
    },
  });
  worker = new PushWorker({
    outbox,
    streams,
    logger: deps.logger,
    timeoutMs: deps.config.pushTimeoutMs,
    retryInitialMs: deps.config.pushRetryInitialMs,
    egress: deps.egress,
    now,
    ...(deps.sweepIntervalMs !== undefined ? { sweepIntervalMs: deps.sweepIntervalMs } : {}),
  });

  // Streams whose SETs a revocation's transaction stored, to wake once it has committed.
  const toWake = new Map<number, string[]>();
  deps.revocations.addWriteHook(async (trx, row) => {
    const event = revocationEvent(recordFromRow(row), deps.issuer);
    const targets = await streams.subscribed(event.type, trx);
    if (targets.length === 0) return;
    await outbox.enqueue(targets, event, { db: trx, announce: false });
    // A rolled-back transaction leaves its entry behind; the bound keeps that from growing.
    if (toWake.size > 10_000) toWake.clear();
    toWake.set(
      row.seq,
      targets.map((t) => t.id),
    );
  });
  const off = deps.revocations.onRevoked((record) => {
    const ids = toWake.get(record.seq);
    if (ids === undefined) return;
    toWake.delete(record.seq);
    waiters.notify(ids);
    worker?.wake();
  });
  const pruneTimer = setInterval(() => void outbox.prune(24 * 3600_000).catch(() => undefined), 3600_000);
  pruneTimer.unref();

  return {
    receivers,
    jwks: () => [key.publicJwk],
    register: (app, throttle) =>
      registerSsfRoutes(app, {
        throttle,
        issuer: deps.issuer,
        receivers,
        streams,
        outbox,
        waiters,
        audit: deps.audit,
        pollMaxWaitMs: deps.config.pollMaxWaitSeconds * 1000,
      }),
    start: () => worker.start(),
    close: async () => {
      off();
      clearInterval(pruneTimer);
      waiters.close();
      await worker.close();
    },
  };
}

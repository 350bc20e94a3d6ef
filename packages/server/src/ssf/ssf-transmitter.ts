/**
 * The Shared Signals Framework transmitter, assembled: every revocation made on this node becomes one CAEP
 * `session-revoked` SET per enabled or paused stream that requested it, stored durably before it is pushed (RFC 8935)
 * or polled (RFC 8936).
 */
import type { FastifyInstance } from 'fastify';
import type { JWK } from 'jose';
import type { Kysely } from 'kysely';
import type { KeyEncryptionKey } from '../crypto/index.js';
import type { Logger } from '../observability/index.js';
import type { AuditPort, Clock } from '../register/index.js';
import type { RevocationRecord } from '../revocation/index.js';
import type { Database } from '../storage/index.js';
import { PollWaiters } from './poll-waiters.js';
import { PushWorker } from './push-worker.js';
import { sessionRevokedEvent } from './security-event-token.js';
import { SetSigningKey } from './set-signing-key.js';
import { SsfOutbox } from './ssf-outbox.js';
import { SsfReceivers } from './ssf-receivers.js';
import { registerSsfRoutes } from './ssf-routes.js';
import { SsfStreams } from './ssf-streams.js';
import { EVENT_SESSION_REVOKED } from './ssf-vocabulary.js';

export interface SsfTransmitterDeps {
  db: Kysely<Database>;
  kek: KeyEncryptionKey;
  /** Writ's issuer (its public URL): the SETs' `iss` and the discovery document's `issuer`. */
  issuer: string;
  /** Revocations made on this node (`RevocationService.onRevoked`): each one is enqueued exactly once, here. */
  revocations: { onRevoked(listener: (r: RevocationRecord) => void): () => void };
  audit: AuditPort;
  logger: Logger;
  config: { pollMaxWaitSeconds: number; pushTimeoutMs: number; pushRetryInitialMs: number };
  now?: Clock;
  /** How often the push worker looks for work other nodes enqueued, ms (default 5,000). */
  sweepIntervalMs?: number;
}

export interface SsfTransmitter {
  readonly receivers: SsfReceivers;
  /** The SET key's public JWK, for Writ's JWKS document. */
  jwks(): JWK[];
  register(app: FastifyInstance): void;
  start(): void;
  close(): Promise<void>;
  /** Resolves when every revocation seen so far is in the outbox (tests, orderly shutdown). */
  flush(): Promise<void>;
}

/**
 * @example
 * const ssf = await createSsfTransmitter({ db, kek, issuer: publicUrl, revocations, audit, logger, config: config.ssf });
 * ssf.register(app);
 * ssf.start();
 * // … on shutdown
 * await ssf.close();
 */
export async function createSsfTransmitter(deps: SsfTransmitterDeps): Promise<SsfTransmitter> {
  const now = deps.now ?? Date.now;
  const key = await SetSigningKey.load({ db: deps.db, kek: deps.kek, now });
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
    now,
    ...(deps.sweepIntervalMs !== undefined ? { sweepIntervalMs: deps.sweepIntervalMs } : {}),
  });

  // One at a time, so SETs are stored in the order the revocations were made.
  let queue: Promise<void> = Promise.resolve();
  const off = deps.revocations.onRevoked((record) => {
    queue = queue
      .then(async () => {
        const targets = await streams.subscribed(EVENT_SESSION_REVOKED);
        await outbox.enqueue(targets, sessionRevokedEvent(record, deps.issuer));
      })
      .catch((err: unknown) => deps.logger.error({ err, seq: record.seq }, 'ssf: revocation not enqueued'));
  });
  const pruneTimer = setInterval(() => void outbox.prune(24 * 3600_000).catch(() => undefined), 3600_000);
  pruneTimer.unref();

  return {
    receivers,
    jwks: () => [key.publicJwk],
    register: (app) =>
      registerSsfRoutes(app, {
        issuer: deps.issuer,
        receivers,
        streams,
        outbox,
        waiters,
        audit: deps.audit,
        logger: deps.logger,
        pollMaxWaitMs: deps.config.pollMaxWaitSeconds * 1000,
      }),
    start: () => worker.start(),
    flush: () => queue,
    close: async () => {
      off();
      clearInterval(pruneTimer);
      waiters.close();
      await queue;
      await worker.close();
    },
  };
}

/**
 * Where the audit goes besides the database: the configured sinks (SIEM endpoints, rotating files, each from its own
 * cursor), and signed checkpoints of the chain — with a key of their own, published in the JWKS — pushed to a file
 * and an endpoint as they are made.
 */
import type { Kysely } from 'kysely';
import { AuditCheckpoints, CHECKPOINT_KEY, type AuditCheckpoint } from '../audit/index.js';
import { AuditStreamer, checkpointPublisher } from '../audit-sinks/index.js';
import { WRIT_VERSION, type WritConfig } from '../config/index.js';
import type { KeyEncryptionKey, KeyRing } from '../crypto/index.js';
import { DedicatedKey } from '../dedicated-keys/index.js';
import type { Logger } from '../observability/index.js';
import type { Database } from '../storage/index.js';

export interface AuditOutlets {
  streamer: AuditStreamer;
  checkpointKey: DedicatedKey;
  /** Checkpoints as the admin API and the schedule use them: a new one is also pushed out. */
  checkpoints: {
    create(): Promise<{ checkpoint: AuditCheckpoint; created: boolean } | undefined>;
    list: AuditCheckpoints['list'];
  };
}

export async function auditOutlets(deps: {
  db: Kysely<Database>;
  kek: KeyEncryptionKey | KeyRing;
  config: WritConfig['audit'];
  issuer: string;
  fetch: typeof fetch;
  logger: Logger;
  now: () => number;
}): Promise<AuditOutlets> {
  const streamer = new AuditStreamer({
    db: deps.db,
    sinks: deps.config.sinks,
    fetch: deps.fetch,
    productVersion: WRIT_VERSION,
    pollMs: deps.config.sinkPollMs,
    logger: deps.logger,
    now: deps.now,
  });
  const checkpointKey = await DedicatedKey.load({ db: deps.db, kek: deps.kek, now: deps.now }, CHECKPOINT_KEY);
  const checkpoints = new AuditCheckpoints({ db: deps.db, key: checkpointKey, issuer: deps.issuer, now: deps.now });
  const publish = checkpointPublisher(deps.config.checkpoints, { fetch: deps.fetch, logger: deps.logger });
  return {
    streamer,
    checkpointKey,
    checkpoints: {
      async create() {
        // Only a head that moved: a quiet log is not signed again and again.
        const made = await checkpoints.create();
        // Pushed in the background (retried with backoff; failures logged): it is stored already, and exported on demand.
        if (made?.created === true) void publish(made.checkpoint);
        return made;
      },
      list: (o) => checkpoints.list(o),
    },
  };
}

/**
 * What a node does on a clock: rotate the token-signing key when it is due (control nodes; every rotation audited),
 * sign the audit chain's head when it moved (control nodes), write agents' last use in batches, and once a minute drop what can no longer matter — revocation entries past every token they could hit, spent client
 * assertions and DPoP replay entries past their expiry.
 */
import type { AuditPort } from '../audit/index.js';
import type { Logger } from '../observability/index.js';

export interface ScheduleDeps {
  /** Rotate when the active key is older than this (0: on command only). */
  rotationMs: number;
  /** How long a retired key stays published: until every token it signed has expired. */
  retiredKeyPublishMs: number;
  keys: { rotateIfDue(olderThanMs: number, publishMs: number): Promise<string | undefined> };
  /** Each minute's pruning; failures are not errors (the next minute tries again). */
  prune: Array<() => unknown>;
  audit: AuditPort;
  /** Sign the audit chain's head this often when it moved (0: on demand only). */
  checkpointMs: number;
  checkpoint: () => Promise<unknown>;
  /** Write agents' noted `last_used_at` this often. */
  flushAgentUse: () => Promise<unknown>;
  agentUseFlushMs: number;
  logger: Logger;
}

const PRUNE_INTERVAL_MS = 60_000;

/** Starts the timers (unref'd: they never hold the process open); returns what stops them. */
export function startSchedules(deps: ScheduleDeps): () => void {
  const timers: NodeJS.Timeout[] = [];
  if (deps.rotationMs > 0) {
    const rotate = (): void => {
      deps.keys
        .rotateIfDue(deps.rotationMs, deps.retiredKeyPublishMs)
        .then((kid) => {
          if (kid === undefined) return;
          deps.audit.record({
            type: 'admin.change',
            actor_chain: ['system:schedule'],
            decision: 'allow',
            reason: 'signing_key.rotated',
            data: { kid, scheduled: true },
          });
          deps.logger.info({ kid }, 'signing key rotated on schedule');
        })
        .catch((err: unknown) => deps.logger.error({ err }, 'scheduled signing key rotation failed'));
    };
    timers.push(setInterval(rotate, Math.min(deps.rotationMs / 10, 3600_000)).unref());
  }
  if (deps.checkpointMs > 0) {
    const checkpoint = (): void => {
      deps.checkpoint().catch((err: unknown) => deps.logger.error({ err }, 'audit checkpoint failed; retried at the next interval'));
    };
    timers.push(setInterval(checkpoint, deps.checkpointMs).unref());
  }
  const flushAgentUse = (): void => {
    deps.flushAgentUse().catch((err: unknown) => deps.logger.warn({ err }, 'agent last-use flush failed; retried at the next interval'));
  };
  timers.push(setInterval(flushAgentUse, deps.agentUseFlushMs).unref());
  const failed = (err: unknown): void => deps.logger.warn({ err }, 'pruning failed; retried in a minute');
  const prune = (): void => {
    for (const step of deps.prune) {
      try {
        void Promise.resolve(step()).catch(failed);
      } catch (err) {
        failed(err);
      }
    }
  };
  timers.push(setInterval(prune, PRUNE_INTERVAL_MS).unref());
  return () => {
    for (const t of timers) clearInterval(t);
  };
}

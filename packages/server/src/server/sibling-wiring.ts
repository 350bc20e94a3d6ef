/**
 * One event loop of `writ serve --workers N` among its siblings (workers/): what it revokes or changes is put in force
 * in every sibling before it is answered, and what a sibling revokes or changes is put in force here. An audit read
 * waits until every sibling has chained what it had written ahead.
 */
import type { JournalScope } from '../audit/index.js';
import type { Logger } from '../observability/index.js';
import type { Register } from '../register/index.js';
import type { RevocationService } from '../revocation/index.js';
import type { SigningKeys } from '../token/index.js';
import type { SiblingBus, SiblingEvent } from '../workers/index.js';

/**
 * Each slot marks its journal entries; the first worker of a start (no sibling running) chains what every slot left,
 * a worker started again after a crash only its own slot's.
 */
export function journalScope(bus: SiblingBus): JournalScope {
  return { owner: `w${bus.slot}`, recover: bus.first ? 'all' : 'own' };
}

export async function joinSiblings(
  bus: SiblingBus,
  deps: {
    audit: { flush(): Promise<void> };
    revocations: RevocationService;
    register: Register;
    keys: SigningKeys;
    /** Resolves once this loop's hot path holds the register changes made so far. */
    inForce(): Promise<void>;
    logger: Logger;
  },
): Promise<void> {
  const { revocations, register, keys, logger } = deps;
  const failed = (what: string) => (err: unknown) => logger.error({ err }, `putting ${what} in force in the sibling loops failed`);
  revocations.addInForceHook((entry) => bus.publish({ kind: 'revocation', entry }).catch(failed('a revocation')));
  register.onChange((change, origin) => {
    if (origin === 'local') bus.publish({ kind: 'change', change: change.kind, id: change.id }).catch(failed('a change'));
  });
  keys.onRotated((kid) => {
    bus.publish({ kind: 'change', change: 'signing_key', id: kid }).catch(failed('a key rotation'));
  });
  // Acknowledged only once this loop enforces it: the revocation set holds it, or the hot path's snapshot does.
  await bus.handle(async (event: SiblingEvent) => {
    if (event.kind === 'revocation') {
      revocations.applyRemote(event.entry);
      return;
    }
    if (event.kind === 'flush') {
      // A store that is down fails the flush; that is the writer's to report, not a reason to stop this loop.
      await deps.audit.flush().catch(() => undefined);
      return;
    }
    if (event.change === 'signing_key') await keys.reload();
    else await register.applyRemoteChange({ kind: event.change, id: event.id });
    await deps.inForce();
  });
}

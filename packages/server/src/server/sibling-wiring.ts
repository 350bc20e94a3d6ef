/**
 * One event loop of `writ serve --workers N` among its siblings (workers/): what it revokes or changes is put in force
 * in every sibling before it is answered, and what a sibling revokes or changes is put in force here. An audit read
 * waits until every sibling has chained what it had written ahead.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PATHS } from '@writ/protocol';
import type { AuditPort, JournalScope } from '../audit/index.js';
import { sendWire, writCodeResponse } from '../errors/index.js';
import { listen, type Listener, type ListenerLimits } from './listener.js';
import type { WritConfig } from '../config/index.js';
import type { Logger } from '../observability/index.js';
import type { Register } from '../register/index.js';
import type { RevocationService } from '../revocation/index.js';
import type { SigningKeys } from '../token/index.js';
import { SessionRelay, type SiblingBus, type SiblingEvent } from '../workers/index.js';

/**
 * Each slot marks its journal entries; the first worker of a start (no sibling running) chains what every slot left,
 * a worker started again after a crash only its own slot's.
 */
export function journalScope(bus: SiblingBus): JournalScope {
  return { owner: `w${bus.slot}`, recover: bus.first ? 'all' : 'own' };
}

/** How long an audit read waits for a sibling's flush. */
const FLUSH_WAIT_MS = 1_000;

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
      // A store that is down or slow fails or delays the flush; that is the writer's to report, not a reason for the
      // primary to stop this loop: the read waits a second at most for it.
      let timer: NodeJS.Timeout | undefined;
      const bounded = new Promise<void>((resolve) => (timer = setTimeout(resolve, FLUSH_WAIT_MS)));
      await Promise.race([deps.audit.flush().catch(() => undefined), bounded]);
      clearTimeout(timer);
      return;
    }
    if (event.change === 'signing_key') await keys.reload();
    else await register.applyRemoteChange({ kind: event.change, id: event.id });
    await deps.inForce();
  });
}

/** Relays requests for a sibling's MCP sessions to it; a request for a session whose worker is gone is refused here. */
export function sessionRelay(bus: SiblingBus, audit: AuditPort): SessionRelay {
  return new SessionRelay(
    bus.slot,
    () => bus.relayPorts,
    (req) =>
      audit.record({
        type: 'call.denied',
        decision: 'deny',
        reason: 'ERR_MCP_SESSION_UNKNOWN',
        data: { source: req.socket.remoteAddress ?? 'unknown', relayed_from_slot: bus.slot },
      }),
  );
}

/**
 * The private listener siblings relay this worker's MCP session requests to: loopback, a port of this process's
 * own, the same limits and dispatcher as the public one, and nothing but the MCP gateway's paths.
 */
export function relayListen(
  limits: ListenerLimits,
  dispatch: (req: IncomingMessage, res: ServerResponse) => void,
  audit: AuditPort,
): Promise<Listener> {
  // Refused here like at the public listener: on the record, per address.
  const refused = (source: string, status: number, reason: string): void =>
    audit.record({ type: 'request.refused', decision: 'deny', reason, data: { source, status, listener: 'relay' } });
  return listen('127.0.0.1', 0, limits, refused, { exclusive: true }).then((l) => {
    l.serve((req, res) => {
      if ((req.url ?? '').startsWith(PATHS.mcpResourcePrefix)) return dispatch(req, res);
      refused(req.socket.remoteAddress ?? 'unknown', 404, 'ERR_ROLE_NOT_SERVED');
      sendWire(res, writCodeResponse('ERR_ROLE_NOT_SERVED', 'this listener serves relayed MCP session requests only'));
    });
    return l;
  });
}

/**
 * The bounds a machine enforces, split across its workers, since each worker counts only what it sees: the upstream
 * shares, the MCP session caps and the failed-credential budget. Each worker holds the floor of its share, and at
 * least one, so the workers together never hold more than the bound (unless it is below the number of workers).
 */
export function boundsPerWorker(config: WritConfig, workers: number): WritConfig {
  const share = (n: number): number => Math.max(1, Math.floor(n / workers));
  return {
    ...config,
    limits: {
      ...config.limits,
      authFailures: share(config.limits.authFailures),
      upstreamConnections: share(config.limits.upstreamConnections),
      upstreamConnectionsPerAgent: share(config.limits.upstreamConnectionsPerAgent),
      upstreamConnectionsPerTask: share(config.limits.upstreamConnectionsPerTask),
    },
    mcp: {
      ...config.mcp,
      maxSessions: share(config.mcp.maxSessions),
      maxSessionsPerTask: share(config.mcp.maxSessionsPerTask),
      maxSessionsPerAgent: share(config.mcp.maxSessionsPerAgent),
    },
  };
}

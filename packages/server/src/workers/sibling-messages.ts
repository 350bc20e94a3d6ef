/**
 * What the event loops of one `writ serve --workers N` say to each other, through the primary process (Node's cluster
 * IPC channel). The primary relays; it holds no state of Writ's but the DPoP replay set shared by its workers.
 *
 * - `broadcast` → the primary sends `event` to every other worker → each puts it in force and answers `ack` → once all
 *   have (or the primary has stopped one that could not), the maker gets `done`, and only then answers its request.
 * - `replay` → `replayed`: is this proof's key new to the whole box? (RFC 9449 §11.1 across event loops.)
 */
import type { RevocationEntry } from '../revocation/index.js';
import type { ChangeKind } from '../cluster/index.js';

/** Something one loop changed that every loop must hold before the change is answered, or must do before a read. */
export type SiblingEvent =
  | { kind: 'revocation'; entry: RevocationEntry }
  | { kind: 'change'; change: ChangeKind; id: string }
  /** Chain what you have written ahead: an audit read follows. */
  | { kind: 'flush' };

export type ToPrimary =
  /** `relayPort`: this worker's private loopback listener, where siblings relay requests for its MCP sessions. */
  | { writ: 'ready'; url: string; relayPort: number }
  | { writ: 'broadcast'; id: number; event: SiblingEvent }
  | { writ: 'ack'; id: number }
  /** Every proof key new to this worker in one turn of its event loop: one message, one wake-up of the primary. */
  | { writ: 'replay'; asks: Array<{ id: number; key: string; expiresAt: number }> };

export type ToWorker =
  | { writ: 'event'; id: number; event: SiblingEvent }
  | { writ: 'done'; id: number }
  | { writ: 'replayed'; answers: Array<{ id: number; fresh: boolean; full: boolean }> }
  /** Every live worker's private listener, by slot (sent again whenever one changes). */
  | { writ: 'relays'; ports: Record<string, number> };

/** Messages on the channel that are not ours (another library's) are ignored, not misread. */
export function isOurs<T extends { writ: string }>(m: unknown): m is T {
  return typeof m === 'object' && m !== null && typeof (m as { writ?: unknown }).writ === 'string';
}

/** The environment variables through which the primary tells a worker which slot it fills. */
export const WORKER_SLOT_ENV = 'WRIT_WORKER_SLOT';
/** How many workers the primary runs: each holds its share of every per-machine bound. */
export const WORKER_COUNT_ENV = 'WRIT_WORKER_COUNT';
/** Set for the first worker of a start: no sibling runs yet, so it may chain every slot's journal. */
export const WORKER_FIRST_ENV = 'WRIT_WORKER_FIRST';

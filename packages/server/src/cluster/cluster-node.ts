/**
 * A node of a Writ cluster: every node shares one PostgreSQL, and what one node changes reaches the others through
 * LISTEN/NOTIFY — revocations (each carrying its sequence in the durable log) and register, policy and key changes.
 *
 * NOTIFY is fast but not a log: a node whose connection drops misses what was sent meanwhile. So the log is the truth
 * and NOTIFY only the doorbell. On every (re)connection the node catches up from the log before it counts as current;
 * while connected, a heartbeat on the listening connection itself asks the log which sequences exist and fills any
 * gap. The node is *current* only while its listening connection is up and caught up and its last confirmation is
 * younger than `maxStalenessMs`; otherwise every enforcement point on it refuses calls (fail closed) and `/readyz`
 * says why. Freshness is reported as numbers.
 */
import { sql, type Kysely } from 'kysely';
import type { Database, RevocationRow } from '../storage/index.js';
import type { RevocationService } from '../revocation/index.js';
import { entryFromRow } from '../revocation/index.js';
import type { RegisterChange } from '../register/index.js';
import type { Logger } from '../observability/index.js';
import {
  channelsFor,
  decodeChange,
  decodeRevocation,
  encodeChange,
  encodeRevocation,
  MAX_PAYLOAD_BYTES,
  type ChangeKind,
} from './channels.js';
import { PgListener } from './pg-listener.js';

export type ClusterRole = 'both' | 'control' | 'gateway';

/** A sequence taken by a transaction becomes visible only at its commit; this long is allowed for that, ms. */
const COMMIT_WINDOW_MS = 10_000;

export interface ClusterNodeDeps {
  db: Kysely<Database>;
  connection: { connectionString: string; options?: string };
  schema: string;
  nodeId: string;
  role: ClusterRole;
  revocations: Pick<RevocationService, 'applyRemote' | 'catchUp' | 'hasSeen' | 'set'>;
  /** A change another node made (register kinds, or `signing_key`). */
  onRemoteChange(kind: ChangeKind, id: string): Promise<void>;
  /** After a gap in what this node heard: reload everything derived from the store. */
  onResync(): Promise<void>;
  heartbeatIntervalMs: number;
  maxStalenessMs: number;
  logger: Logger;
  /** Wall clock (epoch ms) as the log's `created_at` is written; freshness itself is measured on a monotonic clock. */
  now?: () => number;
  /** Monotonic ms (tests); default `performance.now`. A wall-clock jump must neither fake nor hide staleness. */
  monotonic?: () => number;
}

/**
 * `starting`: no catch-up yet; `catching_up`: the listening connection was lost — the node may have missed entries, so
 * it refuses calls until it has reconnected and caught up; `current`; `stale`: connected, but no confirmation within
 * the bound (a silent partition).
 */
export type FreshnessState = 'starting' | 'catching_up' | 'current' | 'stale';

export interface Freshness {
  mode: 'cluster';
  state: FreshnessState;
  /** Calls are served: the last confirmation is within the bound. */
  current: boolean;
  /** The listening connection is up. */
  connected: boolean;
  /** Highest log sequence applied on this node. */
  lastSeq: number;
  /** Highest sequence the log held at the last confirmation. */
  logSeq: number;
  /** Milliseconds since this node last proved it held every entry of the log (null: never yet). */
  lagMs: number | null;
  maxStalenessMs: number;
  /** When the last confirmation started (epoch ms, real time), null before the first. */
  confirmedAt: number | null;
  lastError: string | null;
  /** Notifications that did not parse (dropped; the next heartbeat repairs what they meant). */
  invalidNotifications: number;
}

export class ClusterNode {
  readonly #d: ClusterNodeDeps;
  readonly #now: () => number;
  readonly #mono: () => number;
  readonly #channels: ReturnType<typeof channelsFor>;
  readonly #listener: PgListener;
  #confirmedAt: number | null = null;
  #logSeq = 0;
  #everConnected = false;
  /** False from the moment the listening connection is lost until the next catch-up has finished. */
  #caughtUp = false;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #beating = false;
  #wasCurrent = false;
  #invalid = 0;
  /** (time, lastSeq) at past confirmations: the oldest one inside the commit window bounds what is re-read. */
  #marks: Array<{ at: number; seq: number }>;
  readonly #waiters = new Set<() => void>();

  constructor(deps: ClusterNodeDeps) {
    this.#d = deps;
    this.#now = deps.now ?? Date.now;
    this.#mono = deps.monotonic ?? (() => performance.now());
    this.#channels = channelsFor(deps.schema);
    // Constructed after the log was loaded: everything up to the loaded sequence is held; what was still committing
    // then is found by the first catch-up, which also re-reads the commit window by creation time.
    this.#marks = [{ at: this.#now() - COMMIT_WINDOW_MS, seq: deps.revocations.set.lastSeq }];
    this.#listener = new PgListener({
      connection: deps.connection,
      channels: [this.#channels.revocation, this.#channels.change],
      applicationName: `writ-listener:${deps.nodeId}`.slice(0, 63),
      onNotification: (channel, payload) => this.#onNotification(channel, payload),
      onConnected: () => this.#onConnected(),
      onLost: () => {
        this.#caughtUp = false;
        void this.current;
      },
      logger: deps.logger,
      queryTimeoutMs: Math.max(500, Math.min(deps.maxStalenessMs, 10_000)),
    });
  }

  get role(): ClusterRole {
    return this.#d.role;
  }

  get nodeId(): string {
    return this.#d.nodeId;
  }

  /** For RevocationService's `publish`: the NOTIFY rides in the writing transaction and is sent only at its commit. */
  readonly publishRevocation = async (trx: Kysely<Database>, row: RevocationRow): Promise<void> => {
    const payload = encodeRevocation(row);
    // Too long to announce (cannot happen with validated ids): the others find it at their next heartbeat.
    if (Buffer.byteLength(payload) > MAX_PAYLOAD_BYTES) return;
    await sql`SELECT pg_notify(${this.#channels.revocation}, ${payload})`.execute(trx);
  };

  /** Tells the other nodes a register change or a key rotation made here; they reload what depends on it. */
  async publishChange(kind: RegisterChange['kind'] | 'signing_key', id: string): Promise<void> {
    const payload = encodeChange({ kind, id: id.slice(0, 1024), node: this.#d.nodeId });
    await sql`SELECT pg_notify(${this.#channels.change}, ${payload})`.execute(this.#d.db);
  }

  start(): void {
    this.#listener.start();
    this.#heartbeat = setInterval(() => void this.#beat(), this.#d.heartbeatIntervalMs);
    this.#heartbeat.unref();
  }

  /** True while the node may serve calls: it confirmed it holds the whole log within `maxStalenessMs`. */
  get current(): boolean {
    const c = this.#confirmedAt;
    const ok = this.#caughtUp && c !== null && this.#mono() - c <= this.#d.maxStalenessMs;
    if (ok !== this.#wasCurrent) this.#transition(ok);
    return ok;
  }

  freshness(): Freshness {
    const current = this.current;
    const c = this.#confirmedAt;
    const lag = c === null ? null : Math.max(0, Math.round(this.#mono() - c));
    return {
      mode: 'cluster',
      state: current ? 'current' : c === null ? 'starting' : !this.#caughtUp ? 'catching_up' : 'stale',
      current,
      connected: this.#listener.up,
      lastSeq: this.#d.revocations.set.lastSeq,
      logSeq: this.#logSeq,
      lagMs: lag,
      maxStalenessMs: this.#d.maxStalenessMs,
      confirmedAt: lag === null ? null : Date.now() - lag,
      lastError: this.#listener.lastError,
      invalidNotifications: this.#invalid,
    };
  }

  /** Resolves once the node is current, or after `timeoutMs` (false): start-up waits for the first catch-up. */
  whenCurrent(timeoutMs: number): Promise<boolean> {
    if (this.current) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        this.#waiters.delete(done);
        resolve(this.current);
      };
      const t = setTimeout(done, timeoutMs);
      t.unref();
      this.#waiters.add(done);
    });
  }

  async close(): Promise<void> {
    if (this.#heartbeat !== undefined) clearInterval(this.#heartbeat);
    for (const w of [...this.#waiters]) w();
    await this.#listener.close();
  }

  #onNotification(channel: string, payload: string): void {
    if (channel === this.#channels.revocation) {
      const n = decodeRevocation(payload);
      if (n === null) {
        this.#invalid++;
        return;
      }
      this.#d.revocations.applyRemote(entryFromRow(n));
      // A notification is sent at its entry's commit: the log holds at least this much.
      if (n.seq > this.#logSeq) this.#logSeq = n.seq;
      return;
    }
    if (channel === this.#channels.change) {
      const c = decodeChange(payload);
      if (c === null) {
        this.#invalid++;
        return;
      }
      if (c.node === this.#d.nodeId) return;
      this.#d
        .onRemoteChange(c.kind, c.id)
        .catch((err: unknown) => this.#d.logger.error({ err, change: c }, 'applying a cluster change failed'));
    }
  }

  /** A new listening connection: catch up from the log (and, after a gap, reload everything) before counting as current. */
  async #onConnected(): Promise<void> {
    const started = this.#now();
    const startedMono = this.#mono();
    const mark = this.#windowMark(started);
    if (this.#everConnected) await this.#d.onResync();
    this.#logSeq = await this.#d.revocations.catchUp(mark.seq, mark.at - COMMIT_WINDOW_MS);
    this.#everConnected = true;
    this.#caughtUp = true;
    this.#confirmed(started, startedMono);
  }

  /**
   * Asks the log, on the listening connection itself, which live entries exist past the commit-window mark; any this
   * node has not applied is a missed notification, repaired by a catch-up. An answer proves the connection that
   * carries NOTIFY is alive; no answer within the query timeout replaces the connection.
   */
  async #beat(): Promise<void> {
    if (this.#beating || !this.#listener.up) {
      void this.current; // logs a fall out of currency even while nothing else asks
      return;
    }
    this.#beating = true;
    const started = this.#now();
    const startedMono = this.#mono();
    const generation = this.#listener.generation;
    try {
      const mark = this.#windowMark(started);
      const nowSec = Math.floor(started / 1000);
      const rows = await this.#listener.query<{ seq: string | number }>(
        `SELECT seq FROM revocations WHERE seq > ${Math.floor(mark.seq)} AND expires_at >= ${nowSec} ORDER BY seq LIMIT 10001`,
      );
      const seqs = rows.map((r) => Number(r.seq));
      const missing = seqs.some((s) => !this.#d.revocations.hasSeen(s)) || seqs.length > 10_000;
      const logSeq = seqs.at(-1) ?? mark.seq;
      if (missing) this.#logSeq = await this.#d.revocations.catchUp(mark.seq, mark.at - COMMIT_WINDOW_MS);
      else this.#logSeq = Math.max(logSeq, this.#logSeq);
      this.#confirmed(started, startedMono);
    } catch (err) {
      this.#listener.reset(`heartbeat failed: ${(err as Error).message}`, generation);
    } finally {
      this.#beating = false;
      void this.current;
    }
  }

  #confirmed(at: number, atMono: number): void {
    this.#confirmedAt = atMono;
    this.#marks.push({ at, seq: this.#d.revocations.set.lastSeq });
    // Keep one mark older than the window (the one re-reads start from) and those inside it.
    while (this.#marks.length > 2 && (this.#marks[1] as { at: number }).at <= at - COMMIT_WINDOW_MS) this.#marks.shift();
    void this.current;
    for (const w of [...this.#waiters]) w();
  }

  /** The last confirmation at least a commit window old: every entry at or below its seq has surely committed. */
  #windowMark(now: number): { at: number; seq: number } {
    let m = this.#marks[0] as { at: number; seq: number };
    for (const x of this.#marks) if (x.at <= now - COMMIT_WINDOW_MS) m = x;
    return m;
  }

  #transition(current: boolean): void {
    this.#wasCurrent = current;
    const c = this.#confirmedAt;
    const f = {
      lastSeq: this.#d.revocations.set.lastSeq,
      confirmedAt: c === null ? null : new Date(Date.now() - (this.#mono() - c)).toISOString(),
      maxStalenessMs: this.#d.maxStalenessMs,
    };
    if (current) this.#d.logger.info(f, 'revocation state current: serving calls');
    else
      this.#d.logger.error(
        { ...f, reason: this.#listener.lastError ?? 'no confirmation within the bound' },
        'revocation state not confirmed current within the bound: refusing calls',
      );
  }
}

/**
 * The primary of `writ serve --workers N`: it serves nothing itself. It starts N worker processes that share the one
 * listening port (Node's cluster module hands each new connection to a worker), relays what one worker changed to the
 * others and answers the maker once all hold it, keeps the DPoP replay set the workers share, and starts a worker
 * again when one dies.
 *
 * The first worker starts alone (it migrates the store, chains whatever the journal holds, makes the first signing
 * key); the others start once it serves. A worker that does not acknowledge a change within `ackTimeoutMs` is
 * stopped (SIGKILL) and started again from the store: a loop that cannot say it holds a revocation does not serve.
 */
import cluster, { type Worker } from 'node:cluster';
import { InMemoryReplayCache, ReplayCacheFullError } from '@writ/verify/internal';
import type { Logger } from '../observability/index.js';
import {
  isOurs,
  WORKER_COUNT_ENV,
  WORKER_FIRST_ENV,
  WORKER_SLOT_ENV,
  type SiblingEvent,
  type ToPrimary,
  type ToWorker,
} from './sibling-messages.js';

export interface PrimaryOptions {
  workers: number;
  replayCacheSize: number;
  ackTimeoutMs: number;
  logger: Logger;
  /** A worker that dies within this long of its start is started again only after it (a crash loop is not spun). */
  restartDelayMs?: number;
}

export interface Primary {
  /** Resolves with the URL the workers listen on once every slot serves; rejects if the first worker cannot start. */
  readonly ready: Promise<string>;
  /** How many times a worker was started again after it died or was stopped. */
  restarts(): number;
  stop(): Promise<void>;
}

interface Relay {
  origin: Worker;
  originId: number;
  waiting: Set<Worker>;
  timer: NodeJS.Timeout;
}

const QUICK_DEATH_MS = 5_000;

export function startPrimary(opts: PrimaryOptions): Primary {
  const { logger } = opts;
  const replay = new InMemoryReplayCache({ maxEntries: opts.replayCacheSize });
  const slots = new Map<Worker, { slot: number; startedAt: number; ready: boolean; relayPort?: number }>();
  const relays = new Map<number, Relay>();
  let relayN = 0;
  let stopping = false;
  let restarts = 0;
  let url: string | undefined;
  let resolveReady: (url: string) => void = () => undefined;
  let rejectReady: (err: Error) => void = () => undefined;
  const ready = new Promise<string>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  let allStarted = false;

  const send = (w: Worker, m: ToWorker): void => {
    if (w.isConnected()) w.send(m);
  };

  /** Every worker learns where each live sibling takes relayed MCP session requests. */
  const announceRelays = (): void => {
    const ports: Record<string, number> = {};
    for (const [w, s] of slots) if (!w.isDead() && s.relayPort !== undefined) ports[String(s.slot)] = s.relayPort;
    for (const w of slots.keys()) send(w, { writ: 'relays', ports });
  };

  const finish = (id: number): void => {
    const r = relays.get(id);
    if (r === undefined || r.waiting.size > 0) return;
    clearTimeout(r.timer);
    relays.delete(id);
    send(r.origin, { writ: 'done', id: r.originId });
  };

  const broadcast = (origin: Worker, originId: number, event: SiblingEvent): void => {
    const id = ++relayN;
    // Every other worker gets the event; the answer waits for those that serve. One still starting holds it before it
    // serves (it applies what it received, in order, before its listener answers anything but 503), and it read the
    // store after this change was committed or hears of it here: it is not waited for, nor stopped for being slow.
    const others = [...slots.keys()].filter((w) => w !== origin && !w.isDead());
    const waiting = new Set(others.filter((w) => slots.get(w)?.ready === true));
    const timer = setTimeout(() => {
      const r = relays.get(id);
      if (r === undefined) return;
      for (const w of r.waiting) {
        logger.error(
          { slot: slots.get(w)?.slot, event: event.kind },
          'a worker did not put a change in force in time: stopped, and started again from the store',
        );
        w.process.kill('SIGKILL');
      }
      r.waiting.clear();
      finish(id);
    }, opts.ackTimeoutMs);
    relays.set(id, { origin, originId, waiting, timer });
    for (const w of others) send(w, { writ: 'event', id, event });
    finish(id);
  };

  const onMessage = (w: Worker, m: unknown): void => {
    if (!isOurs<ToPrimary>(m)) return;
    switch (m.writ) {
      case 'replay': {
        const answers = m.asks.map(({ id, key, expiresAt }) => {
          try {
            return { id, fresh: replay.checkAndStore(key, expiresAt), full: false };
          } catch (err) {
            if (!(err instanceof ReplayCacheFullError)) throw err;
            return { id, fresh: false, full: true };
          }
        });
        send(w, { writ: 'replayed', answers });
        return;
      }
      case 'broadcast':
        broadcast(w, m.id, m.event);
        return;
      case 'ack': {
        const r = relays.get(m.id);
        if (r === undefined) return;
        r.waiting.delete(w);
        finish(m.id);
        return;
      }
      case 'ready': {
        const s = slots.get(w);
        if (s === undefined) return;
        s.ready = true;
        s.relayPort = m.relayPort;
        url ??= m.url;
        announceRelays();
        logger.info({ slot: s.slot, pid: w.process.pid }, 'worker serving');
        if (!allStarted) {
          allStarted = true;
          for (let slot = 2; slot <= opts.workers; slot++) fork(slot, false);
        }
        if ([...slots.values()].filter((x) => x.ready).length >= opts.workers) resolveReady(url);
        return;
      }
    }
  };

  const fork = (slot: number, first: boolean): void => {
    const w = cluster.fork({
      [WORKER_SLOT_ENV]: String(slot),
      [WORKER_COUNT_ENV]: String(opts.workers),
      [WORKER_FIRST_ENV]: first ? '1' : '0',
    });
    slots.set(w, { slot, startedAt: Date.now(), ready: false });
    w.on('message', (m: unknown) => onMessage(w, m));
    w.on('exit', (code, signal) => {
      const s = slots.get(w);
      slots.delete(w);
      if (!stopping) announceRelays();
      // A dead loop serves nothing: the changes it was to acknowledge no longer wait for it.
      for (const [id, r] of relays) {
        if (r.waiting.delete(w)) finish(id);
      }
      if (stopping || s === undefined) return;
      if (!allStarted) {
        rejectReady(new Error(`the first worker exited (${signal ?? `code ${code}`}) before it served`));
        return;
      }
      restarts++;
      const quick = Date.now() - s.startedAt < QUICK_DEATH_MS;
      logger.error({ slot: s.slot, code, signal }, 'worker died: started again');
      setTimeout(() => fork(s.slot, false), quick ? (opts.restartDelayMs ?? 1_000) : 0).unref();
    });
  };

  fork(1, true);

  return {
    ready,
    restarts: () => restarts,
    async stop() {
      stopping = true;
      const exits = [...slots.keys()].map(
        (w) => new Promise<void>((resolve) => (w.isDead() ? resolve() : w.once('exit', () => resolve()))),
      );
      for (const w of slots.keys()) w.process.kill('SIGTERM');
      await Promise.all(exits);
    },
  };
}

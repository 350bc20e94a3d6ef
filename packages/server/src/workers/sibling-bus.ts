/**
 * A worker's side of the channel to its siblings (sibling-messages.ts): publish what this loop changed and wait until
 * every sibling holds it; put in force what a sibling changed; ask whether a DPoP proof is new to the whole box.
 *
 * If the primary goes away, nobody can vouch for this loop's state any more: the worker exits (see `attach`).
 */
import { ReplayCacheFullError, type ReplayCache } from '@writ/verify/internal';
import { isOurs, type SiblingEvent, type ToPrimary, type ToWorker } from './sibling-messages.js';

export interface SiblingChannel {
  send(m: ToPrimary): void;
  onMessage(listener: (m: unknown) => void): void;
}

export class SiblingBus {
  readonly slot: number;
  /** How many workers the primary runs. */
  readonly workers: number;
  /** The first worker of a start: no sibling was running when it started. */
  readonly first: boolean;
  readonly #channel: SiblingChannel;
  #n = 0;
  readonly #waiting = new Map<number, () => void>();
  readonly #published = new Map<number, Promise<void>>();
  readonly #replays = new Map<number, { resolve(fresh: boolean): void; reject(err: Error): void }>();
  #asks: Array<{ id: number; key: string; expiresAt: number }> = [];
  #askSoon: NodeJS.Immediate | undefined;
  #handler: ((e: SiblingEvent) => Promise<void>) | undefined;
  /** Each live sibling's private listener, by slot (session-relay.ts). */
  relayPorts: ReadonlyMap<number, number> = new Map();
  /** Events that arrived before this loop could apply them: applied, in order, once it can. */
  #early: Array<{ id: number; event: SiblingEvent }> = [];

  constructor(channel: SiblingChannel, opts: { slot: number; workers: number; first: boolean }) {
    this.#channel = channel;
    this.slot = opts.slot;
    this.workers = opts.workers;
    this.first = opts.first;
    channel.onMessage((m) => {
      if (isOurs<ToWorker>(m)) this.#receive(m);
    });
  }

  /** Resolves once every sibling holds `event` (or was stopped because it could not take it). */
  publish(event: SiblingEvent): Promise<void> {
    const id = ++this.#n;
    const done = new Promise<void>((resolve) => {
      this.#waiting.set(id, resolve);
      this.#channel.send({ writ: 'broadcast', id, event });
    });
    this.#published.set(id, done);
    return done;
  }

  /** Resolves once everything published before the call is held by every sibling. */
  settled(): Promise<void> {
    return Promise.all(this.#published.values()).then(() => undefined);
  }

  /** How a sibling's event is put in force here; events that came earlier are applied now, in order. */
  async handle(handler: (e: SiblingEvent) => Promise<void>): Promise<void> {
    this.#handler = handler;
    const early = this.#early;
    this.#early = [];
    for (const e of early) await this.#apply(e.id, e.event);
  }

  /** Tells the primary this loop serves. */
  ready(url: string, relayPort: number): void {
    this.#channel.send({ writ: 'ready', url, relayPort });
  }

  /**
   * A replay cache for the whole box: this loop's own memory answers a replay to it at once; a proof new here is
   * asked of the primary, which holds the set every loop shares.
   */
  replayCache(local: ReplayCache): ReplayCache {
    return {
      checkAndStore: async (key, expiresAt) => {
        if (!(await local.checkAndStore(key, expiresAt))) return false;
        const id = ++this.#n;
        return new Promise<boolean>((resolve, reject) => {
          this.#replays.set(id, { resolve, reject });
          this.#asks.push({ id, key, expiresAt });
          if (this.#askSoon !== undefined) return;
          this.#askSoon = setImmediate(() => {
            this.#askSoon = undefined;
            const asks = this.#asks;
            this.#asks = [];
            this.#channel.send({ writ: 'replay', asks });
          });
        });
      },
    };
  }

  #receive(m: ToWorker): void {
    if (m.writ === 'done') {
      const resolve = this.#waiting.get(m.id);
      this.#waiting.delete(m.id);
      this.#published.delete(m.id);
      resolve?.();
    } else if (m.writ === 'replayed') {
      for (const a of m.answers) {
        const p = this.#replays.get(a.id);
        this.#replays.delete(a.id);
        if (a.full) p?.reject(new ReplayCacheFullError());
        else p?.resolve(a.fresh);
      }
    } else if (m.writ === 'relays') {
      this.relayPorts = new Map(Object.entries(m.ports).map(([slot, port]) => [Number(slot), port]));
    } else if (m.writ === 'event') {
      if (this.#handler === undefined) this.#early.push({ id: m.id, event: m.event });
      else void this.#apply(m.id, m.event);
    }
  }

  async #apply(id: number, event: SiblingEvent): Promise<void> {
    try {
      await (this.#handler as (e: SiblingEvent) => Promise<void>)(event);
    } catch {
      // Not acknowledged: the primary stops this loop when its deadline passes, rather than let it serve without
      // what a sibling put in force.
      return;
    }
    this.#channel.send({ writ: 'ack', id });
  }
}

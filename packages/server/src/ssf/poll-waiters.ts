/**
 * Long polling (RFC 8936 §2.4, `returnImmediately: false`): a poll with nothing to return waits here until this node
 * enqueues a SET for its stream, the wait bound passes, the client goes away, or the transmitter closes. SETs that
 * another node enqueued are noticed when the wait's slice ends and the poll looks again.
 */
export class PollWaiters {
  readonly #waiting = new Map<string, Set<() => void>>();
  #closed = false;

  /** Resolves when woken or after `ms`, whichever is first. */
  wait(streamId: string, ms: number, signal?: AbortSignal): Promise<void> {
    if (this.#closed || ms <= 0 || signal?.aborted === true) return Promise.resolve();
    return new Promise((resolve) => {
      let set = this.#waiting.get(streamId);
      if (set === undefined) this.#waiting.set(streamId, (set = new Set()));
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        set.delete(done);
        if (set.size === 0 && this.#waiting.get(streamId) === set) this.#waiting.delete(streamId);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
      set.add(done);
    });
  }

  notify(streamIds: Iterable<string>): void {
    for (const id of streamIds) for (const done of [...(this.#waiting.get(id) ?? [])]) done();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** How many polls are waiting (tests use it to know a long poll is parked before they act). */
  waitingOn(streamId: string): number {
    return this.#waiting.get(streamId)?.size ?? 0;
  }

  close(): void {
    this.#closed = true;
    for (const set of [...this.#waiting.values()]) for (const done of [...set]) done();
  }
}

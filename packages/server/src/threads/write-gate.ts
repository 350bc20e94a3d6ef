/**
 * One process's turn at writing its SQLite file, across its threads (the event loop's connection and the audit
 * writer thread's). SQLite already lets one connection write at a time, but a connection that finds the file locked
 * waits in its busy handler, which sleeps 1, 2, 5 … ms between tries: on the event loop, every such conflict stopped
 * all calls for a millisecond or more where the other side's transaction took a tenth of that. Taking this gate
 * first, a writer waits exactly as long as the other's transaction — woken by `Atomics.notify` — and then never meets
 * the lock inside SQLite.
 *
 * The gate only orders writers; SQLite's locking stays what keeps the file consistent. A wait that outlasts its
 * bound goes on without the gate (to SQLite's busy handling, as before), and a thread that dies holding the gate has
 * it released by whoever saw it die.
 */

const FREE = 0;

/** Who holds the gate: the cell says, so that a dead holder's turn can be given back without touching a live one's. */
export const GATE_HOLDER = { eventLoop: 1, auditThread: 2 } as const;
export type GateHolder = (typeof GATE_HOLDER)[keyof typeof GATE_HOLDER];

export class WriteGate {
  readonly #cell: Int32Array;

  /** `shared`: a gate made elsewhere (the other thread's `shared`); none makes a new one. */
  constructor(shared?: SharedArrayBuffer) {
    this.#cell = new Int32Array(shared ?? new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));
  }

  /** What to hand another thread so that it takes turns with this one. */
  get shared(): SharedArrayBuffer {
    return this.#cell.buffer as SharedArrayBuffer;
  }

  /** Waits for the gate at most `timeoutMs`; false when it was not had in time (the caller goes on regardless). */
  acquire(holder: GateHolder, timeoutMs: number): boolean {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const seen = Atomics.compareExchange(this.#cell, 0, FREE, holder);
      if (seen === FREE) return true;
      const left = deadline - performance.now();
      if (left <= 0) return false;
      Atomics.wait(this.#cell, 0, seen, left);
    }
  }

  /** Gives the gate back if `holder` has it (a holder's own release, or for a holder that died). */
  release(holder: GateHolder): void {
    if (Atomics.compareExchange(this.#cell, 0, holder, FREE) === holder) Atomics.notify(this.#cell, 0, 1);
  }
}

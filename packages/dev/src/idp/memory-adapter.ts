/**
 * The dev identity provider's storage: an explicit in-memory adapter (oidc-provider's adapter interface), so its
 * state visibly lives and dies with `writ dev`. Expired entries are dropped on read.
 */
type Payload = Record<string, unknown> & { grantId?: string; uid?: string; userCode?: string; consumed?: number };

type Stores = Map<string, Map<string, { payload: Payload; expiresAt: number | undefined }>>;

/** A fresh adapter class per provider, so two dev providers in one process never share state. */
export function memoryAdapter(): new (name: string) => MemoryAdapter {
  const stores: Stores = new Map();
  return class extends MemoryAdapter {
    constructor(name: string) {
      super(name, stores);
    }
  };
}

export class MemoryAdapter {
  readonly #name: string;
  readonly #stores: Stores;
  constructor(name: string, stores: Stores) {
    this.#name = name;
    this.#stores = stores;
  }

  #store(): Map<string, { payload: Payload; expiresAt: number | undefined }> {
    let s = this.#stores.get(this.#name);
    if (s === undefined) {
      s = new Map();
      this.#stores.set(this.#name, s);
    }
    return s;
  }

  async upsert(id: string, payload: Payload, expiresIn?: number): Promise<void> {
    this.#store().set(id, { payload, expiresAt: expiresIn === undefined ? undefined : Date.now() + expiresIn * 1000 });
  }

  async find(id: string): Promise<Payload | undefined> {
    const e = this.#store().get(id);
    if (e === undefined) return undefined;
    if (e.expiresAt !== undefined && e.expiresAt <= Date.now()) {
      this.#store().delete(id);
      return undefined;
    }
    return e.payload;
  }

  async findByUid(uid: string): Promise<Payload | undefined> {
    for (const [id, e] of this.#store()) if (e.payload.uid === uid) return this.find(id);
    return undefined;
  }

  async findByUserCode(userCode: string): Promise<Payload | undefined> {
    for (const [id, e] of this.#store()) if (e.payload.userCode === userCode) return this.find(id);
    return undefined;
  }

  async consume(id: string): Promise<void> {
    const e = this.#store().get(id);
    if (e !== undefined) e.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id: string): Promise<void> {
    this.#store().delete(id);
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    for (const s of this.#stores.values()) for (const [id, e] of s) if (e.payload.grantId === grantId) s.delete(id);
  }
}

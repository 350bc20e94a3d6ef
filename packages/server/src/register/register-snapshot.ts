/**
 * In-memory copies of agents and resources for the per-call path: a gateway call must not wait on the store. Replaced
 * whole on every register change (the composition root refreshes it from the register's change events).
 */
import type { Agent, Resource } from './entities.js';
import type { Register } from './register.js';

export class RegisterSnapshot {
  readonly #register: Pick<Register, 'listAgents' | 'listResources'>;
  #agents = new Map<string, Agent>();
  #resources = new Map<string, Resource>();

  constructor(register: Pick<Register, 'listAgents' | 'listResources'>) {
    this.#register = register;
  }

  /** Returns the ids of resources added, changed or removed since the last refresh. */
  async refresh(): Promise<string[]> {
    const [agents, resources] = await Promise.all([this.#register.listAgents(), this.#register.listResources()]);
    const before = this.#resources;
    this.#agents = new Map(agents.map((a) => [a.id, a]));
    this.#resources = new Map(resources.map((r) => [r.id, r]));
    const changed = [...before.keys()].filter((id) => !this.#resources.has(id));
    for (const [id, r] of this.#resources) if (JSON.stringify(before.get(id)) !== JSON.stringify(r)) changed.push(id);
    return changed;
  }

  agent(id: string): Agent | undefined {
    return this.#agents.get(id);
  }

  resource(id: string): Resource | undefined {
    return this.#resources.get(id);
  }
}

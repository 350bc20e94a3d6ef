/**
 * `WritAgent`: an agent's whole life with Writ in a few calls — start a task for a user (token exchange bound to
 * the agent's DPoP key), call tools with the task's DPoP `fetch`, complete the task.
 */
import { PATHS, type AuthorizationDetail } from '@writ/protocol';
import type { CryptoKey, KeyObject } from 'jose';
import { generateDpopKey, type DpopKey } from './dpop-key.js';
import { createDpopFetch } from './dpop-fetch.js';
import { exchangeToken } from './token-exchange.js';

export interface WritAgentOptions {
  /** Writ's base URL (its issuer identifier). */
  issuer: string;
  agentId: string;
  /** The private key whose public half is registered for the agent (private_key_jwt). */
  clientKey: CryptoKey | KeyObject;
  clientKid?: string;
  clientAlg?: string;
  /** The DPoP key; one is generated when absent. */
  dpopKey?: DpopKey;
  fetch?: typeof fetch;
}

export interface StartTaskOptions {
  subjectToken: string;
  subjectTokenType?: string;
  resource: string;
  authorizationDetails: AuthorizationDetail[];
  purpose: string;
  scope?: string;
}

export interface Task {
  id: string;
  token: string;
  /** Epoch seconds. */
  expiresAt: number;
  /** What was granted (may be less than what was asked). */
  authorizationDetails: AuthorizationDetail[];
  /** A fetch that presents the task token with a fresh DPoP proof on every request. */
  fetch: typeof fetch;
  complete(): Promise<void>;
}

export class TaskCompletionError extends Error {
  readonly status: number;
  constructor(status: number, body: string) {
    super(`task completion refused (${status}): ${body.slice(0, 200)}`);
    this.name = 'TaskCompletionError';
    this.status = status;
  }
}

/**
 * @example
 * const agent = new WritAgent({ issuer: 'http://127.0.0.1:7420', agentId: 'demo-agent', clientKey });
 * const task = await agent.startTask({ subjectToken: idToken, subjectTokenType: TOKEN_TYPE.idToken,
 *   resource: 'http://127.0.0.1:7420/r/demo-api', purpose: 'list projects',
 *   authorizationDetails: [{ type: 'http', actions: ['GET'], paths: ['/v1/projects'] }] });
 * const res = await task.fetch('http://127.0.0.1:7420/r/demo-api/v1/projects');
 * await task.complete();
 */
export class WritAgent {
  readonly #opts: WritAgentOptions;
  #dpopKey: DpopKey | undefined;

  constructor(opts: WritAgentOptions) {
    this.#opts = opts;
    this.#dpopKey = opts.dpopKey;
  }

  async dpopKey(): Promise<DpopKey> {
    this.#dpopKey ??= await generateDpopKey();
    return this.#dpopKey;
  }

  async startTask(o: StartTaskOptions): Promise<Task> {
    const key = await this.dpopKey();
    const issuer = this.#opts.issuer.replace(/\/+$/, '');
    const doFetch = this.#opts.fetch ?? fetch;
    const r = await exchangeToken({
      issuer,
      clientId: this.#opts.agentId,
      clientKey: this.#opts.clientKey,
      ...(this.#opts.clientKid !== undefined ? { clientKid: this.#opts.clientKid } : {}),
      ...(this.#opts.clientAlg !== undefined ? { clientAlg: this.#opts.clientAlg } : {}),
      dpopKey: key,
      subjectToken: o.subjectToken,
      ...(o.subjectTokenType !== undefined ? { subjectTokenType: o.subjectTokenType } : {}),
      resource: o.resource,
      authorizationDetails: o.authorizationDetails,
      purpose: o.purpose,
      ...(o.scope !== undefined ? { scope: o.scope } : {}),
      fetch: doFetch,
    });
    const token = r.access_token;
    const taskFetch = createDpopFetch({ accessToken: token, key, fetch: doFetch });
    return {
      id: r.task_id,
      token,
      expiresAt: Math.floor(Date.now() / 1000) + r.expires_in,
      authorizationDetails: r.authorization_details,
      fetch: taskFetch,
      complete: async () => {
        // Through the task's own DPoP fetch, so a server nonce challenge is answered like anywhere else.
        const res = await taskFetch(`${issuer}${PATHS.taskComplete}`, { method: 'POST' });
        if (!res.ok) throw new TaskCompletionError(res.status, await res.text());
        await res.body?.cancel();
      },
    };
  }
}

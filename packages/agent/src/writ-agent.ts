/**
 * An agent's life with Writ in three calls: start a task for a user with an RFC 8693
 * token exchange bound to the agent's DPoP key (RFC 9449 §5), call tools with the task's DPoP fetch (RFC 9449 §7.1),
 * and complete the task, which kills its token at every enforcement point.
 */
import { PATHS, TOKEN_TYPE, type TaskAuthorizationDetail, type TokenExchangeResponse } from '@writ/protocol';
import { createActorAssertion } from './actor-assertion.js';
import type { CryptoKey, KeyObject } from 'jose';
import { createDpopFetch } from './dpop-fetch.js';
import { generateDpopKey, type DpopKey } from './dpop-key.js';
import { readJsonObject } from './read-json-object.js';
import { TaskCompletionError } from './task-completion-error.js';
import { exchangeToken } from './token-exchange.js';

export interface WritAgentOptions {
  /** Writ's base URL (its issuer identifier), e.g. `http://127.0.0.1:7420`. */
  issuer: string;
  /** The registered agent id (the OAuth `client_id`). */
  agentId: string;
  /** The private key whose public half is in the agent's registered JWKS (private_key_jwt). */
  clientKey?: CryptoKey | KeyObject;
  /**
   * Workload identity instead of a key: returns the platform's current token for this workload (a Kubernetes
   * projected service-account token, a SPIFFE JWT-SVID, a CI OIDC token), read afresh for every exchange.
   */
  workloadToken?: () => string | Promise<string>;
  /** Defaults to `urn:ietf:params:oauth:token-type:jwt`. */
  workloadTokenType?: string;
  clientKid?: string;
  /** Defaults to the algorithm the key implies. */
  clientAlg?: string;
  /** The DPoP key tokens are bound to; an ES256 key is generated on first use when absent. */
  dpopKey?: DpopKey;
  fetch?: typeof fetch;
}

export interface StartTaskOptions {
  /** The user's token from the trusted IdP (or, for a sub-agent, the parent's task token). */
  subjectToken: string;
  /** Defaults to `urn:ietf:params:oauth:token-type:jwt`. */
  subjectTokenType?: string;
  /** The resource URI the task is for (RFC 8707), e.g. `${issuer}/r/github`. */
  resource: string;
  /** The actions asked for (RFC 9396); Writ grants these or fewer. */
  authorizationDetails: readonly TaskAuthorizationDetail[];
  /** Why the task exists, in a sentence; recorded and visible to grants. */
  purpose: string;
  scope?: string;
}

export interface Task {
  readonly id: string;
  /** The DPoP-bound task token; useless without the agent's DPoP key. */
  readonly token: string;
  /** When the token expires, in seconds since the epoch (like a JWT `exp`). */
  readonly expiresAt: number;
  /** What was granted, which may be less than what was asked. */
  readonly authorizationDetails: readonly TaskAuthorizationDetail[];
  /** A fetch that presents the task token with a fresh DPoP proof on every request. */
  readonly fetch: typeof fetch;
  /** Ends the task at Writ; its token (and every descendant's) stops working at once. */
  complete(): Promise<void>;
  /**
   * Asks Writ for a child task for a sub-agent: a subset of this task's authorization details, for no
   * longer than this task lives. Returns the token response for the sub-agent, which only the sub-agent can use
   * (it is bound to the sub-agent's key): pass it to the sub-agent's `WritAgent.adoptTask`.
   */
  delegate(o: DelegateOptions): Promise<TokenExchangeResponse>;
}

export interface DelegateOptions {
  /** From the sub-agent: its `actorAssertion()`, or its workload token together with `dpopJkt`. */
  actorToken: string;
  actorTokenType?: string;
  /** With a workload `actorToken`: the thumbprint of the sub-agent's DPoP key. */
  dpopJkt?: string;
  authorizationDetails?: readonly TaskAuthorizationDetail[];
  scope?: string;
  /** Defaults to the parent task's purpose. */
  purpose?: string;
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
  readonly #issuer: string;
  #dpopKey: Promise<DpopKey> | undefined;
  // One nonce memory for the token endpoint and every task's fetch: Writ serves both from one origin and one nonce
  // space, so a nonce from one answer saves the next request a refusal (RFC 9449 §8.2, §9).
  readonly #nonces = new Map<string, string>();

  constructor(opts: WritAgentOptions) {
    this.#opts = opts;
    this.#issuer = opts.issuer.replace(/\/+$/, '');
    if (opts.dpopKey !== undefined) this.#dpopKey = Promise.resolve(opts.dpopKey);
  }

  #fetch(): typeof fetch {
    return this.#opts.fetch ?? globalThis.fetch;
  }

  /** The agent's DPoP key (generated once, on first use, when none was given). */
  dpopKey(): Promise<DpopKey> {
    // The promise is kept, not the key, so that concurrent first calls share one key.
    this.#dpopKey ??= generateDpopKey();
    return this.#dpopKey;
  }

  /** The actor assertion a parent needs to delegate to this agent (this agent's id, key and DPoP key). */
  async actorAssertion(): Promise<string> {
    if (this.#opts.clientKey === undefined) throw new TypeError('an actor assertion needs the agent clientKey');
    return createActorAssertion({
      agentId: this.#opts.agentId,
      audience: `${this.#issuer}${PATHS.token}`,
      key: this.#opts.clientKey,
      dpopKey: await this.dpopKey(),
      ...(this.#opts.clientKid !== undefined ? { kid: this.#opts.clientKid } : {}),
      ...(this.#opts.clientAlg !== undefined ? { alg: this.#opts.clientAlg } : {}),
    });
  }

  async startTask(o: StartTaskOptions): Promise<Task> {
    const key = await this.dpopKey();
    const workload = this.#opts.workloadToken !== undefined ? await this.#opts.workloadToken() : undefined;
    const r = await exchangeToken({
      issuer: this.#issuer,
      clientId: this.#opts.agentId,
      ...(workload === undefined && this.#opts.clientKey !== undefined ? { clientKey: this.#opts.clientKey } : {}),
      ...(workload !== undefined
        ? { actorToken: workload, ...(this.#opts.workloadTokenType !== undefined ? { actorTokenType: this.#opts.workloadTokenType } : {}) }
        : {}),
      ...(this.#opts.clientKid !== undefined ? { clientKid: this.#opts.clientKid } : {}),
      ...(this.#opts.clientAlg !== undefined ? { clientAlg: this.#opts.clientAlg } : {}),
      dpopKey: key,
      subjectToken: o.subjectToken,
      ...(o.subjectTokenType !== undefined ? { subjectTokenType: o.subjectTokenType } : {}),
      resource: o.resource,
      authorizationDetails: o.authorizationDetails,
      purpose: o.purpose,
      ...(o.scope !== undefined ? { scope: o.scope } : {}),
      nonces: this.#nonces,
      fetch: this.#fetch(),
    });
    return this.adoptTask(r);
  }

  /** A task from a token response: one this agent got itself, or one its parent delegated to it. */
  async adoptTask(r: TokenExchangeResponse): Promise<Task> {
    const key = await this.dpopKey();
    const doFetch = this.#fetch();
    const taskFetch = createDpopFetch({ accessToken: r.access_token, key, fetch: doFetch, nonces: this.#nonces });
    const completeUrl = `${this.#issuer}${PATHS.taskComplete}`;
    let completed: Promise<void> | undefined;
    const complete = async (): Promise<void> => {
      // Through the task's own DPoP fetch, so a nonce challenge is answered like anywhere else.
      const res = await taskFetch(completeUrl, { method: 'POST' });
      if (res.status === 200 || res.status === 204) {
        await res.body?.cancel();
        return;
      }
      const body = await readJsonObject(res);
      const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
      const error = str(body?.['error']);
      const description = str(body?.['error_description']);
      const code = str(body?.['code']);
      throw new TaskCompletionError(res.status, {
        ...(error !== undefined ? { error } : {}),
        ...(description !== undefined ? { error_description: description } : {}),
        ...(code !== undefined ? { code } : {}),
      });
    };
    return Object.freeze({
      id: r.task_id,
      token: r.access_token,
      expiresAt: Math.floor(Date.now() / 1000) + r.expires_in,
      authorizationDetails: r.authorization_details,
      fetch: taskFetch,
      delegate: (d: DelegateOptions) =>
        exchangeToken({
          issuer: this.#issuer,
          dpopKey: key,
          subjectToken: r.access_token,
          subjectTokenType: TOKEN_TYPE.accessToken,
          proveSubjectToken: true,
          actorToken: d.actorToken,
          ...(d.actorTokenType !== undefined ? { actorTokenType: d.actorTokenType } : {}),
          ...(d.dpopJkt !== undefined ? { dpopJkt: d.dpopJkt } : {}),
          ...(d.authorizationDetails !== undefined ? { authorizationDetails: d.authorizationDetails } : {}),
          ...(d.scope !== undefined ? { scope: d.scope } : {}),
          ...(d.purpose !== undefined ? { purpose: d.purpose } : {}),
          nonces: this.#nonces,
          fetch: doFetch,
        }),
      // Completing twice is not an error: the second call returns the first call's outcome. A failed attempt is
      // forgotten so that it can be tried again.
      complete: (): Promise<void> =>
        (completed ??= complete().catch((err: unknown) => {
          completed = undefined;
          throw err;
        })),
    });
  }
}

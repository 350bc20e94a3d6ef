/**
 * An upstream connection whose every message back — answers, notifications, the upstream's own requests — is
 * scrubbed of the credentials injected into it before the session sees it (principle 2, the return direction). The
 * credential may change during a session (a rotated secret, a re-minted token), so every value injected so far is
 * searched for, not only the latest.
 */
import type { SecretScrubber } from '../../../vault/index.js';
import { UpstreamError, type JsonRpcMessage, type UpstreamConnection, type UpstreamSendContext } from './upstream-connection.js';

export class ScrubbedConnection implements UpstreamConnection {
  readonly #inner: UpstreamConnection;
  readonly #scrubbers = new Set<SecretScrubber>();
  readonly #found: (secrets: string[], message: JsonRpcMessage) => void;
  onMessage: ((message: JsonRpcMessage) => void) | undefined;
  onClose: ((reason: string) => void) | undefined;
  readonly listen?: (on: boolean) => void;
  readonly abandon?: (id: string) => void;

  constructor(inner: UpstreamConnection, found: (secrets: string[], message: JsonRpcMessage) => void) {
    this.#inner = inner;
    this.#found = found;
    inner.onMessage = (m) => this.onMessage?.(this.#scrub(m));
    inner.onClose = (reason) => this.onClose?.(reason);
    if (inner.listen !== undefined) this.listen = (on) => inner.listen?.(on);
    if (inner.abandon !== undefined) this.abandon = (id) => inner.abandon?.(id);
  }

  /** A credential was injected into a message to this upstream: its values are searched for from now on. */
  injected(scrubber: SecretScrubber): void {
    if (!scrubber.empty) this.#scrubbers.add(scrubber);
  }

  /** A refusal quotes the upstream's answer (its status and the start of its body): that too is scrubbed. */
  send(message: JsonRpcMessage, context: UpstreamSendContext): Promise<void> {
    return this.#inner.send(message, context).catch((err: unknown) => {
      if (!(err instanceof UpstreamError) || err.detail === undefined || this.#scrubbers.size === 0) throw err;
      let detail = err.detail;
      for (const s of this.#scrubbers) detail = s.scrubText(detail);
      throw new UpstreamError(err.code, detail);
    });
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  #scrub(m: JsonRpcMessage): JsonRpcMessage {
    if (this.#scrubbers.size === 0) return m;
    const found = new Set<string>();
    let out = m;
    for (const s of this.#scrubbers) out = s.scrubJson(out, found);
    if (found.size > 0) this.#found([...found], m);
    return out;
  }
}

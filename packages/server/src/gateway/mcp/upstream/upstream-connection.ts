/**
 * One MCP session between Writ (as the MCP client) and an upstream MCP server, at the level of JSON-RPC messages.
 * The gateway relays each agent session over its own upstream connection, so upstream state (subscriptions, logging
 * level, a filesystem server's roots) is never shared between agents; implementations are Streamable HTTP
 * (`http-upstream.ts`) and a supervised stdio process (`stdio-upstream.ts`).
 */

import { WritError, type DenialHint } from '@writ/protocol';
import type { JsonRpcMessage } from '../../../errors/index.js';

export type { JsonRpcMessage };

export interface UpstreamSendContext {
  /** W3C trace context of the agent call this message belongs to; sent upstream where the transport can carry it. */
  traceparent: string;
}

export interface UpstreamConnection {
  /**
   * Sends one message. Resolves once the upstream accepted it (HTTP: the response headers arrived; stdio: the line
   * was written). Messages the upstream sends back — the response, and anything sent in relation to a request — arrive
   * through `onMessage`. Rejects with an UpstreamError when the message cannot be delivered.
   */
  send(message: JsonRpcMessage, context: UpstreamSendContext): Promise<void>;
  /** Every message from the upstream, in order. */
  onMessage: ((message: JsonRpcMessage) => void) | undefined;
  /** The connection ended for good (closed by us, or the upstream is gone and will not come back). */
  onClose: ((reason: string) => void) | undefined;
  close(): Promise<void>;
  /**
   * Whether to hold the upstream's own message stream open (Streamable HTTP's GET). The gateway holds it only while
   * the agent listens on its own, so a session nobody listens to holds no upstream connection; transports without
   * such a stream leave this out.
   */
  listen?(on: boolean): void;
  /**
   * The gateway stopped waiting for the answer to request `id` (it timed out): drop whatever would still carry it
   * (Streamable HTTP: that POST's response stream), so a request given up on holds no connection.
   */
  abandon?(id: string): void;
}

export type UpstreamErrorCode =
  | 'ERR_UPSTREAM_UNAVAILABLE'
  | 'ERR_UPSTREAM_TIMEOUT'
  | 'ERR_EGRESS_REFUSED'
  | 'ERR_UPSTREAM_CREDENTIAL_UNAVAILABLE'
  | 'ERR_UPSTREAM_ACCOUNT_NOT_CONNECTED';

/**
 * The code a failed upstream exchange's JSON-RPC error carries in `error.data.code` (mcp-session.ts puts it there),
 * so a session that could not start is refused with what actually went wrong.
 */
export function upstreamFailure(answer: JsonRpcMessage): UpstreamErrorCode {
  const code = ((answer['error'] as { data?: { code?: unknown } } | undefined)?.data?.code ?? '') as string;
  return code === 'ERR_UPSTREAM_TIMEOUT' ||
    code === 'ERR_EGRESS_REFUSED' ||
    code === 'ERR_UPSTREAM_CREDENTIAL_UNAVAILABLE' ||
    code === 'ERR_UPSTREAM_ACCOUNT_NOT_CONNECTED'
    ? code
    : 'ERR_UPSTREAM_UNAVAILABLE';
}

/** An upstream that could not be reached or did not answer: a gateway denial like any other, with the cause as its private detail. */
export class UpstreamError extends WritError {
  declare readonly code: UpstreamErrorCode;
  constructor(code: UpstreamErrorCode, detail: string, hint?: DenialHint) {
    super(code, detail, hint);
    this.name = 'UpstreamError';
  }
}

/**
 * JSON-RPC 2.0 errors as the MCP gateway answers them (JSON-RPC §5.1, the MCP revisions' own codes). A refusal by
 * Writ carries its stable Writ code in `error.data.code`, so an agent can tell a policy denial from a broken tool.
 */
import { jsonWire, type WireResponse } from './wire-response.js';

export const RPC = {
  parseError: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  internalError: -32603,
  /** Writ: the upstream did not answer in time (the MCP SDK's own request-timeout code). */
  requestTimeout: -32001,
  /** Writ: the call was refused by the task's authorization or a grant; `error.data.code` has the Writ code. */
  forbidden: -32003,
  /** MCP 2026-07-28: request metadata headers missing or not matching the body. */
  headerMismatch: -32020,
  /** MCP 2026-07-28. */
  unsupportedProtocolVersion: -32022,
  /** MCP 2025-11-25 `URLElicitationRequiredError`: the user must visit a URL first (`error.data.elicitations`). */
  urlElicitationRequired: -32042,
} as const;

export type RpcErrorCode = (typeof RPC)[keyof typeof RPC];
export type JsonRpcId = string | number;
/** A JSON-RPC 2.0 message as it travels: request, notification or response. */
export type JsonRpcMessage = Record<string, unknown> & { jsonrpc: '2.0' };

export function rpcError(id: JsonRpcId | null, code: RpcErrorCode, message: string, data?: Record<string, unknown>): JsonRpcMessage {
  return { jsonrpc: '2.0', id, error: { code, message, ...(data !== undefined ? { data } : {}) } };
}

/** One JSON-RPC message, answer or error, as an HTTP response (errors travel with 200 unless an MCP revision says otherwise). */
export function jsonRpcResponse(status: number, message: JsonRpcMessage, extra: Record<string, string> = {}): WireResponse {
  return jsonWire(status, message, extra);
}

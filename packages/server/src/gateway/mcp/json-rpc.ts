/**
 * JSON-RPC 2.0 as MCP uses it (one message per POST since 2025-06-18: batches were removed from the protocol).
 * The gateway classifies what the agent sent, refuses anything malformed, and always forwards its own
 * re-serialisation of what it checked — never the agent's bytes — so a duplicate key or an odd encoding cannot make
 * the upstream read something other than what was authorized.
 */
import type { JsonRpcId, JsonRpcMessage } from '../../errors/index.js';

export type ClassifiedMessage =
  | { kind: 'request'; id: JsonRpcId; method: string; params: Record<string, unknown> | undefined; message: JsonRpcMessage }
  | { kind: 'notification'; method: string; params: Record<string, unknown> | undefined; message: JsonRpcMessage }
  | { kind: 'response'; id: JsonRpcId; message: JsonRpcMessage };

const MAX_ID_LENGTH = 256;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isId(v: unknown): v is JsonRpcId {
  return (typeof v === 'string' && v.length <= MAX_ID_LENGTH) || (typeof v === 'number' && Number.isSafeInteger(v));
}

export class JsonRpcShapeError extends Error {
  readonly id: JsonRpcId | null;
  constructor(message: string, id: JsonRpcId | null = null) {
    super(message);
    this.name = 'JsonRpcShapeError';
    this.id = id;
  }
}

/** Classifies one parsed JSON value as a JSON-RPC message, or throws JsonRpcShapeError. Arrays (batches) are refused. */
export function classifyMessage(value: unknown): ClassifiedMessage {
  if (Array.isArray(value)) throw new JsonRpcShapeError('batches are not supported: send one JSON-RPC message per request');
  if (!isObject(value) || value['jsonrpc'] !== '2.0') throw new JsonRpcShapeError('not a JSON-RPC 2.0 message');
  const id = value['id'];
  const method = value['method'];
  const params = value['params'];
  if (method !== undefined) {
    if (typeof method !== 'string' || method.length === 0 || method.length > 128) throw new JsonRpcShapeError('method must be a string');
    if (params !== undefined && !isObject(params)) throw new JsonRpcShapeError('params must be an object', isId(id) ? id : null);
    if ('result' in value || 'error' in value) throw new JsonRpcShapeError('a message is a request or a response, not both');
    const message = rebuild(value);
    if (id === undefined) return { kind: 'notification', method, params, message };
    if (!isId(id)) throw new JsonRpcShapeError('id must be a string or an integer');
    return { kind: 'request', id, method, params, message };
  }
  if (!isId(id)) throw new JsonRpcShapeError('a response needs the id of the request it answers');
  const hasResult = 'result' in value;
  if (hasResult === 'error' in value) throw new JsonRpcShapeError('a response has exactly one of result and error', id);
  if (!hasResult && !isObject(value['error'])) throw new JsonRpcShapeError('error must be an object', id);
  return { kind: 'response', id, message: rebuild(value) };
}

/** A fresh object holding only the members JSON-RPC defines, in a fixed order. */
function rebuild(v: Record<string, unknown>): JsonRpcMessage {
  const out: JsonRpcMessage = { jsonrpc: '2.0' };
  for (const k of ['id', 'method', 'params', 'result', 'error'] as const) if (v[k] !== undefined) out[k] = v[k];
  return out;
}

export function rpcResult(id: JsonRpcId, result: Record<string, unknown>): JsonRpcMessage {
  return { jsonrpc: '2.0', id, result };
}

export function responseId(m: JsonRpcMessage): JsonRpcId | undefined {
  const id = m['id'];
  return m['method'] === undefined && isId(id) ? id : undefined;
}

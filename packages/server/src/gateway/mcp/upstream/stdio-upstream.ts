/**
 * An upstream MCP server over the stdio transport (MCP 2025-06-18, "Transports › stdio"): newline-delimited JSON-RPC,
 * one UTF-8 JSON object per line, over the stdin and stdout of a supervised child process. One process per agent
 * session, so nothing a server keeps per session is ever shared between agents.
 *
 * A crash must not end the agent's session: when the supervisor restarts the process, this connection replays the
 * session's first `initialize` that the server accepted (its response swallowed) and `notifications/initialized`, holding new messages until
 * the replay is answered, so the relay above carries on. Requests that were in flight when the process died are
 * answered here with a JSON-RPC error, so no caller waits for an answer that can no longer come.
 */
import type { Writable } from 'node:stream';
import type { Logger } from '../../../observability/index.js';
import { LineSplitter } from './line-splitter.js';
import { SupervisedProcess, type SupervisedProcessOptions, type SupervisedStart } from './supervised-process.js';
import { UpstreamError, type JsonRpcMessage, type UpstreamConnection, type UpstreamSendContext } from './upstream-connection.js';

export interface StdioUpstreamOptions extends Omit<SupervisedProcessOptions, 'stdout'> {
  /** A line from the server longer than this is dropped (and logged), so one huge message cannot exhaust memory. */
  maxLineBytes?: number;
  /** How long a restarted process may take to answer the replayed `initialize` before the connection gives up. */
  replayTimeoutMs?: number;
}

/** JSON-RPC "internal error": what a request in flight during a crash is answered with. */
export const UPSTREAM_RESTARTED_CODE = -32603;
const DEFAULT_MAX_LINE_BYTES = 8 * 1024 * 1024;
const DEFAULT_REPLAY_TIMEOUT_MS = 30_000;
const REPLAY_ID_PREFIX = 'writ-replay-initialize-';
const PREVIEW_CHARS = 200;

type State = 'idle' | 'up' | 'replaying' | 'down' | 'closed';

interface Queued {
  message: JsonRpcMessage;
  resolve: () => void;
  reject: (err: UpstreamError) => void;
}

type JsonRpcId = string | number;

/**
 * @example
 * const upstream = new StdioUpstream({ resourceId: 'files', command: process.execPath, args: [serverJs, root], logger });
 * upstream.onMessage = (m) => relay.toAgent(m);
 * upstream.onClose = (reason) => relay.end(reason);
 * await upstream.start();
 * await upstream.send({ jsonrpc: '2.0', id: 1, method: 'initialize', params }, { traceparent });
 */
export class StdioUpstream implements UpstreamConnection {
  onMessage: ((message: JsonRpcMessage) => void) | undefined;
  onClose: ((reason: string) => void) | undefined;
  /** The supervisor, for its events (`started`, `exited`, `restarting`) and the current pid. */
  readonly process: SupervisedProcess;
  readonly #log: Logger;
  readonly #maxLineBytes: number;
  readonly #replayTimeoutMs: number;
  #state: State = 'idle';
  #stdin: Writable | undefined;
  /** Requests we relayed upstream that have no response yet, by id. */
  readonly #pending = new Map<string, JsonRpcId>();
  /** The session's initialize, once the server accepted it: what a restarted process is given again. */
  #initialize: JsonRpcMessage | undefined;
  /** The initialize sent but not yet answered, by request key. */
  #initializeSent: { key: string; message: JsonRpcMessage } | undefined;
  #initialized: JsonRpcMessage | undefined;
  #queue: Queued[] = [];
  #replayId: string | undefined;
  #cancelReplayTimer: (() => void) | undefined;
  #closeReported = false;
  #closing: Promise<void> | undefined;

  constructor(opts: StdioUpstreamOptions) {
    this.#log = opts.logger.child({ resource_id: opts.resourceId, transport: 'stdio' });
    this.#maxLineBytes = opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    this.#replayTimeoutMs = opts.replayTimeoutMs ?? DEFAULT_REPLAY_TIMEOUT_MS;
    this.process = new SupervisedProcess({ ...opts, stdout: 'pipe' });
    this.process.on('started', (s) => this.#started(s));
    this.process.on('exited', ({ expected }) => {
      if (!expected) this.#down();
    });
    this.process.on('restarting', () => this.#failPending('upstream restarted'));
    this.process.on('close', (reason) => {
      if (this.#state === 'closed') return;
      this.#state = 'closed';
      this.#failPending('upstream unavailable');
      this.#rejectQueue();
      this.#reportClose(reason);
    });
  }

  /** Starts the process; resolves once it runs. Set `onMessage` and `onClose` first. */
  async start(): Promise<void> {
    await this.process.start();
  }

  send(message: JsonRpcMessage, _context: UpstreamSendContext): Promise<void> {
    // stdio has no place for `traceparent`; the gateway's own spans carry the trace.
    if (this.#state === 'closed') return Promise.reject(new UpstreamError('ERR_UPSTREAM_UNAVAILABLE', 'upstream connection closed'));
    if (this.#state !== 'up' && this.#state !== 'replaying') {
      return Promise.reject(new UpstreamError('ERR_UPSTREAM_UNAVAILABLE', 'upstream process is not running'));
    }
    this.#remember(message);
    if (this.#state === 'replaying' && typeof message.method === 'string') {
      return new Promise((resolve, reject) => this.#queue.push({ message, resolve, reject }));
    }
    return this.#write(message);
  }

  /** Shuts the process down (stdin, SIGTERM, SIGKILL) and fires `onClose('closed')`. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#state = 'closed';
      this.#stopReplay();
      this.#rejectQueue();
      await this.process.close();
      this.#reportClose('closed');
    })();
    return this.#closing;
  }

  #remember(message: JsonRpcMessage): void {
    const key = requestKey(message.id);
    if (message.method === 'initialize' && key !== undefined && this.#initialize === undefined && this.#initializeSent === undefined) {
      // Replayed only once the server accepted it: an initialize that died in flight is the relay's to send again.
      this.#initializeSent = { key, message: structuredClone(message) };
    } else if (message.method === 'notifications/initialized' && this.#initialized === undefined) {
      this.#initialized = structuredClone(message);
    }
  }

  #write(message: JsonRpcMessage): Promise<void> {
    const stdin = this.#stdin;
    if (stdin === undefined) return Promise.reject(new UpstreamError('ERR_UPSTREAM_UNAVAILABLE', 'upstream process is not running'));
    const key = typeof message.method === 'string' ? requestKey(message.id) : undefined;
    if (key !== undefined) this.#pending.set(key, message.id as JsonRpcId);
    return new Promise((resolve, reject) => {
      stdin.write(`${JSON.stringify(message)}\n`, (err) => {
        if (err === null || err === undefined) return resolve();
        if (key !== undefined) this.#pending.delete(key);
        if (key !== undefined && key === this.#initializeSent?.key) this.#initializeSent = undefined;
        reject(new UpstreamError('ERR_UPSTREAM_UNAVAILABLE', `write to upstream process failed: ${err.message}`));
      });
    });
  }

  #started({ stdin, stdout, run }: SupervisedStart): void {
    if (this.#state === 'closed') return;
    this.#stdin = stdin;
    const splitter = new LineSplitter(this.#maxLineBytes, ({ text, truncated }) => this.#line(text, truncated));
    stdout.on('data', (chunk: Buffer) => splitter.push(chunk));
    stdout.on('end', () => splitter.end());
    if (run === 1 || this.#initialize === undefined) {
      this.#state = 'up';
      return;
    }
    this.#state = 'replaying';
    this.#replayId = `${REPLAY_ID_PREFIX}${run}`;
    this.#log.info({ run }, 'replaying initialize after upstream restart');
    const timer = setTimeout(() => this.#replayFailed('replayed initialize timed out'), this.#replayTimeoutMs);
    this.#cancelReplayTimer = () => clearTimeout(timer);
    // Written directly, not through #write: its response is ours, not the relay's.
    stdin.write(`${JSON.stringify({ ...this.#initialize, id: this.#replayId })}\n`);
  }

  #line(text: string, truncated: boolean): void {
    if (truncated) {
      this.#log.warn({ max_line_bytes: this.#maxLineBytes, preview: text.slice(0, PREVIEW_CHARS) }, 'upstream message too long; dropped');
      return;
    }
    if (text.trim().length === 0) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      this.#log.warn({ preview: text.slice(0, PREVIEW_CHARS) }, 'upstream line is not JSON; dropped');
      return;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || (parsed as { jsonrpc?: unknown }).jsonrpc !== '2.0') {
      this.#log.warn({ preview: text.slice(0, PREVIEW_CHARS) }, 'upstream line is not a JSON-RPC 2.0 message; dropped');
      return;
    }
    const message = parsed as JsonRpcMessage;
    if (typeof message.method !== 'string' && 'id' in message) {
      if (this.#replayId !== undefined && message.id === this.#replayId) {
        this.#replayAnswered(message);
        return;
      }
      const key = requestKey(message.id);
      if (key !== undefined) this.#pending.delete(key);
      if (key !== undefined && key === this.#initializeSent?.key) {
        if ('result' in message) this.#initialize = this.#initializeSent.message;
        this.#initializeSent = undefined;
      }
    }
    this.onMessage?.(message);
  }

  #replayAnswered(response: JsonRpcMessage): void {
    this.#stopReplay();
    if ('error' in response) {
      this.#replayFailed(`replayed initialize was refused: ${JSON.stringify(response.error).slice(0, PREVIEW_CHARS)}`);
      return;
    }
    this.#state = 'up';
    if (this.#initialized !== undefined) void this.#write(this.#initialized).catch(() => undefined);
    const queue = this.#queue;
    this.#queue = [];
    for (const q of queue) this.#write(q.message).then(q.resolve, q.reject);
  }

  #replayFailed(reason: string): void {
    this.#stopReplay();
    this.#log.error({ reason }, 'upstream session could not be restored; closing');
    this.#failPending('upstream restarted');
    void this.close().then(undefined, () => undefined);
    this.#reportClose(reason);
  }

  #stopReplay(): void {
    this.#cancelReplayTimer?.();
    this.#cancelReplayTimer = undefined;
    this.#replayId = undefined;
  }

  #down(): void {
    if (this.#state === 'closed') return;
    this.#state = 'down';
    this.#stdin = undefined;
    this.#stopReplay();
    this.#rejectQueue();
  }

  #failPending(message: string): void {
    const ids = [...this.#pending.values()];
    this.#pending.clear();
    this.#initializeSent = undefined;
    for (const id of ids) this.onMessage?.({ jsonrpc: '2.0', id, error: { code: UPSTREAM_RESTARTED_CODE, message } });
  }

  #rejectQueue(): void {
    const queue = this.#queue;
    this.#queue = [];
    for (const q of queue) q.reject(new UpstreamError('ERR_UPSTREAM_UNAVAILABLE', 'upstream process is not running'));
  }

  #reportClose(reason: string): void {
    if (this.#closeReported) return;
    this.#closeReported = true;
    this.onClose?.(reason);
  }
}

/** Map key for a JSON-RPC id; `1` and `"1"` are different ids. Undefined for ids we cannot track (null, absent). */
function requestKey(id: unknown): string | undefined {
  if (typeof id === 'string') return `s:${id}`;
  if (typeof id === 'number') return `n:${id}`;
  return undefined;
}

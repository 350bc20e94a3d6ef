/**
 * MCP sessions across workers. A session lives in the worker that opened it (it holds the upstream connection, maybe
 * a process); its id starts with that worker's slot (`w2.`). The cluster hands each new connection to any worker, so
 * a client that sends a session's next request on another connection may reach another worker: that worker relays
 * the request, as it came, to the owner's private loopback listener, and the owner's answer back — streams included.
 *
 * The relaying worker checks nothing and records nothing: the owner runs every check (token, proof, replay, session
 * binding) and writes the audit, as for any request. The private listener is the same dispatcher behind the same
 * limits as the public one, so it opens no way around them.
 */
import { request, type IncomingMessage, type ServerResponse } from 'node:http';
import { writCodeResponse, sendWire } from '../errors/index.js';

const SESSION_ID = /^w(\d{1,3})\./;

export class SessionRelay {
  readonly #slot: number;
  readonly #ports: () => ReadonlyMap<number, number>;
  readonly #refused: (req: IncomingMessage) => void;

  /**
   * `ports`: each live worker's private listener port, by slot (kept current by the primary). `refused`: a request
   * for a session whose worker is gone, answered here (for the audit).
   */
  constructor(slot: number, ports: () => ReadonlyMap<number, number>, refused: (req: IncomingMessage) => void) {
    this.#slot = slot;
    this.#ports = ports;
    this.#refused = refused;
  }

  /** The prefix of the session ids this worker hands out. */
  get prefix(): string {
    return `w${this.#slot}.`;
  }

  /** The private port of the sibling that holds this request's session, when it is not this worker. */
  route(req: IncomingMessage): number | undefined {
    const id = req.headers['mcp-session-id'];
    if (typeof id !== 'string') return undefined;
    const m = SESSION_ID.exec(id);
    if (m === null) return undefined;
    const slot = Number(m[1]);
    if (slot === this.#slot) return undefined;
    // A slot with no listener (a worker being started again) lost its sessions with its process: the owner-less id is
    // answered here as the unknown session it is.
    return this.#ports().get(slot) ?? 0;
  }

  /** Relays the request to the owner on `port` (0: no owner) and its answer back. */
  relay(req: IncomingMessage, res: ServerResponse, port: number): void {
    const unknown = (): void => {
      this.#refused(req);
      if (!res.headersSent) sendWire(res, writCodeResponse('ERR_MCP_SESSION_UNKNOWN', 'the worker that held this session is gone'));
      else res.destroy();
    };
    if (port === 0) {
      req.resume();
      unknown();
      return;
    }
    const out = request(
      { host: '127.0.0.1', port, method: req.method, path: req.url, headers: endToEnd(req.rawHeaders), setHost: false, agent: false },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, endToEnd(answer.rawHeaders));
        answer.pipe(res);
        answer.once('error', () => res.destroy());
      },
    );
    out.once('error', unknown);
    // The agent going away ends the relayed request too (an SSE stream the owner would otherwise keep open).
    res.once('close', () => out.destroy());
    req.pipe(out);
  }
}

/** The connection's own fields stay with each connection (RFC 9110 §7.6.1); Node frames each side's body itself. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'proxy-connection']);

function endToEnd(raw: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    if (HOP_BY_HOP.has((raw[i] as string).toLowerCase())) continue;
    out.push(raw[i] as string, raw[i + 1] as string);
  }
  return out;
}

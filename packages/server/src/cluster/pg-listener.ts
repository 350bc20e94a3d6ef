/**
 * One PostgreSQL connection of the node's own, outside the pool, that LISTENs on the cluster channels. A pooled
 * connection cannot listen (it is handed to other queries and released), and a listener that silently died would
 * leave the node enforcing a revocation state nobody updates — so this connection reconnects by itself with backoff,
 * and every (re)connection runs `onConnected` (the catch-up) before the node counts as hearing the cluster again.
 */
import pg from 'pg';
import type { Logger } from '../observability/index.js';

export interface PgListenerOptions {
  connection: { connectionString: string; options?: string };
  channels: readonly string[];
  /** Shows in `pg_stat_activity`, so an operator can see (and a test can cut) each node's listener. */
  applicationName: string;
  onNotification(channel: string, payload: string): void;
  /** Runs after LISTEN succeeded on a new connection; the connection counts as up only once it resolves. */
  onConnected(): Promise<void>;
  onLost(reason: string): void;
  logger: Logger;
  /** A query on this connection taking longer than this fails and the connection is replaced, ms. */
  queryTimeoutMs: number;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
}

export class PgListener {
  readonly #o: PgListenerOptions;
  #client: pg.Client | undefined;
  #up = false;
  #closed = false;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #delay: number;
  #lastError: string | null = null;

  constructor(options: PgListenerOptions) {
    this.#o = options;
    this.#delay = options.reconnectMinMs ?? 100;
  }

  /** LISTEN is established and the last `onConnected` finished. */
  get up(): boolean {
    return this.#up;
  }

  get lastError(): string | null {
    return this.#lastError;
  }

  start(): void {
    void this.#connect();
  }

  /** A query on the listening connection itself: if it answers, the connection that carries NOTIFY is alive. */
  async query<R extends pg.QueryResultRow>(text: string): Promise<R[]> {
    const client = this.#client;
    if (client === undefined || !this.#up) throw new Error('cluster listener not connected');
    const res = await client.query<R>(text);
    return res.rows;
  }

  /** Drops the current connection (a failed heartbeat): a new one is opened and caught up. */
  reset(reason: string): void {
    const client = this.#client;
    if (client === undefined) return;
    this.#lost(client, reason);
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer);
    const client = this.#client;
    this.#client = undefined;
    this.#up = false;
    await client?.end().catch(() => undefined);
  }

  async #connect(): Promise<void> {
    if (this.#closed) return;
    const client = new pg.Client({
      connectionString: this.#o.connection.connectionString,
      ...(this.#o.connection.options !== undefined ? { options: this.#o.connection.options } : {}),
      application_name: this.#o.applicationName,
      keepAlive: true,
      query_timeout: this.#o.queryTimeoutMs,
      connectionTimeoutMillis: this.#o.queryTimeoutMs,
    });
    this.#client = client;
    client.on('notification', (m) => {
      if (this.#client === client && m.payload !== undefined) this.#o.onNotification(m.channel, m.payload);
    });
    client.on('error', (err) => this.#lost(client, err.message));
    client.on('end', () => this.#lost(client, 'connection ended'));
    try {
      await client.connect();
      for (const ch of this.#o.channels) await client.query(`LISTEN "${ch}"`);
      if (this.#client !== client) return;
      // Up before the catch-up, so the catch-up's own queries (heartbeats) may use this connection; the node does not
      // count as current until onConnected resolves.
      this.#up = true;
      await this.#o.onConnected();
      if (this.#client !== client) return;
      this.#delay = this.#o.reconnectMinMs ?? 100;
      if (this.#lastError !== null) this.#o.logger.info({ listener: this.#o.applicationName }, 'cluster listener reconnected');
      this.#lastError = null;
    } catch (err) {
      this.#lost(client, (err as Error).message);
    }
  }

  #lost(client: pg.Client, reason: string): void {
    if (this.#client !== client) return;
    this.#client = undefined;
    this.#up = false;
    this.#lastError = reason;
    void client.end().catch(() => undefined);
    if (this.#closed) return;
    this.#o.onLost(reason);
    this.#o.logger.warn({ listener: this.#o.applicationName, reason, retryInMs: this.#delay }, 'cluster listener lost its connection');
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      void this.#connect();
    }, this.#delay);
    this.#retryTimer.unref();
    this.#delay = Math.min(this.#delay * 2, this.#o.reconnectMaxMs ?? 5_000);
  }
}

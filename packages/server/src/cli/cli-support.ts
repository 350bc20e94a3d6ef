/** What the admin-API commands share: the client, output, query strings, times, and how a command fails. */
import { Option, type Command } from 'commander';
import { AdminClient } from '../admin-client/index.js';
import { adminClientSettings } from '../config/index.js';
import { printTable } from './print.js';

export function client(): AdminClient {
  const { url, token } = adminClientSettings();
  if (token === undefined) fail('set WRIT_ADMIN_TOKEN to an admin token (writ dev prints one)');
  return new AdminClient(url, token);
}

export function output(value: unknown, json: boolean, columns?: string[]): void {
  if (json || columns === undefined || !Array.isArray(value)) console.log(JSON.stringify(value, null, 2));
  else printTable(value as Record<string, unknown>[], columns);
}

export function time(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (/^\d+$/.test(v)) return v;
  const t = Date.parse(v);
  if (Number.isNaN(t)) fail(`expected an ISO time or epoch milliseconds, got ${JSON.stringify(v)}`);
  return String(t);
}
export function qs(q: Record<string, string | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined) p.set(k, v);
  const s = p.toString();
  return s === '' ? '' : `?${s}`;
}
export function enc(v: string): string {
  return encodeURIComponent(v);
}
export function fail(message: string): never {
  console.error(`writ: ${message}`);
  process.exit(2);
}

/** `<group> list`: a GET printed as a table of `columns`, or as JSON with `--json`. */
export function listCommand(group: Command, description: string, path: string, columns: string[]): void {
  group
    .command('list')
    .description(description)
    .addOption(new Option('--json', 'print JSON'))
    .action(async (o: { json?: boolean }) => output(await client().get(path), o.json === true, columns));
}

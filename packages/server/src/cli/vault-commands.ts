/** `writ secrets …`, `writ connections …`, `writ vault …`: the vault's secrets, people's connected accounts, the KEK. */
import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { client, enc, fail, listCommand, output } from './cli-support.js';

export function addVaultCommands(program: Command): void {
  const secrets = program.command('secrets').description('the vault (write-only: values are never shown)');
  listCommand(secrets, 'list secrets (metadata only)', '/secrets', ['id', 'current_version', 'description']);
  secrets
    .command('put <id>')
    .description(
      'store a new version; the value is read from standard input so it stays out of shell history. With --json, standard input is the whole secret as JSON: a kind and its settings (oauth_client_credentials, token_exchange, user_oauth; or static with username and password) — see docs/vault.md',
    )
    .option('--description <text>', 'what the secret is', '')
    .option('--json', 'read a JSON object (kind, settings, client secret …) from standard input instead of a bare value')
    .action(async (id: string, o: { description: string; json?: boolean }) => {
      const input = readFileSync(0, 'utf8');
      let body: Record<string, unknown>;
      if (o.json === true) {
        const parsed: unknown = JSON.parse(input);
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) fail('--json: standard input must be a JSON object');
        body = { ...(parsed as Record<string, unknown>), ...(o.description !== '' ? { description: o.description } : {}) };
      } else body = { value: input.replace(/\r?\n$/, ''), description: o.description };
      output(await client().put(`/secrets/${enc(id)}`, body), true);
    });

  const connections = program.command('connections').description("people's connected accounts at upstreams (user_oauth secrets)");
  connections
    .command('list')
    .description('who connected which upstream, and the status (never a token)')
    .option('--secret <id>', 'only this upstream (its user_oauth secret)')
    .option('--user <id>', 'only this person')
    .addOption(new Option('--json', 'print JSON'))
    .action(async (o: { secret?: string; user?: string; json?: boolean }) => {
      const q = new URLSearchParams();
      if (o.secret !== undefined) q.set('secret', o.secret);
      if (o.user !== undefined) q.set('user', o.user);
      const qs = q.toString();
      output(await client().get(`/connections${qs === '' ? '' : `?${qs}`}`), o.json === true, [
        'secret_id',
        'user_id',
        'status',
        'scope',
        'updated_at',
      ]);
    });
  connections
    .command('revoke <secret> <user>')
    .description(
      "revoke a person's connected account: no call uses it from now on, and its refresh token is revoked at the upstream where it can be",
    )
    .action(async (secret: string, user: string) => {
      await client().delete(`/connections/${enc(secret)}/${enc(user)}`);
      console.log(`revoked the connection of ${user} at ${secret}`);
    });

  const vault = program.command('vault').description('the key-encryption key (KEK) that wraps every stored secret and key');
  vault
    .command('status')
    .description('how many stored envelopes each KEK seals, and how many are not yet under the current KEK')
    .action(async () => output(await client().get('/vault/keks'), true));
  vault
    .command('rotate-kek')
    .description(
      're-wrap every stored envelope under the current KEK (start Writ with the new WRIT_KEK and the old one in WRIT_KEK_PREVIOUS first); online, and safe to run again after an interruption; exits 1 while anything remains',
    )
    .action(async () => {
      const report = await client().post<{ remaining: number }>('/vault/rotate-kek', {});
      output(report, true);
      if (report.remaining > 0) process.exitCode = 1;
    });
}

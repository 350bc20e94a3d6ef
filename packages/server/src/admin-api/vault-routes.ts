/**
 * The vault part of the admin API: secrets of every kind (write-only), people's connected accounts, and the KEK's
 * inventory and rotation. Nothing here returns what is sealed (docs/vault.md).
 */
import { z } from 'zod';
import { SecretValue } from '../crypto/index.js';
import { AdminError } from '../errors/index.js';
import { registerId } from '../ids/index.js';
import { secretKindInput, splitSecretInput } from '../vault/index.js';
import { parseInput } from './parse-input.js';
import { actor } from './actor.js';
import type { AdminRoute } from './routes.js';

const connectionsQuery = z.strictObject({
  secret: z.string().min(1).max(200).optional(),
  user: z.string().min(1).max(300).optional(),
});

export const VAULT_ROUTES: AdminRoute[] = [
  {
    method: 'GET',
    url: '/secrets',
    tag: 'secrets',
    summary: 'List secrets (metadata only: values are write-only)',
    handler: ({ services }) => services.vault.listSecrets(),
  },
  {
    method: 'PUT',
    url: '/secrets/:id',
    tag: 'secrets',
    summary:
      'Store a new version of a secret: a static value, or what Writ mints upstream credentials from (write-only: no API ever returns what is sealed)',
    body: secretKindInput,
    handler: async ({ params, body, principal, services }) => {
      const id = parseInput(registerId, params['id']);
      const input = parseInput(secretKindInput, body);
      const { kind, sealed, config } = splitSecretInput(input);
      const meta = await services.vault.putSecret(id, new SecretValue(sealed), input.description, { kind, config });
      services.register.noteSecretChange(id, actor(principal), meta.current_version);
      return meta;
    },
  },
  {
    method: 'GET',
    url: '/secrets/:id',
    tag: 'secrets',
    summary: "Show a secret's metadata",
    handler: ({ params, services }) => services.vault.describeSecret(params['id'] as string),
  },
  {
    method: 'GET',
    url: '/connections',
    tag: 'secrets',
    summary: "People's connected accounts at upstreams (user_oauth secrets): who, where, status — never a token",
    query: connectionsQuery,
    handler: ({ query, services }) => {
      const q = query as z.output<typeof connectionsQuery>;
      return services.connections.list({
        ...(q.secret !== undefined ? { secretId: q.secret } : {}),
        ...(q.user !== undefined ? { userId: q.user } : {}),
      });
    },
  },
  {
    method: 'DELETE',
    url: '/connections/:secret/:user',
    tag: 'secrets',
    summary:
      "Revoke a person's connected account: no call uses it from the answer on; its refresh token is revoked at the upstream too where it can be",
    status: 204,
    handler: async ({ params, principal, services }) => {
      const secret = params['secret'] as string;
      const user = params['user'] as string;
      if ((await services.connections.revoke(secret, user, actor(principal))) === 0)
        throw new AdminError('ERR_ADMIN_NOT_FOUND', `no active connection of ${user} at ${secret}`);
      return undefined;
    },
  },
  {
    method: 'GET',
    url: '/vault/keks',
    tag: 'secrets',
    summary: 'How many stored envelopes each KEK seals (ids and counts only), and how many are not yet under the current KEK',
    handler: ({ services }) => services.kek.inventory(),
  },
  {
    method: 'POST',
    url: '/vault/rotate-kek',
    tag: 'secrets',
    summary:
      'Re-wrap every stored envelope under the current KEK, online and resumable; when `remaining` is 0 the previous KEKs can be removed',
    handler: async ({ principal, services }) => {
      const report = await services.kek.rotate();
      services.audit.record({
        type: 'admin.change',
        action: 'vault.rotate-kek',
        actor_chain: [actor(principal)],
        decision: 'allow',
        reason: report.failed.length === 0 ? 'kek.rotated' : 'kek.rotation_incomplete',
        data: { current: report.current, rewrapped: report.rewrapped, remaining: report.remaining, failed: report.failed.length },
      });
      return report;
    },
  },
];

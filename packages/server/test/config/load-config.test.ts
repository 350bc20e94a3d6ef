import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/index.js';

function file(text: string): string {
  const p = join(mkdtempSync(join(tmpdir(), 'writ-cfg-')), 'writ.yaml');
  writeFileSync(p, text);
  return p;
}

test('defaults: loopback, port 7420, SQLite, ten-minute tokens', () => {
  const c = loadConfig({ env: {} });
  assert.equal(c.server.host, '127.0.0.1');
  assert.equal(c.server.port, 7420);
  assert.equal(c.storage.databaseUrl, undefined);
  assert.equal(c.tokens.defaultLifetimeSeconds, 600);
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.server), 'configuration is frozen');
});

test('environment overrides the file, flags override both', () => {
  const p = file('server:\n  port: 8000\nlog:\n  level: debug\n');
  const c = loadConfig({
    file: p,
    env: { WRIT_PORT: '9000', WRIT_DATABASE_URL: 'postgres://x@127.0.0.1/db', WRIT_ADMIN_TOKEN: 'a'.repeat(20) },
  });
  assert.equal(c.server.port, 9000);
  assert.equal(c.log.level, 'debug');
  assert.equal(c.storage.databaseUrl, 'postgres://x@127.0.0.1/db');
  assert.equal(c.adminToken, 'a'.repeat(20));
  assert.equal(loadConfig({ file: p, env: { WRIT_PORT: '9000' }, overrides: { 'server.port': 9100 } }).server.port, 9100);
});

test('budgets.asynchronousCommit: on unless the file or WRIT_BUDGETS_ASYNCHRONOUS_COMMIT=false says otherwise', () => {
  assert.equal(loadConfig({ file: null, env: {} }).budgets.asynchronousCommit, true);
  assert.equal(loadConfig({ file: null, env: { WRIT_BUDGETS_ASYNCHRONOUS_COMMIT: 'false' } }).budgets.asynchronousCommit, false);
  assert.equal(loadConfig({ file: file('budgets:\n  asynchronousCommit: false\n'), env: {} }).budgets.asynchronousCommit, false);
});

test('egress.allow: ranges, addresses and host names, from the file or WRIT_EGRESS_ALLOW (comma-separated)', () => {
  assert.deepEqual(loadConfig({ file: null, env: {} }).egress.allow, []);
  assert.deepEqual(loadConfig({ file: null, env: { WRIT_EGRESS_ALLOW: ' 10.20.0.0/16, ::1 ,idp.corp.example,' } }).egress.allow, [
    '10.20.0.0/16',
    '::1',
    'idp.corp.example',
  ]);
  assert.deepEqual(loadConfig({ file: file('egress:\n  allow: [fd12::/32, 192.168.7.7]\n'), env: {} }).egress.allow, [
    'fd12::/32',
    '192.168.7.7',
  ]);
});

test('a bad value stops the start with a message naming the key and what was expected', () => {
  const cases: Array<[string, Record<string, string>, RegExp]> = [
    ['server:\n  port: 99999\n', {}, /server\.port: .*(65535|less than or equal)/i],
    ['server:\n  prot: 1\n', {}, /server: unknown key\(s\) "prot"/],
    ['tokens:\n  signingAlg: HS256\n', {}, /tokens\.signingAlg: .*ES256/],
    ['storage:\n  databaseUrl: mysql://x\n', {}, /storage\.databaseUrl: a postgres:\/\/ or postgresql:\/\/ URL/],
    ['', { WRIT_PORT: 'eighty' }, /WRIT_PORT \(server\.port\): expected an integer/],
    [
      '',
      { WRIT_BUDGETS_ASYNCHRONOUS_COMMIT: 'yes' },
      /WRIT_BUDGETS_ASYNCHRONOUS_COMMIT \(budgets\.asynchronousCommit\): expected true or false/,
    ],
    ['', { WRIT_ADMIN_TOKEN: 'short' }, /WRIT_ADMIN_TOKEN: expected at least 16 characters/],
    ['- a\n- b\n', {}, /must be a mapping/],
    ['cluster:\n  role: gateway\n', {}, /cluster\.role: 'gateway' needs storage\.databaseUrl/],
    ['', { WRIT_ROLE: 'control' }, /cluster\.role: 'control' needs storage\.databaseUrl/],
    ['', { WRIT_ROLE: 'edge' }, /cluster\.role/],
    ['cluster:\n  maxStalenessMs: 10\n', {}, /cluster\.maxStalenessMs/],
    ['egress:\n  allow: [10.0.0.0/33]\n', {}, /egress\.allow\.0: a CIDR range/],
    ['', { WRIT_EGRESS_ALLOW: '10.0.0.0/8,not a host!' }, /egress\.allow\.1: a CIDR range/],
    ['egress:\n  allow: [::1/129]\n', {}, /egress\.allow\.0/],
    [
      'limits:\n  upstreamConnections: 8\n  upstreamConnectionsPerAgent: 16\n',
      {},
      /upstreamConnectionsPerTask ≤ upstreamConnectionsPerAgent ≤ upstreamConnections/,
    ],
  ];
  for (const [yaml, env, expected] of cases) {
    assert.throws(
      () => loadConfig({ file: file(yaml), env }),
      (err: unknown) => err instanceof ConfigError && expected.test(err.message),
      `${JSON.stringify(yaml)} ${JSON.stringify(env)}`,
    );
  }
});

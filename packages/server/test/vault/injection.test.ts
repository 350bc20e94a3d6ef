import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SecretValue } from '../../src/crypto/index.js';
import { applyInjection, injectionRuleSchema, VaultError } from '../../src/vault/index.js';

const secret = new SecretValue('sk-live-abc');

function target(headers: Record<string, string> = {}, query = ''): { headers: Record<string, string>; searchParams: URLSearchParams } {
  return { headers, searchParams: new URLSearchParams(query) };
}

test('header: the agent-supplied value is removed whatever its case, then Writ sets its own', () => {
  const t = target({ 'X-Api-Key': 'agent-forged', 'x-api-key': 'also-forged', accept: 'application/json' });
  applyInjection({ mode: 'header', name: 'X-API-Key', prefix: 'Token ' }, secret, t);
  assert.deepEqual(t.headers, { accept: 'application/json', 'x-api-key': 'Token sk-live-abc' });
});

test('bearer and basic replace any Authorization the agent sent', () => {
  const b = target({ Authorization: 'Bearer agent-token', AUTHORIZATION: 'x' });
  applyInjection({ mode: 'bearer' }, secret, b);
  assert.deepEqual(b.headers, { authorization: 'Bearer sk-live-abc' });
  const c = target({ authorization: 'Basic Zm9vOmJhcg==' });
  applyInjection({ mode: 'basic', username: 'ci-bot' }, secret, c);
  assert.equal(c.headers['authorization'], `Basic ${Buffer.from('ci-bot:sk-live-abc').toString('base64')}`);
});

test('query: every agent-supplied copy of the parameter is removed, then Writ sets one', () => {
  const t = target({}, 'api_key=forged&API_KEY=forged2&q=1&api_key=again');
  applyInjection({ mode: 'query', name: 'api_key' }, secret, t);
  assert.equal(t.searchParams.toString(), 'q=1&api_key=sk-live-abc');
});

test('a value with CR/LF or other control characters is never put in a header', () => {
  for (const bad of ['a\r\nX-Injected: 1', 'a\nb', 'a\rb', 'a\u0000b', 'a\u007fb']) {
    const t = target({ authorization: 'agent' });
    assert.throws(
      () => applyInjection({ mode: 'bearer' }, new SecretValue(bad), t),
      (err: unknown) => {
        assert.ok(err instanceof VaultError);
        assert.equal(err.code, 'ERR_VAULT_INJECTION_INVALID');
        assert.ok(!err.message.includes(bad));
        return true;
      },
    );
  }
  assert.throws(() => applyInjection({ mode: 'header', name: 'x-key', prefix: 'a\r\n' }, secret, target()), VaultError);
  // A tab is legal inside a field value (RFC 9110 §5.5).
  const t = target();
  applyInjection({ mode: 'header', name: 'x-key' }, new SecretValue('a\tb'), t);
  assert.equal(t.headers['x-key'], 'a\tb');
});

test('header names must be RFC 9110 tokens; the schema and applyInjection both refuse others', () => {
  for (const name of ['', 'bad name', 'x:y', 'x\r\ny', 'ünïcode', 'a(b)']) {
    assert.equal(injectionRuleSchema.safeParse({ mode: 'header', name }).success, false, JSON.stringify(name));
    assert.throws(() => applyInjection({ mode: 'header', name }, secret, target()), VaultError);
  }
  for (const name of ['x-api-key', 'X_Custom.Key', "!#$%&'*+^`|~"])
    assert.equal(injectionRuleSchema.safeParse({ mode: 'header', name }).success, true);
  assert.equal(injectionRuleSchema.safeParse({ mode: 'basic', username: 'a:b' }).success, false);
  assert.equal(injectionRuleSchema.safeParse({ mode: 'bearer', extra: 1 }).success, false);
  assert.equal(injectionRuleSchema.safeParse({ mode: 'query', name: '' }).success, false);
  assert.equal(injectionRuleSchema.safeParse({ mode: 'cookie', name: 'x' }).success, false);
});

/** The package's public surface is deliberate: this list changes only on purpose. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as verify from '../src/index.js';

test('@writ/verify exports exactly its public API', () => {
  assert.deepEqual(Object.keys(verify).sort(), [
    'MAX_PATH_LENGTH',
    'createWritVerifier',
    'denialResponse',
    'matchAuthorizationDetails',
    'matchMcpPromptGet',
    'matchMcpToolCall',
    'mcpPromptPermitted',
    'mcpResourcePermitted',
    'mcpToolPermitted',
    'normalizeRequestPath',
    'publicRequestUrl',
  ]);
});

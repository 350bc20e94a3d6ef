/**
 * The policy worker: the only code that loads cedar-wasm. It runs in its own thread (its own V8 isolate), because in
 * our measurement cedar-wasm and better-sqlite3 in one isolate under load crash V8 (reproduced within 0.5–40 s).
 * It holds the pre-parsed schema and policy set and answers validate / load / authorize messages.
 */
import { parentPort } from 'node:worker_threads';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { WRIT_CEDAR_SCHEMA } from './schema.js';
import { contextUseOf } from './context-use.js';
import { APPROVAL_ANNOTATION, parseApprovers, type Approver } from './approval-annotation.js';
import { BUDGET_ANNOTATION, parseBudget, type BudgetLimits } from './budget-annotation.js';
import { TOOL_ACTION_PREFIX, argumentTypeOf, cedarSchemaType, parseToolActionId, type ToolSchema } from './tool-arguments.js';
import type { CedarRequest, Decision, LoadResult, ValidationResult, WorkerRequest, WorkerResponse } from './types.js';

const SCHEMA_ID = 'writ';
const POLICY_SET_ID = 'active';

const baseSchema = cedar.schemaToJson(WRIT_CEDAR_SCHEMA);
if (baseSchema.type !== 'success') throw new Error(`Writ Cedar schema does not parse: ${JSON.stringify(baseSchema.errors)}`);
const BASE_SCHEMA_JSON = JSON.stringify(baseSchema.json);

/**
 * The Writ schema with an action of its own for each tool whose input schema is recorded (tool-arguments.ts): the
 * `mcp_tool` context plus `arguments`, typed from the tool's input schema.
 */
function schemaWith(tools: readonly ToolSchema[]): Record<string, unknown> {
  const json = JSON.parse(BASE_SCHEMA_JSON) as { Writ: { actions: Record<string, unknown> } };
  const str = { type: 'EntityOrCommon', name: 'String' };
  const long = { type: 'EntityOrCommon', name: 'Long' };
  for (const t of tools) {
    json.Writ.actions[`${TOOL_ACTION_PREFIX}${t.resourceId}/${t.tool}`] = {
      appliesTo: {
        principalTypes: ['Agent'],
        resourceTypes: ['Resource'],
        context: {
          type: 'Record',
          attributes: {
            user: { type: 'EntityOrCommon', name: 'User' },
            tool: str,
            purpose: str,
            depth: long,
            arguments: cedarSchemaType(argumentTypeOf(t.inputSchema)),
          },
        },
      },
    };
  }
  return json;
}

function useSchema(tools: readonly ToolSchema[]): void {
  const ok = cedar.preparseSchema(SCHEMA_ID, schemaWith(tools) as cedar.Schema);
  if (ok.type !== 'success') throw new Error(`Writ Cedar schema does not parse: ${ok.errors.map((e) => e.message).join('; ')}`);
}

useSchema([]);
cedar.preparsePolicySet(POLICY_SET_ID, { staticPolicies: {} });

/** `offset`: where the located text starts inside `text` (a policy's position inside its grant). */
function describe(
  e: { message: string; help?: string | null; sourceLocations?: Array<{ start: number; end: number }> },
  text?: string,
  offset = 0,
): string {
  const loc = e.sourceLocations?.[0];
  let where = '';
  if (loc !== undefined && text !== undefined) {
    const start = offset + loc.start;
    const before = text.slice(0, start);
    const line = before.split('\n').length;
    const column = start - before.lastIndexOf('\n');
    where = ` (line ${line}, column ${column})`;
  }
  return `${e.message}${where}${e.help ? `: ${e.help}` : ''}`;
}

/** Splits a grant's text into its policies, keyed `<grant id>.<n>`. */
function partsOf(grantId: string, text: string): Record<string, string> | string[] {
  const parts = cedar.policySetTextToParts(text);
  if (parts.type !== 'success') return parts.errors.map((e) => describe(e, text));
  if (parts.policy_templates.length > 0) return ['policy templates are not supported in grants'];
  return Object.fromEntries(parts.policies.map((p, i) => [`${grantId}.${i}`, p]));
}

function validateText(text: string, tools: readonly ToolSchema[]): ValidationResult {
  const parts = partsOf('grant', text);
  if (Array.isArray(parts)) return { ok: false, errors: parts };
  const count = Object.keys(parts).length;
  if (count === 0) return { ok: false, errors: ['no policy found'] };
  const annotationErrors = Object.values(parts).flatMap((p, i) =>
    [approvalOf(p), budgetOf(p), toolActionProblem(p, tools)].flatMap((why) =>
      typeof why === 'string' ? [`policy ${i + 1}: ${why}`] : [],
    ),
  );
  if (annotationErrors.length > 0) return { ok: false, errors: annotationErrors };
  const v = cedar.validate({
    schema: schemaWith(tools) as cedar.Schema,
    policies: { staticPolicies: parts },
    validationSettings: { mode: 'strict' },
  });
  if (v.type !== 'success') return { ok: false, errors: v.errors.map((e) => describe(e)) };
  if (v.validationErrors.length > 0) {
    // Validation locates errors inside each policy; report them as lines and columns of the grant as written.
    const offsets = new Map<string, number>();
    let from = 0;
    for (const [id, policy] of Object.entries(parts)) {
      const at = text.indexOf(policy, from);
      if (at >= 0) {
        offsets.set(id, at);
        from = at + policy.length;
      }
    }
    const located = (e: (typeof v.validationErrors)[number]): string => {
      const at = offsets.get(e.policyId);
      return at !== undefined ? describe(e.error, text, at) : describe(e.error, parts[e.policyId]);
    };
    return {
      ok: false,
      errors: v.validationErrors.map((e) => `policy ${Number(e.policyId.split('.').pop()) + 1}: ${located(e)}`),
    };
  }
  return { ok: true, policyCount: count };
}

/**
 * A policy's annotation `name`, when it has it: its value (null for a bare annotation), or why it may not be there
 * (only a permit lets calls through to approve or count).
 */
function annotationOf(policy: string, name: string): { value: string | null } | { problem: string } | undefined {
  const j = cedar.policyToJson(policy);
  if (j.type !== 'success') return undefined;
  const annotations = (j.json as { annotations?: Record<string, string | null> }).annotations ?? {};
  if (!(name in annotations)) return undefined;
  if (j.json.effect !== 'permit') return { problem: `@${name} goes on a permit: a forbid lets no call through` };
  return { value: annotations[name] ?? null };
}

/** The typed tool actions (`mcp_tool:<resource>/<tool>`) a policy's action constraint names. */
function toolActionsOf(policy: string): string[] {
  const j = cedar.policyToJson(policy);
  if (j.type !== 'success') return [];
  const a = j.json.action as { op: string; entity?: { id: string }; entities?: Array<{ id: string }> };
  const ids = a.entity !== undefined ? [a.entity.id] : (a.entities ?? []).map((e) => e.id);
  return ids.filter((id) => id.startsWith(TOOL_ACTION_PREFIX));
}

/**
 * Why a policy may not name the tool actions it names, or undefined: argument conditions only narrow (a permit on a
 * tool's action would let nothing through the `mcp_tool` question does not), and a tool's action exists only once its
 * input schema is recorded.
 */
function toolActionProblem(policy: string, tools: readonly ToolSchema[]): string | undefined {
  const named = toolActionsOf(policy);
  if (named.length === 0) return undefined;
  const j = cedar.policyToJson(policy);
  if (j.type === 'success' && j.json.effect === 'permit')
    return `conditions on a tool's arguments narrow what the mcp_tool grants permit: write them as forbid (…, action == Writ::Action::"${named[0]}", …) unless { … }`;
  for (const id of named) {
    const t = parseToolActionId(id);
    if (t === undefined) return `${JSON.stringify(id)} names no tool: the form is mcp_tool:<resource id>/<tool name>`;
    if (!tools.some((s) => s.resourceId === t.resourceId && s.tool === t.tool))
      return `no input schema is known for tool ${JSON.stringify(t.tool)} of resource ${JSON.stringify(t.resourceId)} (is it an MCP resource that lists this tool?)`;
  }
  return undefined;
}

/** A policy's `@approval` approvers: undefined without the annotation, a string when it is not acceptable. */
function approvalOf(policy: string): Approver[] | string | undefined {
  const a = annotationOf(policy, APPROVAL_ANNOTATION);
  return a === undefined ? undefined : 'problem' in a ? a.problem : parseApprovers(a.value);
}

/** A policy's `@budget` limits: undefined without the annotation, a string when it is not acceptable. */
function budgetOf(policy: string): BudgetLimits | string | undefined {
  const a = annotationOf(policy, BUDGET_ANNOTATION);
  return a === undefined ? undefined : 'problem' in a ? a.problem : parseBudget(a.value);
}

function load(grants: { id: string; text: string }[], tools: readonly ToolSchema[]): LoadResult {
  try {
    useSchema(tools);
  } catch (err) {
    cedar.preparsePolicySet(POLICY_SET_ID, { staticPolicies: {} });
    throw err;
  }
  const all: Record<string, string> = {};
  for (const g of grants) {
    const parts = partsOf(g.id, g.text);
    if (Array.isArray(parts)) {
      // Fail closed: a grant that no longer parses could be a `forbid`; dropping it silently would widen access.
      cedar.preparsePolicySet(POLICY_SET_ID, { staticPolicies: {} });
      throw new Error(`grant ${g.id} does not parse: ${parts.join('; ')}`);
    }
    Object.assign(all, parts);
  }
  const ok = cedar.preparsePolicySet(POLICY_SET_ID, { staticPolicies: all });
  if (ok.type !== 'success') {
    cedar.preparsePolicySet(POLICY_SET_ID, { staticPolicies: {} });
    throw new Error(`policy set does not parse: ${ok.errors.map((e) => e.message).join('; ')}`);
  }
  const json = Object.values(all).map((p) => {
    const j = cedar.policyToJson(p);
    return j.type === 'success' ? j.json : { conditions: [{ Var: 'context' }] };
  });
  const approvals: Array<[string, Approver[]]> = [];
  const budgets: Array<[string, BudgetLimits]> = [];
  for (const [id, p] of Object.entries(all)) {
    const a = approvalOf(p);
    const b = budgetOf(p);
    // Fail closed: a stored grant whose annotation no longer reads would otherwise let its calls through unapproved
    // or uncounted.
    const problem = typeof a === 'string' ? a : typeof b === 'string' ? b : undefined;
    if (problem !== undefined) {
      cedar.preparsePolicySet(POLICY_SET_ID, { staticPolicies: {} });
      throw new Error(`grant policy ${id}: ${problem}`);
    }
    if (a !== undefined) approvals.push([id, a as Approver[]]);
    if (b !== undefined) budgets.push([id, b as BudgetLimits]);
  }
  const toolActions = [...new Set(Object.values(all).flatMap(toolActionsOf))].sort();
  return { contextUse: contextUseOf(json), policyCount: Object.keys(all).length, approvals, budgets, toolActions };
}

function authorize(req: CedarRequest): Decision {
  const answer = cedar.statefulIsAuthorized({
    principal: req.principal,
    action: req.action,
    resource: req.resource,
    context: req.context,
    entities: req.entities,
    preparsedPolicySetId: POLICY_SET_ID,
    preparsedSchemaName: SCHEMA_ID,
    validateRequest: true,
  });
  if (answer.type !== 'success') return { decision: 'deny', reasons: [], errors: answer.errors.map((e) => e.message) };
  const errors = answer.response.diagnostics.errors.map((e) => `${e.policyId}: ${e.error.message}`);
  // Fail closed: an evaluation error in any policy denies, even when another policy permits.
  if (errors.length > 0) return { decision: 'deny', reasons: answer.response.diagnostics.reason, errors };
  return { decision: answer.response.decision, reasons: answer.response.diagnostics.reason, errors: [] };
}

parentPort?.on('message', (msg: WorkerRequest) => {
  let response: WorkerResponse;
  try {
    switch (msg.op) {
      case 'validate':
        response = { id: msg.id, ok: true, result: validateText(msg.text, msg.tools) };
        break;
      case 'toolActions': {
        const parts = partsOf('grant', msg.text);
        response = { id: msg.id, ok: true, result: Array.isArray(parts) ? [] : [...new Set(Object.values(parts).flatMap(toolActionsOf))] };
        break;
      }
      case 'load':
        response = { id: msg.id, ok: true, result: load(msg.grants, msg.tools) };
        break;
      case 'authorize':
        response = { id: msg.id, ok: true, result: msg.requests.map(authorize) };
        break;
    }
  } catch (err) {
    response = { id: msg.id, ok: false, error: (err as Error)?.message ?? String(err) };
  }
  parentPort?.postMessage(response);
});

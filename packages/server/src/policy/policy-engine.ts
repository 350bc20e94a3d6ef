/**
 * The main thread's side of the policy worker. Requests are messages; answers come back by id. If the worker dies,
 * every pending call is rejected (callers deny: fail closed), a new worker starts and the last policy set is loaded
 * again before it answers anything.
 */
import { Worker } from 'node:worker_threads';
import type { CedarRequest, ContextUse, Decision, LoadResult, ValidationResult, WorkerRequest, WorkerResponse } from './types.js';
import { approvalRuleFor, type ApprovalRule, type Approver } from './approval-annotation.js';
import { budgetRuleFor, type BudgetLimits } from './budget-annotation.js';
import { argumentTypeOf, parseToolActionId, toolActionId, type RecordType, type ToolSchema } from './tool-arguments.js';
import type { InternalErrorCode } from '../errors/index.js';

export interface PolicyEngine {
  /** Validates a grant against the Writ schema, with an action for each of `tools` (tool-arguments.ts). */
  validate(policyText: string, tools?: readonly ToolSchema[]): Promise<ValidationResult>;
  /** The tools whose typed actions (`mcp_tool:<resource>/<tool>`) a grant's policies name: whose input schemas it needs. */
  toolActions(policyText: string): Promise<Array<{ resourceId: string; tool: string }>>;
  /**
   * Replaces the active policy set, with the recorded input schemas of `tools`; returns its version (increases on
   * every load).
   */
  load(grants: { id: string; text: string }[], tools?: readonly ToolSchema[]): Promise<number>;
  authorize(requests: CedarRequest[]): Promise<Decision[]>;
  /** Version of the active policy set and which context attributes it can read. */
  readonly version: number;
  readonly contextUse: ContextUse;
  /** What a decision's determining policies (`Decision.reasons`) ask for: an approval of the call, or nothing (null). */
  approvalRule(reasons: readonly string[]): ApprovalRule | null;
  /** The tightest `@budget` limits of a decision's determining policies, or null when none states any. */
  budgetRule(reasons: readonly string[]): BudgetLimits | null;
  /**
   * How a tool's arguments are put to the grants: undefined when no policy names the tool's action (its arguments
   * are not governed), the type of its `context.arguments` when one does, and null when one does but no input schema
   * is recorded for it (the call cannot be decided: refuse).
   */
  toolArguments(resourceId: string, tool: string): RecordType | null | undefined;
  /** Number of times the worker had to be restarted. */
  readonly restarts: number;
  close(): Promise<void>;
  /** Tests only: kill the worker as a crash would. */
  crashForTest(): Promise<void>;
}

type Pending = { resolve(v: unknown): void; reject(e: Error): void };
type WorkerRequestBody = WorkerRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

export class PolicyEngineError extends Error {
  readonly code: Extract<InternalErrorCode, 'ERR_POLICY_ENGINE'> = 'ERR_POLICY_ENGINE';
  constructor(message: string) {
    super(message);
    this.name = 'PolicyEngineError';
  }
}

export function createPolicyEngine(opts: { workerUrl?: URL } = {}): PolicyEngine {
  const url = opts.workerUrl ?? new URL('./cedar-worker.js', import.meta.url);
  let worker: Worker;
  let nextId = 1;
  const pending = new Map<number, Pending>();
  let grants: { id: string; text: string }[] = [];
  let tools: readonly ToolSchema[] = [];
  let governed = new Map<string, RecordType | null>();
  let version = 0;
  let contextUse: ContextUse = { all: true };
  let approvals = new Map<string, Approver[]>();
  let budgets = new Map<string, BudgetLimits>();
  let restarts = 0;
  let closed = false;
  let ready: Promise<void> = Promise.resolve();

  const send = <T>(body: WorkerRequestBody): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (closed) {
        reject(new PolicyEngineError('policy engine closed'));
        return;
      }
      const id = nextId++;
      pending.set(id, { resolve: resolve, reject });
      worker.postMessage({ ...body, id });
    });

  const start = (): void => {
    worker = new Worker(url);
    worker.unref();
    worker.on('message', (msg: WorkerResponse) => {
      const p = pending.get(msg.id);
      if (p === undefined) return;
      pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new PolicyEngineError(msg.error));
    });
    // A worker that throws emits 'error' and then 'exit': handle its death once, or a second restart would reject the
    // new worker's reload and leak a worker.
    let dead = false;
    const died = (why: string): void => {
      if (dead) return;
      dead = true;
      for (const p of pending.values()) p.reject(new PolicyEngineError(`policy worker stopped: ${why}`));
      pending.clear();
      if (closed) return;
      restarts++;
      start();
      // Nothing is answered from the new worker until the active policy set is back in it.
      ready = send<{ contextUse: ContextUse }>({ op: 'load', grants, tools: [...tools] }).then(
        () => undefined,
        () => undefined,
      );
    };
    worker.once('error', (err) => died(err.message));
    worker.once('exit', (code) => {
      if (!closed) died(`exit code ${code}`);
    });
  };
  start();

  return {
    async validate(text, withTools = []) {
      await ready;
      return send<ValidationResult>({ op: 'validate', text, tools: [...withTools] });
    },
    async toolActions(text) {
      await ready;
      const ids = await send<string[]>({ op: 'toolActions', text });
      return ids.map(parseToolActionId).filter((t) => t !== undefined);
    },
    async load(next, nextTools = []) {
      await ready;
      try {
        const result = await send<LoadResult>({ op: 'load', grants: next, tools: [...nextTools] });
        grants = next;
        tools = nextTools;
        contextUse = result.contextUse;
        approvals = new Map(result.approvals);
        budgets = new Map(result.budgets);
        governed = governedTools(result.toolActions, nextTools);
        return ++version;
      } catch (err) {
        // The worker fell back to an empty (deny-all) set; a new version makes sure no cached decision survives.
        grants = [];
        tools = [];
        contextUse = { all: true };
        approvals = new Map();
        budgets = new Map();
        governed = new Map();
        version++;
        throw err;
      }
    },
    async authorize(requests) {
      await ready;
      if (requests.length === 0) return [];
      return send<Decision[]>({ op: 'authorize', requests });
    },
    get version() {
      return version;
    },
    get contextUse() {
      return contextUse;
    },
    approvalRule(reasons) {
      return approvals.size === 0 ? null : approvalRuleFor(reasons, approvals);
    },
    budgetRule(reasons) {
      return budgets.size === 0 ? null : budgetRuleFor(reasons, budgets);
    },
    toolArguments(resourceId, tool) {
      return governed.size === 0 ? undefined : governed.get(toolActionId(resourceId, tool));
    },
    get restarts() {
      return restarts;
    },
    async close() {
      closed = true;
      for (const p of pending.values()) p.reject(new PolicyEngineError('policy engine closed'));
      pending.clear();
      await worker.terminate();
    },
    async crashForTest() {
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      await worker.terminate();
      await exited;
    },
  };
}

/** The argument types of the tools some policy governs, by their action id; null where no input schema is recorded. */
function governedTools(actions: readonly string[], tools: readonly ToolSchema[]): Map<string, RecordType | null> {
  const out = new Map<string, RecordType | null>();
  for (const id of actions) {
    const t = parseToolActionId(id);
    const schema = t === undefined ? undefined : tools.find((s) => s.resourceId === t.resourceId && s.tool === t.tool);
    out.set(id, schema === undefined ? null : argumentTypeOf(schema.inputSchema));
  }
  return out;
}

import type { Resource } from './entities.js';

/**
 * What the register needs from the policy engine, described structurally so they depend on no concrete implementation
 * (the composition root wires the real ones).
 */
export interface PolicyPort {
  validate(
    policyText: string,
    tools?: readonly ToolSchemaPort[],
  ): Promise<{ ok: true; policyCount: number } | { ok: false; errors: string[] }>;
  /** The tools whose typed actions (`mcp_tool:<resource>/<tool>`) a grant names: whose input schemas it needs. */
  toolActions(policyText: string): Promise<Array<{ resourceId: string; tool: string }>>;
  load(grants: { id: string; text: string }[], tools?: readonly ToolSchemaPort[]): Promise<number>;
}

/** A tool's input schema as its upstream lists it, recorded for one resource (policy/tool-arguments.ts). */
export interface ToolSchemaPort {
  resourceId: string;
  tool: string;
  inputSchema: unknown;
}

/** The tools an MCP resource's upstream lists now, with their input schemas (gateway/mcp/tool-catalogue.ts). */
export type ToolLister = (resource: Resource) => Promise<Array<{ name: string; inputSchema?: unknown }>>;

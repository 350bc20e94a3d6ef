/**
 * What the register needs from the policy engine, described structurally so they depend on no concrete implementation
 * (the composition root wires the real ones).
 */
export interface PolicyPort {
  validate(policyText: string): Promise<{ ok: true; policyCount: number } | { ok: false; errors: string[] }>;
  load(grants: { id: string; text: string }[]): Promise<number>;
}

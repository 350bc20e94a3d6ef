/** Tables and verdicts for the CLI. */
import type { ValidationResult } from '../policy/index.js';

export function printTable(rows: Record<string, unknown>[], columns: string[], out: (line: string) => void = console.log): void {
  const cells = rows.map((r) => columns.map((c) => format(r[c])));
  const widths = columns.map((c, i) => Math.min(60, Math.max(c.length, ...cells.map((row) => (row[i] as string).length))));
  out(columns.map((c, i) => c.toUpperCase().padEnd(widths[i] as number)).join('  '));
  for (const row of cells) out(row.map((v, i) => v.slice(0, widths[i]).padEnd(widths[i] as number)).join('  '));
  if (rows.length === 0) out('(none)');
}

function format(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'number' && v > 1e12) return new Date(v).toISOString();
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** The verdict on a policy file: a line when it is valid; otherwise each error, on stderr so stdout stays empty. */
export function printValidation(
  file: string,
  answer: ValidationResult,
  out: (line: string) => void = console.log,
  err: (line: string) => void = console.error,
): void {
  if (answer.ok) {
    out(`${file}: valid (${answer.policyCount} ${answer.policyCount === 1 ? 'policy' : 'policies'})`);
    return;
  }
  err(`writ: ${file}: invalid policy`);
  for (const e of answer.errors) err(`  - ${e}`);
}

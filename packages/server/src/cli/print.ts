/** Tables for the CLI. */

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

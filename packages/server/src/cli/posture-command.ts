/** `writ posture`: the posture report as a table, JSON, or Markdown (for a ticket or a review document). */
import { Option, type Command } from 'commander';
import { client, output } from './cli-support.js';

interface FindingView {
  code: string;
  severity: string;
  item: { kind: string; id: string };
  why: string;
  fix: string;
  mappings: { owaspNhi: string[]; owaspAgentic: string[]; nistCsf: string[] };
}
interface PostureView {
  generatedAt: number;
  since: number;
  summary: Record<string, number>;
  findings: FindingView[];
}

export function addPostureCommand(program: Command): void {
  program
    .command('posture')
    .description(
      'what to fix first: owners, lifecycle, unused grants, bearer resources, long-lived tasks, unrotated secrets and admin tokens, stale revocation state',
    )
    .addOption(new Option('--format <format>', 'output').choices(['table', 'json', 'markdown']).default('table'))
    .option('--window-days <n>', 'usage window for grants, days')
    .option('--task-hours <n>', 'an active task older than this is long-lived')
    .option('--rotate-days <n>', 'secrets and admin tokens older than this are due for rotation')
    .action(async (o: { format: string; windowDays?: string; taskHours?: string; rotateDays?: string }) => {
      const q = new URLSearchParams({
        ...(o.windowDays !== undefined ? { windowDays: o.windowDays } : {}),
        ...(o.taskHours !== undefined ? { taskHours: o.taskHours } : {}),
        ...(o.rotateDays !== undefined ? { rotateDays: o.rotateDays } : {}),
      });
      const report = await client().get<PostureView>(`/posture${q.size > 0 ? `?${q}` : ''}`);
      if (o.format === 'json') return output(report, true);
      if (o.format === 'markdown') return console.log(markdown(report));
      output(
        report.findings.map((f) => ({ severity: f.severity, code: f.code, item: `${f.item.kind} ${f.item.id}`, fix: f.fix })),
        false,
        ['severity', 'code', 'item', 'fix'],
      );
      console.log(`${report.summary['high'] ?? 0} high, ${report.summary['medium'] ?? 0} medium, ${report.summary['low'] ?? 0} low`);
    });
}

/** A Markdown document: the summary, then one table row per finding with its mappings. */
export function markdown(r: PostureView): string {
  const cell = (s: string): string => s.replaceAll('|', '\\|').replaceAll('\n', ' ');
  const lines = [
    `# Writ posture report`,
    '',
    `Generated ${new Date(r.generatedAt).toISOString()}; usage read since ${new Date(r.since).toISOString()}.`,
    '',
    `**${r.summary['high'] ?? 0} high, ${r.summary['medium'] ?? 0} medium, ${r.summary['low'] ?? 0} low.**`,
    '',
    '| severity | finding | item | why | fix | OWASP NHI | OWASP Agentic | NIST CSF |',
    '|---|---|---|---|---|---|---|---|',
    ...r.findings.map(
      (f) =>
        `| ${f.severity} | \`${f.code}\` | ${cell(`${f.item.kind} ${f.item.id}`)} | ${cell(f.why)} | ${cell(f.fix)} | ${cell(
          f.mappings.owaspNhi.join('; '),
        )} | ${cell(f.mappings.owaspAgentic.join('; '))} | ${cell(f.mappings.nistCsf.join('; '))} |`,
    ),
  ];
  if (r.findings.length === 0) lines.push('| — | nothing to fix | | | | | | |');
  return lines.join('\n');
}

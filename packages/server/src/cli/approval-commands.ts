/** `writ approvals …`: calls held back for a person's approval (grants with `@approval`). */
import { Option, type Command } from 'commander';
import { client, enc, output } from './cli-support.js';

export function addApprovalCommands(program: Command): void {
  const approvals = program.command('approvals').description("calls held back until a person approves them (a grant's @approval)");
  approvals
    .command('list')
    .description('newest first: the call, who may decide, the status')
    .addOption(new Option('--status <status>', 'as it stands now').choices(['pending', 'approved', 'denied', 'expired', 'used']))
    .option('--limit <n>', 'at most this many', '100')
    .addOption(new Option('--json', 'print JSON'))
    .action(async (o: { status?: string; limit: string; json?: boolean }) => {
      const q = new URLSearchParams({ limit: o.limit, ...(o.status !== undefined ? { status: o.status } : {}) });
      const rows = await client().get<
        Array<{
          id: string;
          status: string;
          call: { resourceId: string; action: string; target: string; userId: string };
          approvers: string[];
        }>
      >(`/approvals?${q}`);
      if (o.json === true) return output(rows, true);
      output(
        rows.map((a) => ({
          id: a.id,
          status: a.status,
          call: `${a.call.resourceId} ${a.call.action} ${a.call.target}`,
          for: a.call.userId,
          approvers: a.approvers.join(', '),
        })),
        false,
        ['id', 'status', 'call', 'for', 'approvers'],
      );
    });
  approvals
    .command('show <id>')
    .description('the exact call: resource, action, target, arguments, the task and its chain')
    .action(async (id: string) => output(await client().get(`/approvals/${enc(id)}`), true));
  for (const [cmd, desc] of [
    ['approve', 'approve a pending call as an operator (where the grant names admin): the same call, sent again, goes through once'],
    ['deny', 'deny a pending call as an operator (where the grant names admin)'],
  ] as const)
    approvals
      .command(`${cmd} <id>`)
      .description(desc)
      .requiredOption('--reason <text>', 'why, for the audit log')
      .action(async (id: string, o: { reason: string }) =>
        output(await client().post(`/approvals/${enc(id)}/${cmd}`, { reason: o.reason }), true),
      );
}

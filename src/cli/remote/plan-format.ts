/** One change of a plan, as POST /api/plan answers it. */
export type PlanChange = {
  kind: string;
  key: string;
  op: 'create' | 'update' | 'delete' | 'unchanged';
  diff: { op: 'add' | 'remove' | 'replace'; path: string; value?: unknown }[];
};
export type Plan = { snapshot: string; changes: PlanChange[] };

const SGR = { green: 32, yellow: 33, red: 31, dim: 2 } as const;
type Paint = (colour: keyof typeof SGR, text: string) => string;

function painter(colour: boolean): Paint {
  return colour ? (c, text) => `\u001b[${SGR[c]}m${text}\u001b[0m` : (_c, text) => text;
}

const MARK = { create: ['+', 'green'], update: ['~', 'yellow'], delete: ['-', 'red'] } as const;

/** The changes that do something. */
export function pending(plan: Pick<Plan, 'changes'>): PlanChange[] {
  return plan.changes.filter((c) => c.op !== 'unchanged');
}

/** An RFC 6902 operation on a line of its own: `replace /email "b@example.com"`. */
function opLine(op: PlanChange['diff'][number]): string {
  return op.op === 'remove' || op.value === undefined
    ? `${op.op} ${op.path}`
    : `${op.op} ${op.path} ${JSON.stringify(op.value)}`;
}

/**
 * The plan for a person: `+ create role editor`, `~ update user alice` with each operation under it,
 * `- delete …`, then how many are unchanged and a summary line. Coloured only when asked (a terminal, no NO_COLOR).
 */
export function formatPlan(plan: Plan, colour: boolean): string {
  const paint = painter(colour);
  const lines: string[] = [];
  for (const change of pending(plan)) {
    if (change.op === 'unchanged') continue;
    const [mark, c] = MARK[change.op];
    lines.push(paint(c, `${mark} ${change.op} ${change.kind} ${change.key}`));
    if (change.op === 'update') for (const op of change.diff) lines.push(paint(c, `    ${opLine(op)}`));
  }
  const count = (op: PlanChange['op']) => plan.changes.filter((c) => c.op === op).length;
  const unchanged = count('unchanged');
  if (unchanged > 0) lines.push(paint('dim', `${unchanged} unchanged`));
  lines.push(
    pending(plan).length === 0
      ? 'No changes: the server already matches the document.'
      : `Plan: ${count('create')} to create, ${count('update')} to update, ${count('delete')} to delete.`,
  );
  return lines.join('\n') + '\n';
}

/**
 * The query shapes the bench measures, with parameters of known selectivity taken from the seeded data:
 * the five page queries (goal p99 ≤ 25 ms), then a few more filters for context.
 */
import { encodeCursor } from '../../src/lib/pagination.js';
import { actionShare } from './generate.js';
import type { Shape } from './measure.js';
import type { Probe } from './probe.js';

const DAY = 86_400_000;
const PAGE = 50;

type Page = {
  data: { seq: number; actor: string; action: string; ts: string }[];
  next_cursor: string | null;
};

/** The filters object `AuditService.list` hashes into a cursor, keys in its order (undefined ones drop out). */
export function cursorScope(q: {
  actor?: string;
  action?: string;
  since?: string;
  until?: string;
  target?: string;
  outcome?: string;
}) {
  return {
    actor: q.actor,
    action: q.action,
    since: q.since,
    until: q.until,
    target: q.target,
    outcome: q.outcome,
    order: 'desc',
  };
}

function qs(params: Record<string, string | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) p.set(k, v);
  return `/api/audit?${p.toString()}`;
}

/** Every row matches the shape's filter, and there is a page of them unless the filter is narrow. */
function expect(pred: (e: Page['data'][number], q: URLSearchParams) => boolean, minRows = 1) {
  return (body: string, path: string): string | null => {
    const page = JSON.parse(body) as Page;
    const q = new URL(path, 'http://x').searchParams;
    if (page.data.length < minRows) return `${path}: only ${page.data.length} rows`;
    const bad = page.data.find((e) => !pred(e, q));
    return bad ? `${path}: row seq ${bad.seq} does not match the filter` : null;
  };
}

function isoDaysAgo(now: number, days: number): string {
  // Whole minutes, as a person or a UI would send: many requests share the same `since`.
  return new Date(Math.floor((now - days * DAY) / 60_000) * 60_000).toISOString();
}

/** `actors`: user ids, busiest first. */
export async function buildShapes(
  probe: Probe,
  actors: string[],
  headSeq: number,
  depth: number,
  now: number,
): Promise<Shape[]> {
  if (actors.length === 0) throw new Error('no user actors in the audit log');
  const pick = (ranks: number[]) =>
    [...new Set(ranks.map((r) => Math.min(actors.length - 1, r)))].map((r) => actors[r]!);
  // Ranks by activity: the busiest service account, busy, typical and rare people.
  const actorIds = pick([0, 3, 20, 150, 800, actors.length - 1]);
  const actions = ['user.update', 'token.create', 'auth.login', 'role.assign', 'role.delete', 'audit.purge'];

  // A quick run has fewer than 5,000 pages: then half-way down.
  const pages = Math.min(depth, Math.floor(headSeq / PAGE / 2));
  const deepSeq = headSeq - pages * PAGE;
  const deepPath = `/api/audit?cursor=${encodeCursor([deepSeq], cursorScope({}))}`;

  // actor + action + since: busy and rare actors with common and rare actions, over 7 to 90 days.
  const combos: [string, string, number][] = [
    [actorIds[0]!, 'user.update', 30],
    [actorIds[1]!, 'role.delete', 30],
    [actorIds[2]!, 'token.rotate', 90],
    [actorIds[3]!, 'user.read', 7],
    [actorIds[4]!, 'auth.login', 30],
    [actorIds[5]!, 'user.update', 90],
    [actorIds[0]!, 'audit.export', 90],
    [actorIds[2]!, 'config.update', 30],
  ];
  const combined = combos.map(([actor, action, days]) => qs({ actor, action, since: isoDaysAgo(now, days) }));

  // 5,000 pages deep into one action's matches: the seq of its (depth × 50)th newest row, or half-way
  // down when the action has fewer rows than that (quick runs).
  const deepAction = 'user.update';
  const matches = Math.round(headSeq * actionShare(deepAction));
  const offset = Math.min(depth * PAGE, Math.floor(matches / 2));
  const row = await probe.one(
    'select seq from audit_events where action = ? order by seq desc limit 1 offset ?',
    [deepAction, offset],
  );
  const deepActionCursor = encodeCursor([Number(row?.seq ?? 1)], cursorScope({ action: deepAction }));

  const targets = pick([1, 40, 400]).map((id) => qs({ target: `user:${id}` }));
  return [
    { key: 'healthz', title: 'GET /healthz (baseline)', goal: false, paths: ['/healthz'] },
    { key: 'me', title: 'GET /api/me (auth baseline, no audit row)', goal: false, paths: ['/api/me'] },
    {
      key: 'first',
      title: 'first page, unfiltered',
      goal: true,
      paths: ['/api/audit'],
      check: expect(() => true, PAGE),
    },
    {
      key: 'action',
      title: 'by action (6 actions, 0.05–14 % of rows)',
      goal: true,
      paths: actions.map((action) => qs({ action })),
      check: expect((e, q) => e.action === q.get('action')),
    },
    {
      key: 'actor',
      title: 'by actor (6 users, activity ranks 1–last)',
      goal: true,
      paths: actorIds.map((actor) => qs({ actor })),
      check: expect((e, q) => e.actor === q.get('actor')),
    },
    {
      key: 'actor_action_since',
      title: 'actor + action + since (8 combinations, 7–90 days)',
      goal: true,
      paths: combined,
      check: expect(
        (e, q) => e.actor === q.get('actor') && e.action === q.get('action') && e.ts >= q.get('since')!,
        0,
      ),
    },
    {
      key: 'deep',
      title: `${pages.toLocaleString('en-US')} pages deep, unfiltered`,
      goal: true,
      paths: [deepPath],
      check: expect((e) => e.seq < deepSeq, PAGE),
    },
    {
      key: 'first_action',
      title: `first page of action=${deepAction}`,
      goal: false,
      paths: [qs({ action: deepAction })],
      check: expect((e) => e.action === deepAction, PAGE),
    },
    {
      key: 'deep_action',
      title: `deep into action=${deepAction} (offset ${offset.toLocaleString('en-US')})`,
      goal: false,
      paths: [`/api/audit?action=${deepAction}&cursor=${deepActionCursor}`],
      check: expect((e) => e.action === deepAction, PAGE),
    },
    {
      key: 'resource',
      title: 'action=user.* (resource)',
      goal: false,
      paths: [qs({ action: 'user.*' }), qs({ action: 'token.*' })],
      check: expect((e, q) => e.action.startsWith(q.get('action')!.slice(0, -1))),
    },
    {
      key: 'verb',
      title: 'action=delete (bare verb)',
      goal: false,
      paths: [qs({ action: 'delete' }), qs({ action: 'rotate' })],
      check: expect((e, q) => e.action.endsWith(`.${q.get('action')!}`)),
    },
    {
      key: 'action_list',
      title: 'action=user.update,role.assign (list)',
      goal: false,
      paths: [qs({ action: 'user.update,role.assign' }), qs({ action: 'token.revoke,role.delete' })],
      check: expect((e, q) => q.get('action')!.split(',').includes(e.action)),
    },
    {
      key: 'outcome',
      title: 'outcome=denied',
      goal: false,
      paths: [qs({ outcome: 'denied' }), qs({ outcome: 'error' })],
      check: expect((e, q) => (e as { outcome?: string }).outcome === q.get('outcome')),
    },
    { key: 'target', title: 'target=user:<id>', goal: false, paths: targets },
    {
      key: 'since_until',
      title: 'since + until (one day, 100 days ago)',
      goal: false,
      paths: [qs({ since: isoDaysAgo(now, 100), until: isoDaysAgo(now, 99) })],
    },
  ];
}

/**
 * Deterministic, realistic audit events for the bulk loader: 33 actions over 7 resources, a few thousand
 * user actors (Zipf-distributed) plus `system` and `anonymous`, outcomes mostly `success`, `ts` spread
 * evenly over the window and never decreasing, a `changes` JSON of a few hundred bytes on about half the
 * rows, and a valid hash chain continued from the head the loader found.
 */
import { randomFillSync } from 'node:crypto';
import { TypeID } from 'typeid-js';
import type { AuditEventsTable } from '../../src/db/tables.js';
import { chainHash } from '../../src/modules/journal/event.js';

export type Row = AuditEventsTable;
type Outcome = AuditEventsTable['outcome'];

/** action, relative weight, whether it is a change (carries `changes`), its target type (null: none). */
const ACTIONS: readonly (readonly [string, number, boolean, string | null])[] = [
  ['auth.me', 8, false, null],
  ['auth.login', 6, false, 'session'],
  ['auth.logout', 2, false, 'session'],
  ['user.list', 5, false, null],
  ['user.read', 6, false, 'user'],
  ['user.create', 6, true, 'user'],
  ['user.update', 14, true, 'user'],
  ['user.delete', 2, true, 'user'],
  ['role.list', 2, false, null],
  ['role.read', 2, false, 'role'],
  ['role.list_members', 1, false, 'role'],
  ['role.list_of_user', 1.5, false, 'user'],
  ['role.create', 1, true, 'role'],
  ['role.update', 3, true, 'role'],
  ['role.delete', 0.5, true, 'role'],
  ['role.assign', 5, true, 'user'],
  ['role.unassign', 2, true, 'user'],
  ['token.list', 3, false, null],
  ['token.read', 2, false, 'token'],
  ['token.create', 6, true, 'token'],
  ['token.rotate', 4, true, 'token'],
  ['token.revoke', 3, true, 'token'],
  ['audit.query', 4, false, null],
  ['audit.read', 1, false, 'audit_event'],
  ['audit.export', 0.2, false, null],
  ['audit.verify', 0.1, false, null],
  ['audit.purge', 0.05, true, 'audit'],
  ['config.read', 3, false, null],
  ['config.update', 2, true, 'config'],
  ['config.history', 0.5, false, null],
  ['config.read_version', 0.2, false, 'config'],
  ['config.read_schema', 0.3, false, null],
  ['event.list_types', 0.5, false, null],
];

export const ACTION_NAMES: readonly string[] = ACTIONS.map((a) => a[0]);

/** The share of all events each action gets, for picking query parameters of known selectivity. */
export function actionShare(action: string): number {
  const total = ACTIONS.reduce((s, a) => s + a[1], 0);
  return (ACTIONS.find((a) => a[0] === action)?.[1] ?? 0) / total;
}

const USER_AGENTS = [
  'gatehouse-cli/0.1.0 node/20.19.0',
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
  'terraform-provider-gatehouse/1.4.2',
  'python-requests/2.32.3',
  'curl/8.5.0',
];
const DENIALS = [
  'forbidden: the token lacks the scope users:write',
  'unauthorized: the token is expired',
  'forbidden: the token lacks the scope roles:write',
  'unauthorized: no token',
];
const ERRORS = [
  'conflict: the username is taken',
  'precondition_failed: the ETag does not match',
  'validation_failed: /email must match format "email"',
];
const PERMS = [
  'users:read',
  'users:write',
  'roles:read',
  'roles:write',
  'tokens:read',
  'tokens:write',
  'audit:read',
  'config:read',
  'config:write',
];

/** sfc32: small, fast and good enough for test data; seeded so two runs load identical events. */
function prng(seed: number): () => number {
  let a = 0x9e3779b9,
    b = 0x243f6a88,
    c = 0xb7e15162,
    d = seed >>> 0;
  const next = () => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 20; i++) next();
  return next;
}

/** A TypeID whose UUIDv7 carries `ms` and random bits from `rand` (or the CSPRNG when omitted). */
function typeIdAt(prefix: string, ms: number, rand?: () => number): string {
  const b = new Uint8Array(16);
  if (rand) for (let i = 6; i < 16; i++) b[i] = Math.floor(rand() * 256);
  else randomFillSync(b, 6, 10);
  let t = ms;
  for (let i = 5; i >= 0; i--) {
    b[i] = t % 256;
    t = Math.floor(t / 256);
  }
  b[6] = 0x70 | (b[6]! & 0x0f);
  b[8] = 0x80 | (b[8]! & 0x3f);
  return TypeID.fromUUIDBytes(prefix, b).toString();
}

function uuid(rand: () => number): string {
  let hex = '';
  for (let i = 0; i < 16; i++)
    hex += Math.floor(rand() * 256)
      .toString(16)
      .padStart(2, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

export type Actor = { id: string; name: string; tokens: string[] };

/** Picks from a cumulative weight table by binary search. */
function picker(weights: readonly number[], rand: () => number): () => number {
  const cum: number[] = [];
  let sum = 0;
  for (const w of weights) cum.push((sum += w));
  return () => {
    const x = rand() * sum;
    let lo = 0,
      hi = cum.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cum[mid]! > x) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
}

export type GeneratorOptions = {
  seed: number;
  actors: number;
  count: number;
  /** The head the loader continues: the first row gets `seq + 1` and `prev_hash = hash`. */
  head: { seq: number; hash: string; ts: number };
  fromTs: number;
  toTs: number;
};

export class EventGenerator {
  readonly actors: Actor[];
  readonly roles: string[];
  private readonly rand: () => number;
  private readonly pickAction: () => number;
  private readonly pickActor: () => number;
  private seq: number;
  private prevHash: string;
  private lastTs: number;
  private made = 0;
  private readonly opts: GeneratorOptions;

  constructor(opts: GeneratorOptions) {
    this.opts = opts;
    this.rand = prng(opts.seed);
    const base = opts.fromTs - 400 * 86_400_000;
    // Zipf (s = 0.9): a few busy service accounts, a long tail of people who act now and then.
    this.actors = Array.from({ length: opts.actors }, (_, i) => ({
      id: typeIdAt('user', base + i * 1000, this.rand),
      name: i < 20 ? `svc-${i}` : `user${i}`,
      tokens: Array.from({ length: 1 + (i % 3) }, (_, k) => typeIdAt('tok', base + i * 1000 + k, this.rand)),
    }));
    this.roles = Array.from({ length: 40 }, (_, i) => typeIdAt('role', base + i, this.rand));
    this.pickActor = picker(
      this.actors.map((_, i) => 1 / Math.pow(i + 1, 0.9)),
      this.rand,
    );
    this.pickAction = picker(
      ACTIONS.map((a) => a[1]),
      this.rand,
    );
    this.seq = opts.head.seq;
    this.prevHash = opts.head.hash;
    this.lastTs = Math.max(opts.head.ts, opts.fromTs);
  }

  get remaining(): number {
    return this.opts.count - this.made;
  }

  get head(): { seq: number; hash: string; ts: number } {
    return { seq: this.seq, hash: this.prevHash, ts: this.lastTs };
  }

  /** Up to `n` more rows, chained. */
  batch(n: number): Row[] {
    const rows: Row[] = [];
    const take = Math.min(n, this.remaining);
    for (let i = 0; i < take; i++) rows.push(this.next());
    return rows;
  }

  private next(): Row {
    const r = this.rand;
    const { count, fromTs, toTs } = this.opts;
    const planned = fromTs + Math.floor(((this.made + r()) * (toTs - fromTs)) / count);
    const ts = Math.max(this.lastTs, planned);
    this.lastTs = ts;
    this.made += 1;
    this.seq += 1;

    const [action, , isChange, targetType] = ACTIONS[this.pickAction()]!;
    const [resource = action, verb = ''] = action.split('.');
    const who = r();
    let actor: string, actorName: string | null, tokenId: string | null;
    if (who < 0.04 || action === 'audit.purge') {
      actor = 'system';
      actorName = 'system';
      tokenId = null;
    } else if (who < 0.07 && !isChange) {
      actor = 'anonymous';
      actorName = null;
      tokenId = null;
    } else {
      const a = this.actors[this.pickActor()]!;
      actor = a.id;
      actorName = a.name;
      tokenId = a.tokens[Math.floor(r() * a.tokens.length)] ?? null;
    }
    const o = r();
    const outcome: Outcome =
      actor === 'anonymous'
        ? o < 0.6
          ? 'denied'
          : 'success'
        : o < 0.95
          ? 'success'
          : o < 0.99
            ? 'denied'
            : 'error';
    const targetId = targetType === null ? null : this.target(targetType, ts);
    const system = actor === 'system';
    const row: Omit<Row, 'hash'> = {
      seq: this.seq,
      id: typeIdAt('evt', ts),
      ts,
      actor,
      actor_name: actorName,
      token_id: tokenId,
      action,
      resource,
      verb,
      target_type: targetType,
      target_id: targetId,
      outcome,
      request_id: system ? 'retention' : uuid(r),
      ip: system ? null : `10.${Math.floor(r() * 4)}.${Math.floor(r() * 256)}.${Math.floor(r() * 256)}`,
      user_agent: system ? null : USER_AGENTS[Math.floor(r() * USER_AGENTS.length)]!,
      changes: isChange && outcome === 'success' ? this.changes(resource, targetId, ts) : null,
      detail:
        outcome === 'denied'
          ? DENIALS[Math.floor(r() * DENIALS.length)]!
          : outcome === 'error'
            ? ERRORS[Math.floor(r() * ERRORS.length)]!
            : null,
      prev_hash: this.prevHash,
    };
    const hash = chainHash(row);
    this.prevHash = hash;
    return { ...row, hash };
  }

  private target(type: string, ts: number): string | null {
    const r = this.rand;
    switch (type) {
      case 'user':
        return this.actors[Math.floor(r() * this.actors.length)]!.id;
      case 'role':
        return this.roles[Math.floor(r() * this.roles.length)]!;
      case 'token':
        return this.actors[Math.floor(r() * this.actors.length)]!.tokens[0]!;
      case 'session':
        return typeIdAt('sess', ts, r);
      case 'audit_event':
        return typeIdAt('evt', ts - Math.floor(r() * 86_400_000), r);
      case 'config':
        return String(1 + Math.floor(r() * 200));
      default:
        return null;
    }
  }

  /** `{ before, after }` of a few hundred bytes, shaped like the resource's API representation. */
  private changes(resource: string, id: string | null, ts: number): string {
    const r = this.rand;
    const iso = (ms: number) => new Date(ms).toISOString();
    const n = Math.floor(r() * 100_000);
    let before: unknown = null;
    let after: unknown;
    if (resource === 'user') {
      const u = {
        id,
        username: `user${n}`,
        email: `user${n}@example.com`,
        display_name: `User ${n}`,
        kind: 'human',
        disabled: false,
        created_at: iso(ts - 86_400_000 * 30),
        updated_at: iso(ts - 3_600_000),
      };
      before = u;
      after = { ...u, email: `user${n}.new@example.com`, disabled: r() < 0.1, updated_at: iso(ts) };
    } else if (resource === 'role') {
      const perms = PERMS.filter(() => r() < 0.5);
      const role = {
        id,
        name: `role-${n}`,
        description: 'Operators of the billing plugin',
        permissions: perms,
        updated_at: iso(ts - 86_400_000),
      };
      before = role;
      after = { ...role, permissions: [...perms, 'audit:read'], updated_at: iso(ts) };
    } else if (resource === 'token') {
      const tok = {
        id,
        user_id: this.actors[n % this.actors.length]!.id,
        name: `ci-deploy-${n}`,
        scopes: PERMS.slice(0, 1 + (n % 5)),
        expires_at: iso(ts + 30 * 86_400_000),
        last_used_at: null,
        revoked_at: null,
      };
      before = tok;
      after = { ...tok, revoked_at: iso(ts) };
    } else if (resource === 'config') {
      after = {
        diff: [
          { op: 'replace', path: '/rate_limits/default/max', value: 600 + (n % 100) },
          { op: 'replace', path: '/audit/retention_days', value: 365 },
        ],
        version: 1 + (n % 200),
      };
    } else {
      after = { deleted: 10_000, through_seq: n, retention_days: 365 };
    }
    return JSON.stringify({ before, after });
  }
}

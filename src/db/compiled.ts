import type { Compilable, CompiledQuery, DialectAdapter } from 'kysely';
import type { Queryable } from './tables.js';

/** Stands for the `index`-th argument while a query is compiled; replaced by the argument at each run. */
class Slot {
  constructor(readonly index: number) {}
}

type Template = { compiled: CompiledQuery; parameters: ReadonlyArray<unknown> };

/**
 * A read built and compiled once per database, then run with new values: `build` receives stand-ins for its
 * arguments and must pass each one to Kysely unchanged as a value (`where('id', '=', id)`, `limit(n)`), never
 * compute with it. Building a query tree (frozen nodes, then a compiler pass) was most of Kysely's share of a
 * hot read's CPU and much of its garbage; the SQL text is the same for every call, so it is made once.
 *
 * The cache is keyed by the database's dialect adapter, which a Kysely instance shares with its transactions:
 * one entry per database in use (tests open SQLite and PostgreSQL in one process). Throws at the first call
 * when `build` did not pass an argument through as a value.
 */
export function compiledRead<A extends unknown[], R>(
  build: (q: Queryable, ...args: A) => Compilable<R>,
): (q: Queryable, ...args: A) => Promise<R[]> {
  const templates = new WeakMap<DialectAdapter, Template>();
  const templateFor = (q: Queryable, arity: number): Template => {
    const adapter = q.getExecutor().adapter;
    let template = templates.get(adapter);
    if (!template) {
      const slots = Array.from({ length: arity }, (_, i) => new Slot(i)) as unknown as A;
      const compiled = build(q, ...slots).compile();
      const used = new Set(compiled.parameters.flatMap((p) => (p instanceof Slot ? [p.index] : [])));
      if (used.size !== arity)
        throw new Error(
          `compiledRead: ${String(arity - used.size)} argument(s) not passed through as values`,
        );
      template = { compiled, parameters: compiled.parameters };
      templates.set(adapter, template);
    }
    return template;
  };
  return async (q, ...args) => {
    const { compiled, parameters } = templateFor(q, args.length);
    const values = parameters.map((p) => (p instanceof Slot ? args[p.index] : p));
    return (await q.executeQuery<R>({ ...compiled, parameters: values })).rows;
  };
}

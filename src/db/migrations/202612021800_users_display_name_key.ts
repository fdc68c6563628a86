import { codePointText, type Db } from './_lib.js';

/** The key a display name is searched and sorted by: Unicode NFKC, lower case; '' for none. */
function keyOf(displayName: string | null): string {
  return displayName === null ? '' : displayName.normalize('NFKC').toLowerCase();
}

/**
 * `users.display_name_key`: the display name folded as the username and the email already are (NFKC, lower
 * case), so the user search is a case-insensitive substring match that behaves the same on both dialects
 * (SQLite's `lower()` folds ASCII only, PostgreSQL's follows the locale), and sorting by display name is by
 * code point ("C" collation) on both. Indexes serve the `display_name` and `created_at` sorts with the id as
 * the tiebreaker of their keysets.
 */
export async function up(db: Db): Promise<void> {
  await db.schema
    .alterTable('users')
    .addColumn('display_name_key', 'text', (c) => codePointText(db)(c).notNull().defaultTo(''))
    .execute();
  let after = '';
  for (;;) {
    const rows = await db
      .selectFrom('users')
      .select(['id', 'display_name'])
      .where('id', '>', after)
      .where('display_name', 'is not', null)
      .orderBy('id')
      .limit(500)
      .execute();
    for (const row of rows as { id: string; display_name: string | null }[]) {
      await db
        .updateTable('users')
        .set({ display_name_key: keyOf(row.display_name) })
        .where('id', '=', row.id)
        .execute();
    }
    const last = rows.at(-1) as { id: string } | undefined;
    if (!last) break;
    after = last.id;
  }
  await db.schema
    .createIndex('users_display_name_key_idx')
    .on('users')
    .columns(['display_name_key', 'id'])
    .execute();
  await db.schema.createIndex('users_created_at_idx').on('users').columns(['created_at', 'id']).execute();
}

export async function down(db: Db): Promise<void> {
  await db.schema.dropIndex('users_created_at_idx').execute();
  await db.schema.dropIndex('users_display_name_key_idx').execute();
  await db.schema.alterTable('users').dropColumn('display_name_key').execute();
}

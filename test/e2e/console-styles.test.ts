import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { snapshotBuild } from './browser.js';

// ui/src/styles.ts imports Mantine's stylesheets one component at a time: a component the console starts to
// use (directly, or inside another Mantine component) without its sheet would render unstyled. Mantine's
// classes (and animations) are fixed names (`m_` and 8 hex digits) written into its components' code, so the
// built JS says which ones the console can render, and the built CSS must define each.
describe('console styles', () => {
  const entry = snapshotBuild();
  const assets = join(entry, '../../ui/assets');
  afterAll(() => rmSync(join(entry, '../../..'), { recursive: true, force: true }));

  it('defines every Mantine class that the console code uses', () => {
    const files = readdirSync(assets);
    const read = (ext: string) =>
      files
        .filter((f) => f.endsWith(ext))
        .map((f) => readFileSync(join(assets, f), 'utf8'))
        .join('\n');
    const classes = (text: string, pattern: RegExp) => new Set([...text.matchAll(pattern)].map((m) => m[1]!));
    const used = classes(read('.js'), /\b(m_[0-9a-f]{8})\b/g);
    const defined = classes(read('.css'), /(?:\.|@keyframes )(m_[0-9a-f]{8})\b/g); // a class, or an animation's name
    expect(used.size).toBeGreaterThan(50);
    expect([...used].filter((c) => !defined.has(c))).toEqual([]);
  });
});

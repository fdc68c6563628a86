import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve, sep } from 'node:path';
import { AppError } from '../errors.js';
import { builtinPlugins } from './builtin/index.js';
import type { PluginDefinition } from './define.js';

/** The npm keyword by which a package declares itself a Gatehouse plugin; no other package is ever imported. */
export const PLUGIN_KEYWORD = 'gatehouse-plugin';

/** The same rule as the API's plugin names: no dots, slashes or scopes, so a name never leaves its folder. */
const NAME = /^[a-z][a-z0-9-]{1,62}$/;

export type ModuleSource = { kind: 'builtin'; definition: PluginDefinition } | { kind: 'file'; file: string };

type PackageJson = { keywords?: unknown; exports?: unknown; main?: unknown };

/** The file an `exports` entry names for `import` on Node (conditions `import`, `node`, `default`, in that order). */
function exportTarget(entry: unknown): string | null {
  if (typeof entry === 'string') return entry;
  if (Array.isArray(entry)) return entry.map(exportTarget).find((t) => t !== null) ?? null;
  if (!entry || typeof entry !== 'object') return null;
  const map = entry as Record<string, unknown>;
  if ('.' in map) return exportTarget(map['.']);
  for (const condition of ['import', 'node', 'default']) {
    const target = condition in map ? exportTarget(map[condition]) : null;
    if (target !== null) return target;
  }
  return null;
}

/** A declared plugin package's entry file; throws `unprocessable` for any other package. */
function packageEntry(name: string, dir: string): string {
  let pkg: PackageJson;
  try {
    pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageJson;
  } catch {
    throw new AppError('unprocessable', `The package ${name} has no readable package.json.`);
  }
  if (!Array.isArray(pkg.keywords) || !pkg.keywords.includes(PLUGIN_KEYWORD)) {
    throw new AppError(
      'unprocessable',
      `The package ${name} is not a Gatehouse plugin: a plugin package lists "${PLUGIN_KEYWORD}" in the keywords of its package.json.`,
    );
  }
  const target = exportTarget(pkg.exports) ?? (typeof pkg.main === 'string' ? pkg.main : 'index.js');
  const file = resolve(dir, target);
  if (!file.startsWith(dir + sep) || !existsSync(file))
    throw new AppError('unprocessable', `The package ${name} names an entry file it does not contain.`);
  return file;
}

/**
 * Finds an installed module plugin by name: shipped with Gatehouse, a folder `<name>/index.{js,mjs}` under
 * PLUGINS_DIR, or a package in PLUGINS_DIR/node_modules or Gatehouse's own node_modules that declares the
 * `gatehouse-plugin` keyword. Only reads the disk: nothing is imported here. Problems name no server path.
 * Throws `unprocessable`.
 */
export function findModulePlugin(name: string, pluginsDir: string): ModuleSource {
  if (!NAME.test(name))
    throw new AppError(
      'unprocessable',
      'A module plugin name is 2–63 lower-case letters, digits and hyphens.',
    );
  const shipped = builtinPlugins[name];
  if (shipped) return { kind: 'builtin', definition: shipped as PluginDefinition };
  const folder = resolve(pluginsDir, name);
  const file = ['index.js', 'index.mjs'].map((f) => join(folder, f)).find((f) => existsSync(f));
  if (file) return { kind: 'file', file };
  const searched = [
    join(pluginsDir, 'node_modules'),
    ...(createRequire(import.meta.url).resolve.paths(name) ?? []),
  ];
  const dir = searched.map((d) => resolve(d, name)).find((d) => existsSync(join(d, 'package.json')));
  if (dir) return { kind: 'file', file: packageEntry(name, dir) };
  throw new AppError(
    'unprocessable',
    `No module plugin named ${name}: install it under the plugins folder (PLUGINS_DIR) as ${name}/index.mjs, or as an npm package with the "${PLUGIN_KEYWORD}" keyword, then register it.`,
  );
}

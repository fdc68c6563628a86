import { execFile } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/databases.js';

const ROOT = resolve(import.meta.dirname, '../..');
const PACKAGE = join(ROOT, 'packages/client');
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');
const exec = promisify(execFile);

type PackageJson = {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  bin?: unknown;
};
type PackResult = { filename: string; size: number; files: { path: string }[] };

const readPackage = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as PackageJson;

/** The TypeScript block between a README's client-example markers, exactly as it shows it. */
function readmeExample(readme: string): string {
  const found = /<!-- client-example\b[^>]*-->\n```ts\n([\s\S]*?)```\n<!-- \/client-example -->/.exec(
    readFileSync(readme, 'utf8'),
  );
  if (!found) throw new Error(`${readme} has no client-example block`);
  return found[1]!;
}

/** This run's own npm settings (npm_config_prefix and the like, set by `npm test`) stay out of the children. */
const env = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !/^npm_(?!config_(cache|registry|userconfig)$)/i.test(k)),
);
const npm = (args: string[], cwd: string) => exec('npm', args, { cwd, env, maxBuffer: 16 << 20 });

/** Every package installed under `dir/node_modules` (scoped ones as `@scope/name`). */
function installed(dir: string): string[] {
  const top = join(dir, 'node_modules');
  return readdirSync(top)
    .filter((n) => !n.startsWith('.'))
    .flatMap((n) => (n.startsWith('@') ? readdirSync(join(top, n)).map((m) => `${n}/${m}`) : [n]));
}

/** `name` and every package it depends on, transitively, as installed under `dir/node_modules`. */
function closure(dir: string, name: string, seen = new Set<string>()): Set<string> {
  if (seen.has(name)) return seen;
  seen.add(name);
  const pkg = readPackage(join(dir, 'node_modules', name, 'package.json'));
  for (const dep of Object.keys(pkg.dependencies ?? {})) closure(dir, dep, seen);
  return seen;
}

// The package as a user gets it: built from packages/client's sources, packed by `npm pack`, installed from
// the tarball into an empty project, compiled by tsc with strict settings and run by node against a server.
describe('@gatehouse/client as a package (packages/client)', () => {
  let app: TestApp;
  let database: TestDatabase;
  let url: string;
  let stage: string;
  let work: string;
  let project: string;
  let pack: PackResult;

  beforeAll(async () => {
    database = await createTestDatabase('sqlite');
    app = await startTestApp(database.url);
    url = await app.app.listen({ port: 0, host: '127.0.0.1' });
    // Built in a folder of this run's own (inside the checkout, so it resolves the checkout's node_modules),
    // never in packages/client/dist, which the built server and other test files load meanwhile.
    stage = join(ROOT, 'test-results/client-package', String(process.pid));
    rmSync(stage, { recursive: true, force: true });
    mkdirSync(stage, { recursive: true });
    for (const name of ['package.json', 'README.md', 'tsconfig.json', 'src'])
      cpSync(join(PACKAGE, name), join(stage, name), { recursive: true });
    await exec(process.execPath, [TSC, '-p', join(stage, 'tsconfig.json')], { cwd: stage });

    work = mkdtempSync(join(tmpdir(), 'gatehouse-client-package-'));
    const { stdout } = await npm(['pack', '--json', '--ignore-scripts', '--pack-destination', work], stage);
    pack = (JSON.parse(stdout) as PackResult[])[0]!;

    project = join(work, 'project');
    mkdirSync(project);
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({ name: 'client-package-check', version: '1.0.0', private: true, type: 'module' }),
    );
    await npm(
      [
        'install',
        join(work, pack.filename),
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        '--ignore-scripts',
      ],
      project,
    );
  }, 240_000);
  afterAll(async () => {
    await app.close();
    await database.drop();
    if (work) rmSync(work, { recursive: true, force: true });
    if (stage) rmSync(stage, { recursive: true, force: true });
  });

  it('holds only dist/ (compiled client and its types), package.json and README.md', () => {
    const files = pack.files.map((f) => f.path).sort();
    expect(files).toEqual(
      expect.arrayContaining(['README.md', 'package.json', 'dist/index.js', 'dist/index.d.ts']),
    );
    for (const file of files)
      expect(file, 'packed file').toMatch(/^(README\.md|package\.json|dist\/[\w-]+\.(js|d\.ts))$/);
    // One compiled file per source file: nothing else of the repository's code rides along.
    const sources = readdirSync(join(PACKAGE, 'src')).map((n) => n.replace(/\.ts$/, ''));
    expect(files.filter((f) => f.endsWith('.js')).sort()).toEqual(sources.map((n) => `dist/${n}.js`).sort());
  });

  it('imports nothing but its own files and openapi-fetch', () => {
    const dist = join(project, 'node_modules/@gatehouse/client/dist');
    for (const file of readdirSync(dist)) {
      const text = readFileSync(join(dist, file), 'utf8');
      const specifiers = [...text.matchAll(/\b(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)].map((m) => m[1]!);
      for (const s of specifiers) expect(s, `${file} imports`).toMatch(/^(\.\/[\w-]+\.js|openapi-fetch)$/);
    }
  });

  it('declares openapi-fetch as its only dependency, and installs no server package', () => {
    const root = readPackage(join(ROOT, 'package.json'));
    const pkg = readPackage(join(project, 'node_modules/@gatehouse/client/package.json'));
    expect(pkg.name).toBe('@gatehouse/client');
    expect(pkg.version).toBe(root.version);
    expect(Object.keys(pkg.dependencies ?? {})).toEqual(['openapi-fetch']);
    expect(pkg.peerDependencies ?? {}).toEqual({});
    expect(pkg.optionalDependencies ?? {}).toEqual({});
    expect(pkg.bin).toBeUndefined();
    expect(installed(project).sort()).toEqual([...closure(project, '@gatehouse/client')].sort());
    const server = Object.keys(root.dependencies ?? {}).filter((d) => d !== '@gatehouse/client');
    expect(installed(project).filter((d) => server.includes(d))).toEqual([]);
  });

  it("runs the README's TypeScript example, type-checked with strict settings, against a server", async () => {
    const example = readmeExample(join(ROOT, 'README.md'));
    expect(readmeExample(join(PACKAGE, 'README.md')), 'the package README shows the same example').toBe(
      example,
    );
    expect(example).toContain("from '@gatehouse/client'");
    // The example targets the default address; the test server listens on a free port instead.
    writeFileSync(join(project, 'example.ts'), example.replaceAll('http://127.0.0.1:8080', url));
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          lib: ['ES2023'],
          strict: true,
          noUncheckedIndexedAccess: true,
          exactOptionalPropertyTypes: true,
          verbatimModuleSyntax: true,
          skipLibCheck: false,
          typeRoots: [join(ROOT, 'node_modules/@types')],
          types: ['node'],
          rootDir: '.',
          outDir: 'out',
        },
        files: ['example.ts'],
      }),
    );
    const checked = await exec(process.execPath, [TSC, '-p', join(project, 'tsconfig.json')], {
      cwd: project,
    }).catch((err: unknown) => err as { stdout: string; code: number });
    expect('code' in checked ? checked.stdout : '', 'tsc').toBe('');
    expect(existsSync(join(project, 'out/example.js'))).toBe(true);

    const runExample = () =>
      exec(process.execPath, ['out/example.js'], {
        cwd: project,
        env: { PATH: process.env.PATH ?? '', GATEHOUSE_TOKEN: app.adminToken },
      });
    const first = await runExample();
    expect(first.stdout.trim()).toMatch(/^user_\w+ 1 null$/);
    expect(first.stderr).toBe('');
    // Again: dave exists now, and the answer is an ApiProblem of the installed package, caught by the example.
    const second = await runExample();
    expect(second.stdout).toBe('');
    expect(second.stderr.trim()).toMatch(/^409 user\.username_taken\b/);
  }, 120_000);
});

import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { envVariable } from '../../env/cli.js';
import { CliError } from './output.js';

/** `$${` (a literal `${`) or `${NAME}` (the variable NAME). */
const REFERENCE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** Every `${NAME}` in a string replaced by the environment variable; `$${` stays as a literal `${`. */
export function interpolate(
  text: string,
  lookup: (name: string) => string | undefined = envVariable,
): string {
  return text.replace(REFERENCE, (match, name: string | undefined) => {
    if (name === undefined) return '${';
    const value = lookup(name);
    if (value === undefined) throw new CliError(`the document refers to \${${name}}, but ${name} is not set`);
    return value;
  });
}

/** The same value with interpolate() applied to every string value (keys are left as written). */
export function interpolateValues(value: unknown, lookup?: (name: string) => string | undefined): unknown {
  if (typeof value === 'string') return interpolate(value, lookup);
  if (Array.isArray(value)) return value.map((v) => interpolateValues(v, lookup));
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolateValues(v, lookup)]));
  return value;
}

function parse(text: string, file: string): unknown {
  const ext = extname(file).toLowerCase();
  try {
    if (ext === '.json') return JSON.parse(text);
    if (ext === '.yaml' || ext === '.yml') return parseYaml(text);
    // No telling extension: JSON when it looks like JSON, else YAML (a superset of it anyway).
    return /^\s*[[{]/.test(text) ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new CliError(
      `${file}: not valid ${ext === '.json' ? 'JSON' : 'JSON or YAML'}: ${(err as Error).message}`,
    );
  }
}

/** A state document from a JSON or YAML file (`-` for stdin), with `${NAME}` references filled in. */
export async function loadDocument(file: string): Promise<unknown> {
  let text: string;
  try {
    text = file === '-' ? await readStdin() : await readFile(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`);
  }
  const document = parse(text, file);
  if (!document || typeof document !== 'object' || Array.isArray(document))
    throw new CliError(`${file}: a state document is an object ({"version": 1, ...})`);
  return interpolateValues(document);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

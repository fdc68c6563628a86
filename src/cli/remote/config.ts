import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** One saved server: where it is and the token to send it. */
export type Profile = { url: string; token: string };
/** `~/.config/gatehouse/config.json`: profiles by name; `default` is used without `--profile`. */
export type ConfigFile = { profiles: Record<string, Profile> };

export const DEFAULT_PROFILE = 'default';

export function configPath(configDir: string): string {
  return join(configDir, 'config.json');
}

function isProfile(value: unknown): value is Profile {
  if (typeof value !== 'object' || value === null) return false;
  const p = value as Record<string, unknown>;
  return typeof p.url === 'string' && typeof p.token === 'string';
}

/** The saved profiles; none when the file does not exist. Throws when it exists but is not ours. */
export function readConfig(configDir: string): ConfigFile {
  const file = configPath(configDir);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { profiles: {} };
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`${file} is not valid JSON; fix it or delete it and run \`gatehouse login\` again`);
  }
  const profiles = (parsed as Partial<ConfigFile> | null)?.profiles ?? {};
  return {
    profiles: Object.fromEntries(Object.entries(profiles).filter(([, p]) => isProfile(p))),
  };
}

/**
 * Writes the file whole, owner-only (0600, in a 0700 folder): it holds tokens. Written to a private temporary
 * file and renamed into place, so a reader never sees half of it.
 */
export function writeConfig(configDir: string, config: ConfigFile): void {
  mkdirSync(configDir, { recursive: true, mode: 0o700 });
  chmodSync(configDir, 0o700);
  const file = configPath(configDir);
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(config, null, 2)}\n`, { flag: 'wx', mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

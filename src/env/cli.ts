import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * What the remote command line (`gatehouse users …`, `plan`, `apply`) reads from the environment. Not server
 * settings (those are EnvSchema's): the server never reads these.
 */
export type CliEnv = Readonly<{
  /** GATEHOUSE_URL: the server to talk to. */
  url: string | undefined;
  /** GATEHOUSE_TOKEN: the API token to send. */
  token: string | undefined;
  /** Where config.json lives: $XDG_CONFIG_HOME/gatehouse, else $HOME/.config/gatehouse. */
  configDir: string;
  /** NO_COLOR set to anything non-empty (https://no-color.org). */
  noColor: boolean;
}>;

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/** The command line's settings, read once by the CLI entry. */
export function loadCliEnv(source: NodeJS.ProcessEnv = process.env): CliEnv {
  const base = nonEmpty(source.XDG_CONFIG_HOME) ?? join(nonEmpty(source.HOME) ?? homedir(), '.config');
  return Object.freeze({
    url: nonEmpty(source.GATEHOUSE_URL),
    token: nonEmpty(source.GATEHOUSE_TOKEN),
    configDir: join(base, 'gatehouse'),
    noColor: nonEmpty(source.NO_COLOR) !== undefined,
  });
}

/**
 * One environment variable by name, for `${NAME}` references in a document given to `plan` or `apply`
 * (undefined when unset; an empty value counts as set).
 */
export function envVariable(name: string, source: NodeJS.ProcessEnv = process.env): string | undefined {
  return source[name];
}

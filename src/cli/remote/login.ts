import type { Command } from 'commander';
import { unwrap } from '@gatehouse/client';
import { loadCliEnv } from '../../env/cli.js';
import { configPath, DEFAULT_PROFILE, readConfig, writeConfig } from './config.js';
import { remoteFor, reportFailure, type GlobalOptions } from './context.js';
import { CliError } from './output.js';
import { ask, readSecretInput } from './prompt.js';

async function serverUrl(opts: GlobalOptions, saved: string | undefined, envUrl: string | undefined) {
  const url = opts.url ?? envUrl ?? saved ?? (process.stdin.isTTY ? (await ask('Server URL: ')).trim() : '');
  if (!/^https?:\/\/[^/]/.test(url))
    throw new CliError(`pass the server as --url http(s)://host:port${url ? ` (not "${url}")` : ''}`);
  return url.replace(/\/+$/, '');
}

/**
 * `gatehouse login [--url URL] [--profile NAME]`: reads a token (piped on stdin, or typed without echo),
 * checks it with GET /api/me, and saves it in the profile (config.json, mode 0600).
 */
async function login(opts: GlobalOptions): Promise<number> {
  const env = loadCliEnv();
  const name = opts.profile ?? DEFAULT_PROFILE;
  const config = readConfig(env.configDir);
  const url = await serverUrl(opts, config.profiles[name]?.url, env.url);
  const token = (await readSecretInput(`Token for ${url}: `)).trim();
  if (!token) throw new CliError('no token given (pipe it on stdin, or type it at the prompt)');
  const remote = remoteFor({ url, token }, env, opts);
  try {
    const me = await unwrap(remote.api.GET('/api/me'));
    writeConfig(env.configDir, { profiles: { ...config.profiles, [name]: { url, token } } });
    process.stderr.write(
      `Logged in to ${url} as ${me.user.username}; saved as profile "${name}" in ${configPath(env.configDir)}\n`,
    );
    return 0;
  } catch (err) {
    return reportFailure(err, url);
  }
}

/** `gatehouse logout [--profile NAME]`: forgets the profile's token (the token itself stays valid). */
function logout(opts: GlobalOptions): number {
  const env = loadCliEnv();
  const name = opts.profile ?? DEFAULT_PROFILE;
  const config = readConfig(env.configDir);
  if (!config.profiles[name]) {
    process.stderr.write(`No profile "${name}": nothing to do.\n`);
    return 0;
  }
  const { [name]: _removed, ...profiles } = config.profiles;
  writeConfig(env.configDir, { profiles });
  process.stderr.write(
    `Removed profile "${name}". The token is still valid on the server: revoke it with \`gatehouse tokens revoke\` if it is no longer needed.\n`,
  );
  return 0;
}

function globals(params: unknown[]): GlobalOptions {
  return (params.at(-1) as Command).optsWithGlobals<GlobalOptions>();
}

export function registerLogin(program: Command): void {
  program
    .command('login')
    .description('save a server and token as a profile (token from stdin, or a prompt without echo)')
    .action(async (...params: unknown[]) => {
      try {
        process.exitCode = await login(globals(params));
      } catch (err) {
        process.exitCode = reportFailure(err, globals(params).url ?? '');
      }
    });
  program
    .command('logout')
    .description("forget a profile's token")
    .action((...params: unknown[]) => {
      try {
        process.exitCode = logout(globals(params));
      } catch (err) {
        process.exitCode = reportFailure(err, '');
      }
    });
}

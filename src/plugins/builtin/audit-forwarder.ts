import { constants } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { createSocket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { ForbiddenTargetError, isForbiddenAddress } from '../../lib/ssrf-guard.js';
import { definePlugin, PluginConfigError, type PluginEnv } from '../define.js';

type Config = { file?: string; syslog?: { host: string; port?: number; app_name?: string } };

/**
 * A file name inside `<DATA_DIR>/exports`: no folder, no `..`, no leading dot. Written without nested
 * quantifiers over the same characters, so it is linear in any regex engine.
 */
const FILE_NAME = '^[A-Za-z0-9_][A-Za-z0-9_-]*(\\.[A-Za-z0-9_-]+)*\\.(ndjson|jsonl|log)$';
const fileName = new RegExp(FILE_NAME);

/** RFC 5424 over UDP: facility auth (4), severity notice (5), the event as JSON in the message. */
function syslogLine(appName: string, event: { timestamp: string }, json: string): string {
  return `<${4 * 8 + 5}>1 ${event.timestamp} - ${appName} - audit - ${json}`;
}

/**
 * The syslog host's address, resolved once and checked with the SSRF guard (unless private targets are
 * allowed): every answer must be public, and the datagram goes to the address checked, so no second lookup
 * can rebind it. Throws `ForbiddenTargetError`, or the resolver's error.
 */
async function syslogAddress(host: string, env: PluginEnv): Promise<{ address: string; family: number }> {
  const literal = host.replace(/^\[|\]$/g, '');
  const answers = isIP(literal)
    ? [{ address: literal, family: isIP(literal) }]
    : await lookup(literal, { all: true });
  const bad = env.allowPrivateTargets ? undefined : answers.find((a) => isForbiddenAddress(a.address));
  if (bad) throw new ForbiddenTargetError(host, bad.address);
  const first = answers[0];
  if (!first) throw new Error(`no address for ${host}`);
  return first;
}

/** Appends to a file directly inside the exports folder; a symlink in its place is refused (O_NOFOLLOW). */
async function appendExport(env: PluginEnv, file: string, line: string): Promise<void> {
  if (!fileName.test(file))
    throw new Error(`file must be a plain file name inside ${env.exportsDir} (reconfigure the plugin)`);
  await mkdir(env.exportsDir, { recursive: true, mode: 0o700 });
  const handle = await open(
    join(env.exportsDir, file),
    constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW,
    0o600,
  );
  try {
    await handle.appendFile(line);
  } finally {
    await handle.close();
  }
}

/**
 * Follows the audit log itself (denials and sign-ins included) and appends every event as NDJSON to a file
 * in `<DATA_DIR>/exports`, or sends it to syslog over UDP, for a SIEM. At least once, in `seq` order. It
 * receives the audit log, so registering, enabling or configuring it needs `audit:read`.
 */
export default definePlugin<Config>({
  name: 'audit-forwarder',
  version: '1.1.0',
  description:
    'Appends every audit event as NDJSON to a file under DATA_DIR/exports, or sends it to syslog over UDP.',
  hooks: { after: ['*'] },
  audit_stream: true,
  config_schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      file: {
        type: 'string',
        minLength: 1,
        maxLength: 128,
        pattern: FILE_NAME,
        description:
          'A file name (no folder, no ..) ending in .ndjson, .jsonl or .log, written in <DATA_DIR>/exports.',
      },
      syslog: {
        type: 'object',
        additionalProperties: false,
        required: ['host'],
        properties: {
          host: {
            type: 'string',
            minLength: 1,
            maxLength: 255,
            description:
              'A public address or name (the SSRF guard applies unless webhooks.allow_private_targets).',
          },
          port: { type: 'integer', minimum: 1, maximum: 65535 },
          app_name: { type: 'string', maxLength: 48 },
        },
      },
    },
  },
  timeout_ms: 2000,
  failure_policy: 'ignore',
  order: 100,
  async validate(config, env) {
    if (!config.syslog) return;
    try {
      await syslogAddress(config.syslog.host, env);
    } catch (err) {
      const why =
        err instanceof ForbiddenTargetError ? err.message : `cannot be resolved (${(err as Error).message})`;
      throw new PluginConfigError('/syslog/host', `refused: ${why}`);
    }
  },
  async after(event, { config, env }) {
    const json = JSON.stringify(event);
    if (config.file) await appendExport(env, config.file, `${json}\n`);
    if (config.syslog) {
      const { host, port = 514, app_name: app = 'gatehouse' } = config.syslog;
      const { address, family } = await syslogAddress(host, env);
      const socket = createSocket(family === 6 ? 'udp6' : 'udp4');
      try {
        await new Promise<void>((resolve, reject) =>
          socket.send(syslogLine(app, event, json), port, address, (err) => (err ? reject(err) : resolve())),
        );
      } finally {
        socket.close();
      }
    }
  },
});

import { appendFile, mkdir } from 'node:fs/promises';
import { createSocket } from 'node:dgram';
import { dirname } from 'node:path';
import { definePlugin } from '../define.js';

type Config = { file?: string; syslog?: { host: string; port?: number; app_name?: string } };

/** RFC 5424 over UDP: facility auth (4), severity notice (5), the event as JSON in the message. */
function syslogLine(appName: string, event: { timestamp: string }, json: string): string {
  return `<${4 * 8 + 5}>1 ${event.timestamp} - ${appName} - audit - ${json}`;
}

/**
 * Follows the audit log itself (denials and sign-ins included) and appends every event as NDJSON to a file,
 * or sends it to syslog over UDP, for a SIEM. At least once, in `seq` order.
 */
export default definePlugin<Config>({
  name: 'audit-forwarder',
  version: '1.0.0',
  description: 'Appends every audit event as NDJSON to a file, or sends it to syslog over UDP.',
  hooks: { after: ['*'] },
  audit_stream: true,
  config_schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      file: { type: 'string', minLength: 1, maxLength: 1024, pattern: '^/.*\\.(ndjson|jsonl|log)$', description: 'An absolute path ending in .ndjson, .jsonl or .log; its folder is created.' },
      syslog: {
        type: 'object',
        additionalProperties: false,
        required: ['host'],
        properties: { host: { type: 'string', minLength: 1, maxLength: 255 }, port: { type: 'integer', minimum: 1, maximum: 65535 }, app_name: { type: 'string', maxLength: 48 } },
      },
    },
  },
  timeout_ms: 2000,
  failure_policy: 'ignore',
  order: 100,
  async after(event, { config }) {
    const json = JSON.stringify(event);
    if (config.file) {
      await mkdir(dirname(config.file), { recursive: true });
      await appendFile(config.file, `${json}\n`);
    }
    if (config.syslog) {
      const { host, port = 514, app_name: app = 'gatehouse' } = config.syslog;
      const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
      await new Promise<void>((resolve, reject) => socket.send(syslogLine(app, event, json), port, host, (err) => (err ? reject(err) : resolve())));
      socket.close();
    }
  },
});

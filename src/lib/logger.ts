import { pino, type DestinationStream, type Logger } from 'pino';
import { redactUrl } from './url-secrets.js';

/** Never logged: credentials in headers, and any field named for a secret. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  '*.secret',
  '*.password',
  '*.token',
];

type LoggedRequest = {
  method?: string;
  url?: string;
  host?: string;
  ip?: string;
  headers?: Record<string, string | string[] | undefined>;
  socket?: { remotePort?: number };
};

/**
 * Fastify's request serializer (its fields, in its order), with the URL's credentials redacted: a token sent
 * in a query string is refused, but the "incoming request" line is written before that answer.
 */
export function serializeRequest(req: LoggedRequest) {
  return {
    method: req.method,
    url: req.url === undefined ? undefined : redactUrl(req.url),
    version: req.headers?.['accept-version'],
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  };
}

/** pino JSON logs, pretty in a terminal. Authorization, cookies and credentials in URLs never reach a log line. */
export function createLogger(
  level: string,
  pretty = process.stdout.isTTY,
  destination?: DestinationStream,
): Logger {
  const options = {
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: { req: serializeRequest },
  };
  if (destination) return pino(options, destination);
  return pino({
    ...options,
    ...(pretty
      ? { transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } } }
      : {}),
  });
}

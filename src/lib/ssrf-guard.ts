import { lookup as dnsLookup } from 'node:dns';
import type { LookupAddress } from 'node:dns';
import ipaddr from 'ipaddr.js';
import type { Agent, buildConnector } from 'undici';
import { fieldError } from '../errors.js';
import { undici } from './undici.js';

/** True for a loopback host (`localhost`, 127.0.0.0/8, ::1). */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost') return true;
  if (!ipaddr.isValid(host)) return false;
  let ip = ipaddr.parse(host);
  if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress())
    ip = (ip as ipaddr.IPv6).toIPv4Address();
  return ip.range() === 'loopback';
}

/**
 * True when an address must never be a webhook or plugin target: anything but public unicast (loopback,
 * private, link-local with 169.254.169.254, unique-local, multicast, unspecified, carrier-grade NAT,
 * reserved, and IPv6 forms that embed IPv4 such as IPv4-compatible ::/96, IPv4-mapped, 6to4, Teredo and NAT64).
 */
export function isForbiddenAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return true;
  let ip = ipaddr.parse(address);
  if (ip.kind() === 'ipv6') {
    const v6 = ip as ipaddr.IPv6;
    // IPv4-compatible ::/96 (`::127.0.0.1`, deprecated by RFC 4291) embeds an IPv4 address that ipaddr.js
    // calls unicast, and some stacks still route it to that address: never a target.
    if (v6.parts.slice(0, 6).every((p) => p === 0)) return true;
    if (v6.isIPv4MappedAddress()) ip = v6.toIPv4Address();
  }
  return ip.range() !== 'unicast';
}

export class ForbiddenTargetError extends Error {
  constructor(
    readonly host: string,
    readonly address: string,
  ) {
    super(`${host} resolves to ${address}, a private, loopback or otherwise internal address`);
    this.name = 'ForbiddenTargetError';
  }
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/**
 * A DNS lookup that refuses the whole answer when any resolved address is internal. The connection then
 * uses the address that was checked, so there is no second lookup for a rebinding attack to win.
 */
export function guardedLookup(hostname: string, options: { all?: boolean }, callback: LookupCallback): void {
  dnsLookup(hostname, { all: true }, (err, addresses) => {
    if (err) return callback(err, []);
    const bad = addresses.find((a) => isForbiddenAddress(a.address));
    if (bad) return callback(new ForbiddenTargetError(hostname, bad.address), []);
    if (options.all) return callback(null, addresses);
    const first = addresses[0];
    if (!first) return callback(new Error(`no address for ${hostname}`), []);
    callback(null, first.address, first.family);
  });
}

/** Resolves a URL's host and throws `ForbiddenTargetError` when it is internal (checked at save time). */
export async function assertPublicUrl(url: URL): Promise<void> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (ipaddr.isValid(host)) {
    if (isForbiddenAddress(host)) throw new ForbiddenTargetError(host, host);
    return;
  }
  await new Promise<void>((resolve, reject) => {
    guardedLookup(host, { all: true }, (err) => (err ? reject(err) : resolve()));
  });
}

/**
 * A subscriber's target URL as saved (webhook endpoints, audit streams): absolute, https (http only with
 * `allowPrivate`, the `webhooks.allow_private_targets` setting), no credentials, and unless allowed never an
 * internal address. Returns it normalised. Throws `validation_failed` at `/url` of the body.
 */
export async function checkTargetUrl(raw: string, allowPrivate: boolean): Promise<string> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw fieldError('body', '/url', 'must be an absolute URL');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && allowPrivate))
    throw fieldError('body', '/url', 'must use https (http only with webhooks.allow_private_targets)');
  if (url.username || url.password) throw fieldError('body', '/url', 'must not carry credentials');
  if (!allowPrivate) {
    try {
      await assertPublicUrl(url);
    } catch (err) {
      const why =
        err instanceof ForbiddenTargetError ? err.message : `cannot be resolved (${(err as Error).message})`;
      throw fieldError('body', '/url', `refused: ${why}`);
    }
  }
  return url.toString();
}

/** How long an outbound connection may take to open. */
export const CONNECT_TIMEOUT_MS = 5000;

/**
 * undici's connector with the SSRF guard: the lookup refuses a name with any internal address, and the address
 * actually connected to is checked again, which also covers a URL holding a literal IP (it needs no lookup).
 * Every guarded outbound call (webhooks, http plugins) connects through this.
 */
export function guardedConnector(): buildConnector.connector {
  // Built at the first connection, so that making the connector loads nothing (see `undici()`).
  let connect: buildConnector.connector | undefined;
  return (options, callback) => {
    connect ??= undici().buildConnector({ lookup: guardedLookup, timeout: CONNECT_TIMEOUT_MS });
    connect(options, (err: Error | null, socket: Parameters<buildConnector.Callback>[1]) => {
      if (err || !socket) return callback(err ?? new Error('no socket'), null);
      const address = socket.remoteAddress ?? '';
      if (!isForbiddenAddress(address)) return callback(null, socket);
      socket.destroy();
      callback(new ForbiddenTargetError(options.hostname, address), null);
    });
  };
}

/**
 * Undici dispatchers for outbound calls: the guarded one checks the address at connect time; the open one
 * serves `allow_private_targets`. No redirects are followed (undici follows none by default).
 */
export function createOutbound(allowPrivate: () => boolean): { dispatcher(): Agent; close(): Promise<void> } {
  // No cap on connections per origin: the worker caps sends per endpoint (8, or 16 when fast) and in all
  // (what it holds). A cap per origin let the endpoints of one host that hang take every connection to it, and
  // that host's healthy endpoints then waited behind them (test/webhooks/delivery.test.ts).
  // Made at the first send (see `undici()`).
  let guarded: Agent | undefined;
  let open: Agent | undefined;
  return {
    // Read at each call, so a settings change applies to the next delivery.
    dispatcher: () =>
      allowPrivate()
        ? (open ??= new (undici().Agent)({
            connect: { timeout: CONNECT_TIMEOUT_MS },
            keepAliveTimeout: 10_000,
          }))
        : (guarded ??= new (undici().Agent)({ connect: guardedConnector(), keepAliveTimeout: 10_000 })),
    // Destroy, not close: close() waits for calls in flight, so a webhook endpoint that never answers would
    // hold a SIGTERM'd process for its whole timeout (up to 60 s). This runs after the HTTP server has
    // drained and the worker has given back its leases, so an abandoned send is retried by another worker.
    close: async () => {
      await Promise.all([guarded?.destroy(), open?.destroy()]);
    },
  };
}

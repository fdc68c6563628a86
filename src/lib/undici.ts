import { createRequire } from 'node:module';
import type * as Undici from 'undici';

let loaded: typeof Undici | undefined;

/**
 * undici, loaded at the first outbound call (a webhook delivery, an http plugin's call) rather than at start:
 * it is ~110 modules, and a server that sends nothing should not hold them (idle RSS, bench/RESULTS.md).
 * Synchronous, so the dispatchers can stay synchronous; the one-time load costs the first send tens of ms.
 */
export function undici(): typeof Undici {
  loaded ??= createRequire(import.meta.url)('undici') as typeof Undici;
  return loaded;
}

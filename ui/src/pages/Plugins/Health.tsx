import { Badge, Tooltip } from '@mantine/core';
import type { Plugin } from '@gatehouse/client';

/** Calls, failures and p99 latency of a plugin's hooks, coloured by failure rate; the last error on hover. */
export function Health({ plugin }: { plugin: Plugin }) {
  const { calls, failures, p99_ms: p99, last_error: lastError } = plugin.health;
  const color = calls === 0 ? 'gray' : failures === 0 ? 'teal' : failures / calls > 0.1 ? 'red' : 'orange';
  const label =
    calls === 0
      ? 'no calls yet'
      : `${failures}/${calls} failed${p99 !== null ? ` · p99 ${Math.round(p99)} ms` : ''}`;
  return (
    <Tooltip label={lastError ?? 'No error recorded'} disabled={!lastError}>
      <Badge color={color} variant="light">
        {label}
      </Badge>
    </Tooltip>
  );
}

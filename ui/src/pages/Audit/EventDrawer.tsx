import { Code, Drawer, Group, Stack, Table, Text, Title } from '@mantine/core';
import type { AuditEvent } from '@gatehouse/client';
import { JsonDiff } from '../../components/JsonDiff.tsx';
import { OutcomeBadge } from './OutcomeBadge.tsx';

/** One event in full: who, what, from where, and the before/after diff of what changed. */
export function EventDrawer({ event, onClose }: { event: AuditEvent | null; onClose: () => void }) {
  const changes = event?.changes as { before?: unknown; after?: unknown } | null | undefined;
  const rows: [string, string | number | null | undefined][] = event
    ? [
        ['Event', event.id],
        ['Sequence', event.seq],
        ['Time', new Date(event.ts).toLocaleString()],
        ['Actor', event.actor_name ? `${event.actor_name} (${event.actor})` : event.actor],
        ['Token', event.token_id],
        ['Target', event.target ? `${event.target.type} ${event.target.id}` : null],
        ['Request', event.request_id],
        ['IP', event.ip],
        ['User agent', event.user_agent],
        ['Detail', event.detail],
        ['Hash', event.hash],
      ]
    : [];
  return (
    <Drawer
      opened={!!event}
      onClose={onClose}
      position="right"
      size="xl"
      title={
        event && (
          <Group gap="sm">
            <Title order={4} ff="monospace">
              {event.action}
            </Title>
            <OutcomeBadge outcome={event.outcome} />
          </Group>
        )
      }
    >
      {event && (
        <Stack>
          <Table fz="sm" aria-label="Event details">
            <Table.Tbody>
              {rows
                .filter(([, v]) => v !== null && v !== undefined && v !== '')
                .map(([k, v]) => (
                  <Table.Tr key={k}>
                    <Table.Th w={120}>{k}</Table.Th>
                    <Table.Td style={{ wordBreak: 'break-all' }}>{String(v)}</Table.Td>
                  </Table.Tr>
                ))}
            </Table.Tbody>
          </Table>
          <Title order={5}>Changes</Title>
          {changes ? (
            <JsonDiff label="Changes" before={changes.before ?? null} after={changes.after ?? null} />
          ) : (
            <Text size="sm" c="dimmed">
              This event changed nothing (a sign-in, a read or a denial).
            </Text>
          )}
          {changes && (
            <details>
              <summary>
                <Text span size="sm">
                  Raw JSON
                </Text>
              </summary>
              <Code block>{JSON.stringify(changes, null, 2)}</Code>
            </details>
          )}
        </Stack>
      )}
    </Drawer>
  );
}

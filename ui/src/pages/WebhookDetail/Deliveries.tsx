import { ActionIcon, Badge, Button, Code, Group, Table, Text } from '@mantine/core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import type { Delivery } from '@gatehouse/client';
import { api, unwrap } from '../../api.ts';
import { CursorTable, type Column } from '../../components/CursorTable.tsx';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { Time } from '../../components/Time.tsx';
import { useCursorList } from '../../hooks/use-cursor-list.ts';
import { useCan } from '../../hooks/use-me.ts';

const settling = (d: Delivery) => d.status === 'pending' || d.status === 'delivering';
const COLORS = { pending: 'gray', delivering: 'blue', succeeded: 'teal', failed: 'red' } as const;

function Attempts({ delivery }: { delivery: Delivery }) {
  if (delivery.attempts.length === 0)
    return (
      <Text size="sm" c="dimmed">
        Not attempted yet
        {delivery.next_attempt_at && (
          <>
            {' '}
            · first attempt <Time value={delivery.next_attempt_at} />
          </>
        )}
        .
      </Text>
    );
  return (
    <Table fz="xs" withTableBorder aria-label={`Attempts of ${delivery.id}`}>
      <Table.Thead>
        <Table.Tr>
          <Table.Th>When</Table.Th>
          <Table.Th>Status</Table.Th>
          <Table.Th>Latency</Table.Th>
          <Table.Th>Response or error</Table.Th>
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {delivery.attempts.map((a, i) => (
          <Table.Tr key={i}>
            <Table.Td>
              <Time value={a.attempted_at} />
            </Table.Td>
            <Table.Td>{a.status_code ?? '—'}</Table.Td>
            <Table.Td>{`${a.latency_ms} ms`}</Table.Td>
            <Table.Td>
              {a.error ? (
                <Text c="red" size="xs">
                  {a.error}
                </Text>
              ) : a.response_excerpt ? (
                <Code>{a.response_excerpt}</Code>
              ) : (
                <Text c="dimmed" size="xs">
                  empty body
                </Text>
              )}
            </Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

/** Deliveries, newest first, each with its attempts; refreshed while any is still on its way. */
export function Deliveries({ webhookId }: { webhookId: string }) {
  const can = useCan();
  const queryClient = useQueryClient();
  const [open, setOpen] = useState<string | null>(null);
  const key = ['webhooks', webhookId, 'deliveries'];
  const list = useCursorList(
    key,
    (cursor) =>
      unwrap(
        api.GET('/api/webhooks/{id}/deliveries', {
          params: { path: { id: webhookId }, query: { limit: 50, ...(cursor ? { cursor } : {}) } },
        }),
      ),
    { refetchEvery: (items) => (items.some(settling) ? 2000 : false) },
  );
  const inFlight = list.items.some(settling);
  const retry = useMutation({
    mutationFn: (deliveryId: string) =>
      unwrap(
        api.POST('/api/webhooks/{id}/deliveries/{deliveryId}/retry', {
          params: { path: { id: webhookId, deliveryId } },
        }),
      ),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: key }),
  });
  const refresh = () => void queryClient.invalidateQueries({ queryKey: key });
  const columns: Column<Delivery>[] = [
    {
      key: 'toggle',
      header: '',
      width: 36,
      cell: (d) => (
        <ActionIcon
          variant="subtle"
          size="sm"
          aria-label={`Attempts of ${d.event_type}`}
          aria-expanded={open === d.id}
          onClick={(e) => {
            e.stopPropagation();
            setOpen(open === d.id ? null : d.id);
          }}
        >
          {open === d.id ? '▾' : '▸'}
        </ActionIcon>
      ),
    },
    {
      key: 'event',
      header: 'Event',
      cell: (d) => (
        <Text size="sm" ff="monospace">
          {d.event_type}
        </Text>
      ),
    },
    {
      key: 'status',
      header: 'Status',
      width: 120,
      cell: (d) => (
        <Badge color={COLORS[d.status]} variant="light" style={{ flexShrink: 0, overflow: 'visible' }}>
          {d.status}
        </Badge>
      ),
    },
    { key: 'attempts', header: 'Attempts', cell: (d) => d.attempts.length },
    { key: 'last', header: 'Last response', cell: (d) => d.attempts.at(-1)?.status_code ?? '—' },
    { key: 'created', header: 'Created', cell: (d) => <Time value={d.created_at} /> },
    {
      key: 'retry',
      header: '',
      cell: (d) =>
        can('webhooks:write') &&
        d.status !== 'pending' &&
        d.status !== 'delivering' && (
          <Button
            size="compact-xs"
            variant="default"
            loading={retry.isPending && retry.variables === d.id}
            onClick={(e) => {
              e.stopPropagation();
              retry.mutate(d.id);
            }}
          >
            Retry
          </Button>
        ),
    },
  ];
  return (
    <>
      <Group justify="space-between" mb="xs">
        <Text size="sm" c="dimmed">
          {inFlight ? 'Some deliveries are on their way.' : 'Every delivery has settled.'}
        </Text>
        <Button size="xs" variant="subtle" onClick={refresh} loading={list.isFetching && !list.isLoading}>
          Refresh
        </Button>
      </Group>
      <ProblemAlert error={retry.error} />
      <CursorTable
        label="Deliveries"
        list={list}
        columns={columns}
        rowKey={(d) => d.id}
        onRowClick={(d) => setOpen(open === d.id ? null : d.id)}
        empty="No deliveries yet: send a test event."
      />
      {list.items
        .filter((d) => d.id === open)
        .map((d) => (
          <div key={d.id} aria-label="Attempts">
            <Text size="sm" fw={500} mt="sm" mb={4}>
              Attempts of {d.event_type} ({d.id})
            </Text>
            <Attempts delivery={d} />
          </div>
        ))}
    </>
  );
}

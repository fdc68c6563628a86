import { Badge, Group, Text } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { useSearchParams } from 'react-router';
import type { AuditEvent, AuditQuery } from '@gatehouse/client';
import { api, unwrap } from '../../api.ts';
import { CursorTable, type Column } from '../../components/CursorTable.tsx';
import { PageHeader } from '../../components/PageHeader.tsx';
import { Time } from '../../components/Time.tsx';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { useCursorList } from '../../hooks/use-cursor-list.ts';
import { AuditFilters, FILTER_KEYS, type Filters } from './AuditFilters.tsx';
import { EventDrawer } from './EventDrawer.tsx';
import { ExportButton } from './ExportButton.tsx';
import { OutcomeBadge } from './OutcomeBadge.tsx';
import { Streams } from './Streams.tsx';
import { VerifyChain } from './VerifyChain.tsx';

const columns: Column<AuditEvent>[] = [
  { key: 'ts', header: 'When', width: 130, cell: (e) => <Time value={e.ts} /> },
  {
    key: 'action',
    header: 'Action',
    cell: (e) => (
      <Text size="sm" ff="monospace">
        {e.action}
      </Text>
    ),
  },
  { key: 'actor', header: 'Actor', cell: (e) => <Text size="sm">{e.actor_name ?? e.actor}</Text> },
  {
    key: 'target',
    header: 'Target',
    cell: (e) =>
      e.target ? (
        <Text size="xs" ff="monospace" c="dimmed">
          {e.target.id}
        </Text>
      ) : null,
  },
  { key: 'outcome', header: 'Outcome', width: 100, cell: (e) => <OutcomeBadge outcome={e.outcome} /> },
  {
    key: 'seq',
    header: '#',
    width: 70,
    cell: (e) => (
      <Badge size="xs" variant="outline">
        {e.seq}
      </Badge>
    ),
  },
];

/** The query the filters stand for, as the API takes it (also what export streams). */
export function toQuery(filters: Filters): AuditQuery {
  const q: Record<string, string> = {};
  for (const key of FILTER_KEYS) {
    const v = filters[key];
    if (v) q[key] = key === 'since' || key === 'until' ? new Date(v).toISOString() : v;
  }
  return q;
}

/** The audit log: filter, scroll back through every event, open one to see what changed, export, verify. */
export default function Audit() {
  const [params, setParams] = useSearchParams();
  const filters = Object.fromEntries(FILTER_KEYS.map((k) => [k, params.get(k) ?? ''])) as Filters;
  const [open, setOpen] = useState<AuditEvent | null>(null);
  const query = toQuery(filters);
  const list = useCursorList(['audit', query], (cursor) =>
    unwrap(
      api.GET('/api/audit', { params: { query: { ...query, limit: 100, ...(cursor ? { cursor } : {}) } } }),
    ),
  );
  const setFilters = (next: Filters) =>
    setParams(Object.fromEntries(Object.entries(next).filter(([, v]) => v)), { replace: true });
  // `?event=<id>` opens one event (the State page links to the event of an apply).
  const linkedId = params.get('event');
  const linked = useQuery({
    queryKey: ['audit', 'event', linkedId],
    queryFn: () => unwrap(api.GET('/api/audit/{id}', { params: { path: { id: linkedId ?? '' } } })),
    enabled: !!linkedId,
  });
  const closeEvent = () => {
    setOpen(null);
    if (linkedId) setFilters(filters);
  };
  return (
    <>
      <PageHeader
        title="Audit log"
        description="Every change, sign-in and denied request, newest first, in a hash chain that shows tampering."
        actions={
          <Group>
            <ExportButton query={query} />
          </Group>
        }
      />
      {linkedId && <ProblemAlert error={linked.error} title="That event could not be opened" />}
      <VerifyChain />
      <Streams />
      <AuditFilters value={filters} onChange={setFilters} />
      <CursorTable
        label="Audit events"
        list={list}
        columns={columns}
        rowKey={(e) => e.id}
        onRowClick={setOpen}
        empty="No events match these filters."
        infinite
      />
      <EventDrawer event={open ?? (linkedId ? (linked.data ?? null) : null)} onClose={closeEvent} />
    </>
  );
}

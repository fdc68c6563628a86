import { Badge, Button, Switch, Text } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import type { Plugin } from '@gatehouse/client';
import { api, unwrap } from '../../api.ts';
import { CursorTable, type Column } from '../../components/CursorTable.tsx';
import { PageHeader } from '../../components/PageHeader.tsx';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { useCursorList } from '../../hooks/use-cursor-list.ts';
import { useCan } from '../../hooks/use-me.ts';
import { Health } from './Health.tsx';
import { PluginDrawer } from './PluginDrawer.tsx';
import { RegisterPluginModal } from './RegisterPluginModal.tsx';

function EnabledSwitch({ plugin, onError }: { plugin: Plugin; onError: (e: unknown) => void }) {
  const can = useCan();
  const queryClient = useQueryClient();
  const toggle = useMutation({
    mutationFn: (on: boolean) =>
      unwrap(
        on
          ? api.POST('/api/plugins/{id}/enable', { params: { path: { id: plugin.id } } })
          : api.POST('/api/plugins/{id}/disable', { params: { path: { id: plugin.id } } }),
      ),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['plugins'] }),
    onError,
  });
  return (
    <Switch
      aria-label={`${plugin.name} enabled`}
      checked={toggle.isPending ? !!toggle.variables : plugin.enabled}
      disabled={!can('plugins:write')}
      onClick={(e) => e.stopPropagation()}
      onChange={(e) => toggle.mutate(e.currentTarget.checked)}
    />
  );
}

/** Plugins: what is registered, whether it is healthy, on or off, and its settings. */
export default function Plugins() {
  const can = useCan();
  const [registering, register] = useDisclosure();
  const [open, setOpen] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const list = useCursorList(['plugins'], (cursor) =>
    unwrap(api.GET('/api/plugins', { params: { query: { limit: 100, ...(cursor ? { cursor } : {}) } } })),
  );
  const columns: Column<Plugin>[] = [
    {
      key: 'name',
      header: 'Plugin',
      cell: (p) => (
        <>
          <Text size="sm" fw={500}>
            {p.name}
          </Text>
          <Text size="xs" c="dimmed" lineClamp={1}>
            {typeof p.manifest.description === 'string' ? p.manifest.description : ''}
          </Text>
        </>
      ),
    },
    {
      key: 'kind',
      header: 'Kind',
      cell: (p) => (
        <Badge variant="outline" size="sm">
          {p.kind}
        </Badge>
      ),
    },
    {
      key: 'version',
      header: 'Version',
      cell: (p) => (
        <Text size="sm" ff="monospace">
          {typeof p.manifest.version === 'string' ? p.manifest.version : ''}
        </Text>
      ),
    },
    { key: 'health', header: 'Health', cell: (p) => <Health plugin={p} /> },
    {
      key: 'enabled',
      header: 'Enabled',
      width: 90,
      cell: (p) => <EnabledSwitch plugin={p} onError={setError} />,
    },
  ];
  return (
    <>
      <PageHeader
        title="Plugins"
        description="Before-hooks that may refuse a change, after-hooks that follow every event."
        actions={can('plugins:write') && <Button onClick={register.open}>Register plugin</Button>}
      />
      <ProblemAlert error={error} />
      <CursorTable
        label="Plugins"
        list={list}
        columns={columns}
        rowKey={(p) => p.id}
        onRowClick={(p) => setOpen(p.id)}
        empty="No plugins registered."
      />
      <RegisterPluginModal
        opened={registering}
        onClose={register.close}
        onRegistered={(p) => setOpen(p.id)}
      />
      <PluginDrawer id={open} onClose={() => setOpen(null)} />
    </>
  );
}

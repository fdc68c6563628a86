import { Button, Code, Drawer, Group, Loader, Stack, Text, Title } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import type { Plugin } from '@gatehouse/client';
import { api, unwrap } from '../../api.ts';
import { ConfirmButton } from '../../components/ConfirmButton.tsx';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { SchemaFields, type JsonSchema } from '../../components/SchemaForm.tsx';
import { Time } from '../../components/Time.tsx';
import { fieldErrors } from '../../hooks/use-field-errors.ts';
import { useCan } from '../../hooks/use-me.ts';
import { onSubmit } from '../../lib/submit.ts';
import { Health } from './Health.tsx';

/** One plugin: its manifest, health, a config form generated from its JSON Schema, and unregistering. */
export function PluginDrawer({ id, onClose }: { id: string | null; onClose: () => void }) {
  const plugin = useQuery({
    queryKey: ['plugins', id],
    queryFn: () => unwrap(api.GET('/api/plugins/{id}', { params: { path: { id: id ?? '' } } })),
    enabled: !!id,
  });
  return (
    <Drawer
      opened={!!id}
      onClose={onClose}
      position="right"
      size="lg"
      title={plugin.data && <Title order={4}>{plugin.data.name}</Title>}
    >
      {plugin.isLoading && <Loader />}
      <ProblemAlert error={plugin.error} />
      {plugin.data && <PluginView key={plugin.data.id} plugin={plugin.data} onGone={onClose} />}
    </Drawer>
  );
}

function PluginView({ plugin, onGone }: { plugin: Plugin; onGone: () => void }) {
  const can = useCan();
  const queryClient = useQueryClient();
  const [config, setConfig] = useState<Record<string, unknown>>(plugin.config);
  const schema = plugin.manifest.config_schema as JsonSchema | undefined;
  const save = useMutation({
    mutationFn: () =>
      unwrap(api.PUT('/api/plugins/{id}/config', { params: { path: { id: plugin.id } }, body: config })),
    onSuccess: (p) => {
      queryClient.setQueryData(['plugins', plugin.id], p);
      return queryClient.invalidateQueries({ queryKey: ['plugins'] });
    },
  });
  const remove = useMutation({
    mutationFn: () => unwrap(api.DELETE('/api/plugins/{id}', { params: { path: { id: plugin.id } } })),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: ['plugins'] });
      onGone();
    },
  });
  const hooks = plugin.manifest.hooks as { before?: string[]; after?: string[] } | undefined;
  const errors = fieldErrors(save.error, []);
  return (
    <Stack>
      <Group gap="xs">
        <Health plugin={plugin} />
        <Text size="sm" c="dimmed">
          {plugin.kind}
          {plugin.url ? ` · ${plugin.url}` : ''} · registered <Time value={plugin.created_at} />
        </Text>
      </Group>
      {typeof plugin.manifest.description === 'string' && (
        <Text size="sm">{plugin.manifest.description}</Text>
      )}
      <Text size="sm">
        Before: <Code>{hooks?.before?.join(', ') || '—'}</Code> · After:{' '}
        <Code>{hooks?.after?.join(', ') || '—'}</Code>
      </Text>
      {plugin.health.last_error && (
        <ProblemAlert error={new Error(plugin.health.last_error)} title="Last error" />
      )}
      <Title order={5}>Configuration</Title>
      {schema?.properties ? (
        <form onSubmit={onSubmit(() => save.mutate())} aria-label="Plugin configuration">
          <Stack>
            <SchemaFields schema={schema} value={config} onChange={setConfig} errorOf={errors.of} />
            <ProblemAlert error={save.error} />
            {can('plugins:write') && (
              <Group justify="flex-end">
                {save.isSuccess && <span role="status">Saved</span>}
                <Button type="submit" loading={save.isPending}>
                  Save configuration
                </Button>
              </Group>
            )}
          </Stack>
        </form>
      ) : (
        <Text size="sm" c="dimmed">
          This plugin declares no settings.
        </Text>
      )}
      {can('plugins:write') && (
        <Group justify="flex-end" mt="lg">
          <ConfirmButton
            label="Unregister"
            title={`Unregister ${plugin.name}?`}
            message="Its hooks stop running at once; its configuration is deleted."
            onConfirm={() => remove.mutateAsync()}
            pending={remove.isPending}
            error={remove.error}
          />
        </Group>
      )}
    </Stack>
  );
}

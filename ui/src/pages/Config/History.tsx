import { Badge, Button, Code, Group, Modal, Paper, Stack, Text } from '@mantine/core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import type { ConfigVersion } from '@gatehouse/client';
import { api, unwrap } from '../../api.ts';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { Time } from '../../components/Time.tsx';
import { useCursorList } from '../../hooks/use-cursor-list.ts';
import { useCan } from '../../hooks/use-me.ts';

/** Every version with what it changed; any older one can be restored (as a new version). */
export function History({ etag }: { etag: string | undefined }) {
  const can = useCan();
  const queryClient = useQueryClient();
  const [target, setTarget] = useState<ConfigVersion | null>(null);
  const list = useCursorList(['config', 'history'], (cursor) =>
    unwrap(
      api.GET('/api/config/history', { params: { query: { limit: 50, ...(cursor ? { cursor } : {}) } } }),
    ),
  );
  const current = list.items[0]?.version;
  const rollback = useMutation({
    mutationFn: (version: number) =>
      unwrap(
        api.POST('/api/config/rollback', {
          body: { version },
          params: { header: etag ? { 'if-match': etag } : {} },
        }),
      ),
    onSuccess: async () => {
      setTarget(null);
      await queryClient.invalidateQueries({ queryKey: ['config'] });
    },
  });
  return (
    <Stack>
      <ProblemAlert error={list.error} />
      {list.items.map((v) => (
        <Paper key={v.version} withBorder p="sm" aria-label={`Version ${v.version}`}>
          <Group justify="space-between">
            <Group gap="xs">
              <Badge variant="light">v{v.version}</Badge>
              {v.version === current && <Badge color="teal">current</Badge>}
              <Text size="sm">{v.actor_name ?? v.actor}</Text>
              <Time value={v.created_at} />
            </Group>
            {can('config:write') && v.version !== current && (
              <Button size="xs" variant="default" onClick={() => setTarget(v)}>
                Restore…
              </Button>
            )}
          </Group>
          <Stack gap={2} mt="xs">
            {v.diff.length === 0 && (
              <Text size="xs" c="dimmed">
                No changes (initial version).
              </Text>
            )}
            {v.diff.map((d, i) => (
              <Text key={i} size="xs" ff="monospace">
                <Badge size="xs" variant="outline" mr={6}>
                  {d.op}
                </Badge>
                <Code>{d.path}</Code>
                {d.value !== undefined && <> → {JSON.stringify(d.value)}</>}
              </Text>
            ))}
          </Stack>
        </Paper>
      ))}
      {list.hasNextPage && (
        <Button variant="default" onClick={() => void list.fetchNextPage()} loading={list.isFetchingNextPage}>
          Older versions
        </Button>
      )}
      {target && (
        <Modal opened onClose={() => setTarget(null)} title={`Restore version ${target.version}?`}>
          <Stack>
            <Text size="sm">
              The settings become what they were at version {target.version}, saved as a new version; nothing
              is deleted from the history.
            </Text>
            <ProblemAlert error={rollback.error} />
            <Group justify="flex-end">
              <Button variant="default" onClick={() => setTarget(null)}>
                Cancel
              </Button>
              <Button onClick={() => rollback.mutate(target.version)} loading={rollback.isPending}>
                Restore
              </Button>
            </Group>
          </Stack>
        </Modal>
      )}
    </Stack>
  );
}

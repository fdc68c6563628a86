import { ActionIcon, Badge, Button, Group, Select, Stack, Text, Title, Tooltip } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link } from 'react-router';
import type { User } from '@gatehouse/client';
import { api, unwrap } from '../../api.ts';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { useCan } from '../../hooks/use-me.ts';

/** The roles a user holds, with assign and unassign (the API refuses roles beyond the signer's own scopes). */
export function UserRoles({ user }: { user: User }) {
  const can = useCan();
  const queryClient = useQueryClient();
  const [roleId, setRoleId] = useState<string | null>(null);
  const key = ['users', user.id, 'roles'];
  const held = useQuery({
    queryKey: key,
    queryFn: () =>
      unwrap(api.GET('/api/users/{id}/roles', { params: { path: { id: user.id }, query: { limit: 500 } } })),
  });
  const all = useQuery({
    queryKey: ['roles', 'all'],
    queryFn: () => unwrap(api.GET('/api/roles', { params: { query: { limit: 500 } } })),
  });
  const done = () => queryClient.invalidateQueries({ queryKey: key });
  const assign = useMutation({
    mutationFn: (id: string) =>
      unwrap(api.PUT('/api/users/{id}/roles/{roleId}', { params: { path: { id: user.id, roleId: id } } })),
    onSuccess: async () => {
      setRoleId(null);
      await done();
    },
  });
  const unassign = useMutation({
    mutationFn: (id: string) =>
      unwrap(api.DELETE('/api/users/{id}/roles/{roleId}', { params: { path: { id: user.id, roleId: id } } })),
    onSuccess: done,
  });
  const heldIds = new Set(held.data?.data.map((r) => r.id));
  const options = (all.data?.data ?? [])
    .filter((r) => !heldIds.has(r.id))
    .map((r) => ({ value: r.id, label: r.name }));
  const writable = can('roles:write');
  return (
    <Stack>
      <Title order={4}>Roles</Title>
      {held.data?.data.length === 0 && (
        <Text size="sm" c="dimmed">
          No roles: this user may do nothing yet.
        </Text>
      )}
      <Stack gap="xs" aria-label="Roles held">
        {held.data?.data.map((r) => (
          <Group key={r.id} justify="space-between" wrap="nowrap">
            <Group gap="xs">
              <Link to={`/roles/${r.id}`}>
                <Text fw={500} size="sm">
                  {r.name}
                </Text>
              </Link>
              {r.permissions.slice(0, 4).map((p) => (
                <Badge key={p} size="xs" variant="outline">
                  {p}
                </Badge>
              ))}
            </Group>
            {writable && (
              <Tooltip label={`Take ${r.name} away`}>
                <ActionIcon
                  variant="subtle"
                  color="red"
                  aria-label={`Unassign ${r.name}`}
                  loading={unassign.isPending && unassign.variables === r.id}
                  onClick={() => unassign.mutate(r.id)}
                >
                  ✕
                </ActionIcon>
              </Tooltip>
            )}
          </Group>
        ))}
      </Stack>
      {writable && (
        <Group align="flex-end">
          <Select
            label="Give a role"
            placeholder="Choose a role"
            data={options}
            value={roleId}
            onChange={setRoleId}
            searchable
            nothingFoundMessage="No other roles"
            style={{ flex: 1 }}
          />
          <Button
            disabled={!roleId}
            loading={assign.isPending}
            onClick={() => roleId && assign.mutate(roleId)}
          >
            Assign
          </Button>
        </Group>
      )}
      <ProblemAlert error={assign.error ?? unassign.error ?? held.error} />
    </Stack>
  );
}

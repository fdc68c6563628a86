import {
  Anchor,
  Badge,
  Breadcrumbs,
  Button,
  Grid,
  Group,
  Loader,
  Paper,
  Stack,
  Text,
  TextInput,
  Textarea,
  Title,
} from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import type { Permission, Role, RoleMember } from '@gatehouse/client';
import { api, unwrap } from '../../api.ts';
import { ConfirmButton } from '../../components/ConfirmButton.tsx';
import { CursorTable, type Column } from '../../components/CursorTable.tsx';
import { PermissionMatrix } from '../../components/PermissionMatrix.tsx';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { Time } from '../../components/Time.tsx';
import { useCursorList } from '../../hooks/use-cursor-list.ts';
import { fieldErrors } from '../../hooks/use-field-errors.ts';
import { useCan, useMe } from '../../hooks/use-me.ts';
import { onSubmit } from '../../lib/submit.ts';

/** One role: its permission matrix, its members, and deletion (not for built-in roles). */
export default function RoleDetail() {
  const { id = '' } = useParams();
  const role = useQuery({
    queryKey: ['roles', id],
    queryFn: () => unwrap(api.GET('/api/roles/{id}', { params: { path: { id } } })),
  });
  if (role.isLoading) return <Loader />;
  if (!role.data) return <ProblemAlert error={role.error} />;
  return <RoleView key={role.data.updated_at} role={role.data} />;
}

const memberColumns: Column<RoleMember>[] = [
  {
    key: 'username',
    header: 'User',
    cell: (m) => (
      <Anchor component={Link} to={`/users/${m.id}`} size="sm">
        {m.username}
      </Anchor>
    ),
  },
  {
    key: 'kind',
    header: 'Kind',
    cell: (m) => (
      <Badge size="sm" variant="light">
        {m.kind}
      </Badge>
    ),
  },
  { key: 'assigned', header: 'Since', cell: (m) => <Time value={m.assigned_at} /> },
];

const FIELDS = ['/name', '/description', '/permissions'];

function RoleView({ role }: { role: Role }) {
  const can = useCan();
  const me = useMe();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [form, setForm] = useState({
    name: role.name,
    description: role.description,
    permissions: role.permissions as Permission[],
  });
  const save = useMutation({
    mutationFn: () => unwrap(api.PUT('/api/roles/{id}', { params: { path: { id: role.id } }, body: form })),
    onSuccess: (r) => {
      queryClient.setQueryData(['roles', role.id], r);
      return queryClient.invalidateQueries({ queryKey: ['roles'] });
    },
  });
  const remove = useMutation({
    mutationFn: () => unwrap(api.DELETE('/api/roles/{id}', { params: { path: { id: role.id } } })),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: ['roles'] });
      await navigate('/roles');
    },
  });
  const members = useCursorList(['roles', role.id, 'members'], (cursor) =>
    unwrap(
      api.GET('/api/roles/{id}/members', {
        params: { path: { id: role.id }, query: { limit: 50, ...(cursor ? { cursor } : {}) } },
      }),
    ),
  );
  const writable = can('roles:write');
  const errors = fieldErrors(save.error, FIELDS);
  return (
    <Stack>
      <Breadcrumbs>
        <Anchor component={Link} to="/roles">
          Roles
        </Anchor>
        <Text>{role.name}</Text>
      </Breadcrumbs>
      <Group justify="space-between">
        <Group gap="sm">
          <Title order={2}>{role.name}</Title>
          {role.builtin && <Badge variant="outline">built-in</Badge>}
        </Group>
        {writable && !role.builtin && (
          <ConfirmButton
            label="Delete role"
            title={`Delete ${role.name}?`}
            message="Every member loses these permissions at once, and their tokens narrow with them."
            onConfirm={() => remove.mutateAsync()}
            pending={remove.isPending}
            error={remove.error}
          />
        )}
      </Group>
      <Grid>
        <Grid.Col span={{ base: 12, md: 7 }}>
          <Paper withBorder p="md">
            <form onSubmit={onSubmit(() => save.mutate())} aria-label="Role">
              <Stack>
                <TextInput
                  label="Name"
                  value={form.name}
                  onChange={(e) => setForm({ ...form, name: e.currentTarget.value })}
                  error={errors.of('/name')}
                  readOnly={!writable}
                />
                <Textarea
                  label="Description"
                  value={form.description}
                  onChange={(e) => setForm({ ...form, description: e.currentTarget.value })}
                  error={errors.of('/description')}
                  readOnly={!writable}
                  autosize
                />
                <PermissionMatrix
                  label="Permissions"
                  value={form.permissions}
                  onChange={(permissions) => setForm({ ...form, permissions })}
                  grantable={me.data?.scopes}
                  readOnly={!writable}
                />
                {role.builtin && (
                  <Text size="sm" c="dimmed">
                    Built-in roles cannot be deleted or emptied.
                  </Text>
                )}
                <ProblemAlert error={save.error} shownFields={FIELDS} />
                {writable && (
                  <Group justify="flex-end">
                    {save.isSuccess && <span role="status">Saved</span>}
                    <Button type="submit" loading={save.isPending}>
                      Save role
                    </Button>
                  </Group>
                )}
              </Stack>
            </form>
          </Paper>
        </Grid.Col>
        <Grid.Col span={{ base: 12, md: 5 }}>
          <Paper withBorder p="md">
            <Title order={4} mb="sm">
              Members
            </Title>
            <CursorTable
              label="Members"
              list={members}
              columns={memberColumns}
              rowKey={(m) => m.id}
              empty="Nobody holds this role."
            />
          </Paper>
        </Grid.Col>
      </Grid>
    </Stack>
  );
}

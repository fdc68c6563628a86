import { Badge, Button, Group, Modal, Stack, Text, TextInput, Textarea } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useNavigate } from 'react-router';
import type { Permission, Role } from '@gatehouse/client';
import { api, unwrap } from '../../api.ts';
import { CursorTable, type Column } from '../../components/CursorTable.tsx';
import { PageHeader } from '../../components/PageHeader.tsx';
import { PermissionMatrix } from '../../components/PermissionMatrix.tsx';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { useCursorList } from '../../hooks/use-cursor-list.ts';
import { fieldErrors } from '../../hooks/use-field-errors.ts';
import { useCan, useMe } from '../../hooks/use-me.ts';
import { onSubmit } from '../../lib/submit.ts';
import { FormActions } from '../../components/FormActions.tsx';

const columns: Column<Role>[] = [
  {
    key: 'name',
    header: 'Role',
    cell: (r) => (
      <Group gap="xs">
        <Text fw={500} size="sm">
          {r.name}
        </Text>
        {r.builtin && (
          <Badge size="xs" variant="outline">
            built-in
          </Badge>
        )}
      </Group>
    ),
  },
  {
    key: 'description',
    header: 'Description',
    cell: (r) => (
      <Text size="sm" c="dimmed" lineClamp={1}>
        {r.description}
      </Text>
    ),
  },
  {
    key: 'permissions',
    header: 'Permissions',
    cell: (r) => (
      <Group gap={4}>
        {r.permissions.map((p) => (
          <Badge key={p} size="xs" variant="light">
            {p}
          </Badge>
        ))}
      </Group>
    ),
  },
];

/** Roles: what each grants, and a new one built on the permission matrix. */
export default function Roles() {
  const [creating, create] = useDisclosure();
  const navigate = useNavigate();
  const can = useCan();
  const list = useCursorList(['roles'], (cursor) =>
    unwrap(api.GET('/api/roles', { params: { query: { limit: 100, ...(cursor ? { cursor } : {}) } } })),
  );
  return (
    <>
      <PageHeader
        title="Roles"
        description="A role is a named set of permissions; users hold roles, tokens narrow them."
        actions={can('roles:write') && <Button onClick={create.open}>New role</Button>}
      />
      <CursorTable
        label="Roles"
        list={list}
        columns={columns}
        rowKey={(r) => r.id}
        onRowClick={(r) => void navigate(`/roles/${r.id}`)}
        empty="No roles."
      />
      <CreateRoleModal
        opened={creating}
        onClose={create.close}
        onCreated={(r) => void navigate(`/roles/${r.id}`)}
      />
    </>
  );
}

const FIELDS = ['/name', '/description', '/permissions'];

function CreateRoleModal({
  opened,
  onClose,
  onCreated,
}: {
  opened: boolean;
  onClose: () => void;
  onCreated: (r: Role) => void;
}) {
  const me = useMe();
  const queryClient = useQueryClient();
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [permissions, setPermissions] = useState<Permission[]>([]);
  const create = useMutation({
    mutationFn: () => unwrap(api.POST('/api/roles', { body: { name, description, permissions } })),
    onSuccess: async (role) => {
      await queryClient.invalidateQueries({ queryKey: ['roles'] });
      onCreated(role);
    },
  });
  const errors = fieldErrors(create.error, FIELDS);
  return (
    <Modal opened={opened} onClose={onClose} title="New role" size="lg">
      <form onSubmit={onSubmit(() => create.mutate())} aria-label="New role">
        <Stack>
          <TextInput
            label="Name"
            required
            value={name}
            onChange={(e) => setName(e.currentTarget.value)}
            error={errors.of('/name')}
            data-autofocus
          />
          <Textarea
            label="Description"
            value={description}
            onChange={(e) => setDescription(e.currentTarget.value)}
            error={errors.of('/description')}
            autosize
            minRows={2}
          />
          <PermissionMatrix
            label="Permissions"
            value={permissions}
            onChange={setPermissions}
            grantable={me.data?.scopes}
          />
          {errors.of('/permissions') && (
            <Text c="red" size="sm">
              {errors.of('/permissions')}
            </Text>
          )}
          <ProblemAlert error={create.error} shownFields={FIELDS} />
          <FormActions submit="Create role" pending={create.isPending} onCancel={onClose} />
        </Stack>
      </form>
    </Modal>
  );
}

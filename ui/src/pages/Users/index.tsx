import { Badge, Button, Group, SegmentedControl, Text, TextInput } from '@mantine/core';
import { useDebouncedValue, useDisclosure } from '@mantine/hooks';
import { useEffect, useState } from 'react';
import { useNavigate, useSearchParams } from 'react-router';
import type { User } from '@gatehouse/client';
import { CursorTable, type Column } from '../../components/CursorTable.tsx';
import { PageHeader } from '../../components/PageHeader.tsx';
import { Time } from '../../components/Time.tsx';
import { useCursorList } from '../../hooks/use-cursor-list.ts';
import { useCan } from '../../hooks/use-me.ts';
import { CreateUserModal } from './CreateUserModal.tsx';
import { usersQuery, type Kind } from './list.ts';

const columns: Column<User>[] = [
  {
    key: 'username',
    header: 'Username',
    cell: (u) => (
      <Text fw={500} size="sm">
        {u.username}
      </Text>
    ),
  },
  {
    key: 'name',
    header: 'Display name',
    cell: (u) =>
      u.display_name ?? (
        <Text span c="dimmed" size="sm">
          —
        </Text>
      ),
  },
  {
    key: 'kind',
    header: 'Kind',
    cell: (u) => (
      <Badge variant="light" color={u.kind === 'human' ? 'blue' : 'grape'}>
        {u.kind}
      </Badge>
    ),
  },
  {
    key: 'status',
    header: 'Status',
    cell: (u) =>
      u.disabled ? (
        <Badge color="gray">disabled</Badge>
      ) : (
        <Badge color="teal" variant="light">
          active
        </Badge>
      ),
  },
  { key: 'created', header: 'Created', cell: (u) => <Time value={u.created_at} /> },
];

/** Every user and service account: search, filter, open one, create one. */
export default function Users() {
  // The search lives in the URL, so a filtered list can be reloaded and shared.
  const [params, setParams] = useSearchParams();
  const [search, setSearch] = useState(params.get('q') ?? '');
  const [q] = useDebouncedValue(search.trim(), 250);
  const kind = (params.get('kind') ?? 'all') as Kind;
  const urlQ = params.get('q') ?? '';
  // Only a change: replacing the URL with itself was a router navigation and a second render of the whole page
  // on every visit.
  useEffect(() => {
    if (q !== urlQ)
      setParams(
        (p) => {
          if (q) p.set('q', q);
          else p.delete('q');
          return p;
        },
        { replace: true },
      );
  }, [q, urlQ, setParams]);
  const setKind = (k: Kind) =>
    setParams(
      (p) => {
        if (k === 'all') p.delete('kind');
        else p.set('kind', k);
        return p;
      },
      { replace: true },
    );
  const [creating, create] = useDisclosure();
  const navigate = useNavigate();
  const can = useCan();
  const { queryKey, fetchPage } = usersQuery(q, kind);
  const list = useCursorList(queryKey, fetchPage);
  return (
    <>
      <PageHeader
        title="Users"
        description="People who sign in to the console and service accounts that only hold tokens."
        actions={can('users:write') && <Button onClick={create.open}>New user</Button>}
      />
      <Group mb="md" align="flex-end">
        <TextInput
          label="Search"
          placeholder="Username, name or email"
          value={search}
          onChange={(e) => setSearch(e.currentTarget.value)}
          w={320}
          type="search"
        />
        <SegmentedControl<Kind>
          aria-label="Kind"
          value={kind}
          onChange={setKind}
          data={[
            { value: 'all', label: 'All' },
            { value: 'human', label: 'Humans' },
            { value: 'service', label: 'Service accounts' },
          ]}
        />
      </Group>
      <CursorTable
        label="Users"
        list={list}
        columns={columns}
        rowKey={(u) => u.id}
        onRowClick={(u) => void navigate(`/users/${u.id}`)}
        empty={q ? `No user matches “${q}”.` : 'No users yet.'}
      />
      <CreateUserModal
        opened={creating}
        onClose={create.close}
        onCreated={(u) => void navigate(`/users/${u.id}`)}
      />
    </>
  );
}

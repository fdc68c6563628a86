import { ActionIcon, Anchor, Badge, Button, Group, Menu, Text } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { useState } from 'react';
import { Link } from 'react-router';
import type { Token } from '@gatehouse/client';
import { api, unwrap } from '../../api.ts';
import { CursorTable, type Column } from '../../components/CursorTable.tsx';
import { PageHeader } from '../../components/PageHeader.tsx';
import { Time } from '../../components/Time.tsx';
import { useCursorList } from '../../hooks/use-cursor-list.ts';
import { CreateTokenModal } from './CreateTokenModal.tsx';
import { RevokeTokenModal, RotateTokenModal } from './TokenActions.tsx';

function status(t: Token): { label: string; color: string } {
  if (t.revoked_at) return { label: 'revoked', color: 'gray' };
  if (t.expires_at && new Date(t.expires_at).getTime() < Date.now())
    return { label: 'expired', color: 'gray' };
  if (t.expires_at && new Date(t.expires_at).getTime() - Date.now() < 7 * 86_400_000)
    return { label: 'expires soon', color: 'orange' };
  return { label: 'active', color: 'teal' };
}

type Action = { kind: 'rotate' | 'revoke'; token: Token } | null;

/** API tokens: mint one (secret shown once), rotate with a grace period, revoke. */
export default function Tokens() {
  const [creating, create] = useDisclosure();
  const [action, setAction] = useState<Action>(null);
  const list = useCursorList(['tokens'], (cursor) =>
    unwrap(api.GET('/api/tokens', { params: { query: { limit: 100, ...(cursor ? { cursor } : {}) } } })),
  );
  const columns: Column<Token>[] = [
    {
      key: 'name',
      header: 'Name',
      cell: (t) => (
        <>
          <Text size="sm" fw={500}>
            {t.name}
          </Text>
          <Text size="xs" c="dimmed" ff="monospace">
            {t.prefix}…
          </Text>
        </>
      ),
    },
    {
      key: 'owner',
      header: 'Owner',
      cell: (t) => (
        <Anchor component={Link} to={`/users/${t.user_id}`} size="xs" ff="monospace">
          {t.user_id}
        </Anchor>
      ),
    },
    {
      key: 'scopes',
      header: 'Scopes',
      cell: (t) => (
        <Group gap={4}>
          {t.scopes.map((s) => (
            <Badge key={s} size="xs" variant="light">
              {s}
            </Badge>
          ))}
        </Group>
      ),
    },
    {
      key: 'status',
      header: 'Status',
      cell: (t) => {
        const s = status(t);
        return (
          <Badge size="sm" color={s.color} variant="light">
            {s.label}
          </Badge>
        );
      },
    },
    { key: 'expires', header: 'Expires', cell: (t) => <Time value={t.expires_at} fallback="never" /> },
    { key: 'used', header: 'Last used', cell: (t) => <Time value={t.last_used_at} fallback="never" /> },
    {
      key: 'actions',
      header: '',
      width: 48,
      cell: (t) =>
        !t.revoked_at && (
          <Menu position="bottom-end">
            <Menu.Target>
              <ActionIcon variant="subtle" aria-label={`Actions for ${t.name}`}>
                ⋯
              </ActionIcon>
            </Menu.Target>
            <Menu.Dropdown>
              <Menu.Item onClick={() => setAction({ kind: 'rotate', token: t })}>Rotate…</Menu.Item>
              <Menu.Item color="red" onClick={() => setAction({ kind: 'revoke', token: t })}>
                Revoke…
              </Menu.Item>
            </Menu.Dropdown>
          </Menu>
        ),
    },
  ];
  return (
    <>
      <PageHeader
        title="Tokens"
        description="API tokens for scripts and services. A token never holds more than its owner, and narrows with them."
        actions={<Button onClick={create.open}>New token</Button>}
      />
      <CursorTable label="Tokens" list={list} columns={columns} rowKey={(t) => t.id} empty="No tokens yet." />
      <CreateTokenModal opened={creating} onClose={create.close} />
      {action?.kind === 'rotate' && <RotateTokenModal token={action.token} onClose={() => setAction(null)} />}
      {action?.kind === 'revoke' && <RevokeTokenModal token={action.token} onClose={() => setAction(null)} />}
    </>
  );
}

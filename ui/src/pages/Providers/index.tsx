import { Badge, Button, Code, Group, Stack, Table, Text } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api, unwrap } from '../../api.ts';
import { PageHeader } from '../../components/PageHeader.tsx';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { Time } from '../../components/Time.tsx';
import { useCan } from '../../hooks/use-me.ts';
import { ProviderModal, type Provider } from './ProviderModal.tsx';

export const providersKey = ['auth-providers'];

/** Identity providers (OIDC single sign-on): who may sign in through them, and which roles they bring. */
export default function Providers() {
  const can = useCan();
  const [editing, setEditing] = useState<Provider | 'new' | null>(null);
  const list = useQuery({
    queryKey: providersKey,
    queryFn: () => unwrap(api.GET('/api/auth/providers', { params: { query: { limit: 100 } } })),
  });
  const settings = useQuery({
    queryKey: ['config'],
    queryFn: () => unwrap(api.GET('/api/config')),
    enabled: can('config:read'),
  });
  const ssoOnly = settings.data?.auth.sso_only ?? false;
  return (
    <>
      <PageHeader
        title="Sign-in"
        description="Single sign-on through OpenID Connect providers. Roles follow the provider's claims at every sign-in."
        actions={can('auth:write') && <Button onClick={() => setEditing('new')}>New provider</Button>}
      />
      <Stack>
        <Text size="sm" c="dimmed">
          Password sign-in is {ssoOnly ? <b>off</b> : <b>on</b>} for people (setting{' '}
          <Code>auth.sso_only</Code> on the Config page). API tokens always work.
        </Text>
        <ProblemAlert error={list.error} />
        {list.data && list.data.data.length === 0 && (
          <Text size="sm" c="dimmed">
            No identity provider yet. Add one to let people sign in with your company account.
          </Text>
        )}
        {list.data && list.data.data.length > 0 && (
          <Table highlightOnHover aria-label="Identity providers">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Issuer</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>Role rules</Table.Th>
                <Table.Th>Updated</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {list.data.data.map((p) => (
                <Table.Tr key={p.id} onClick={() => setEditing(p)} style={{ cursor: 'pointer' }}>
                  <Table.Td>
                    <Text size="sm" fw={500}>
                      {p.name}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm" ff="monospace">
                      {p.issuer}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <Group gap={4}>
                      <Badge color={p.enabled ? 'teal' : 'gray'} variant="light">
                        {p.enabled ? 'enabled' : 'disabled'}
                      </Badge>
                      {p.jit && <Badge variant="outline">creates users</Badge>}
                    </Group>
                  </Table.Td>
                  <Table.Td>{p.role_mapping.length}</Table.Td>
                  <Table.Td>
                    <Time value={p.updated_at} />
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </Stack>
      {editing && (
        <ProviderModal
          provider={editing === 'new' ? null : editing}
          canWrite={can('auth:write')}
          onClose={() => setEditing(null)}
        />
      )}
    </>
  );
}

import { Anchor, Badge, Card, Group, SimpleGrid, Skeleton, Stack, Table, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { Link } from 'react-router';
import type { Permission } from '@gatehouse/client';
import { api, unwrap } from '../../api.ts';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { Time } from '../../components/Time.tsx';
import { useCan, useMe } from '../../hooks/use-me.ts';
import { OutcomeBadge } from '../Audit/OutcomeBadge.tsx';

const WEEK_MS = 7 * 86_400_000;
type Countable = '/api/users' | '/api/roles' | '/api/tokens' | '/api/webhooks' | '/api/plugins';
const COUNTS: { path: Countable; label: string; to: string; scope?: Permission }[] = [
  { path: '/api/users', label: 'Users', to: '/users', scope: 'users:read' },
  { path: '/api/roles', label: 'Roles', to: '/roles', scope: 'roles:read' },
  { path: '/api/tokens', label: 'Tokens', to: '/tokens' },
  { path: '/api/webhooks', label: 'Webhook endpoints', to: '/webhooks', scope: 'webhooks:read' },
  { path: '/api/plugins', label: 'Plugins', to: '/plugins', scope: 'plugins:read' },
];

/** Counts up to 500 ("500+" beyond): lists are cursor-paginated and the API has no count endpoint. */
function CountCard({ path, label, to }: { path: Countable; label: string; to: string }) {
  const q = useQuery({
    queryKey: ['count', path],
    queryFn: () => unwrap(api.GET(path, { params: { query: { limit: 500 } } })),
  });
  return (
    <Card withBorder component={Link} to={to} aria-label={label}>
      <Text size="sm" c="dimmed">
        {label}
      </Text>
      {q.isLoading ? (
        <Skeleton h={32} mt={4} />
      ) : (
        <Text fz={28} fw={700}>
          {q.data ? `${q.data.data.length}${q.data.next_cursor ? '+' : ''}` : '—'}
        </Text>
      )}
    </Card>
  );
}

/** What needs attention: counts, the latest audit events, failing endpoints, tokens about to expire. */
export default function Dashboard() {
  const can = useCan();
  const me = useMe();
  return (
    <Stack gap="lg">
      <Title order={2}>
        Welcome{me.data ? `, ${me.data.user.display_name ?? me.data.user.username}` : ''}
      </Title>
      <SimpleGrid cols={{ base: 2, sm: 3, lg: 5 }}>
        {COUNTS.filter((c) => !c.scope || can(c.scope)).map((c) => (
          <CountCard key={c.path} {...c} />
        ))}
      </SimpleGrid>
      <SimpleGrid cols={{ base: 1, lg: 2 }}>
        {can('audit:read') && <RecentEvents />}
        <Stack>
          {can('webhooks:read') && <FailingWebhooks />}
          <ExpiringTokens />
        </Stack>
      </SimpleGrid>
    </Stack>
  );
}

function RecentEvents() {
  const q = useQuery({
    queryKey: ['audit', 'recent'],
    queryFn: () => unwrap(api.GET('/api/audit', { params: { query: { limit: 8 } } })),
  });
  return (
    <Card withBorder>
      <Group justify="space-between" mb="sm">
        <Title order={4}>Recent activity</Title>
        <Anchor component={Link} to="/audit" size="sm">
          Audit log
        </Anchor>
      </Group>
      <ProblemAlert error={q.error} />
      {q.isLoading && <Skeleton h={160} />}
      {q.data?.data.length === 0 && (
        <Text c="dimmed" size="sm">
          Nothing has happened yet.
        </Text>
      )}
      <Table>
        <Table.Tbody>
          {q.data?.data.map((e) => (
            <Table.Tr key={e.id}>
              <Table.Td>
                <Text size="sm" ff="monospace">
                  {e.action}
                </Text>
              </Table.Td>
              <Table.Td>
                <Text size="sm">{e.actor_name ?? e.actor}</Text>
              </Table.Td>
              <Table.Td>
                <OutcomeBadge outcome={e.outcome} />
              </Table.Td>
              <Table.Td>
                <Time value={e.ts} />
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Card>
  );
}

function FailingWebhooks() {
  const q = useQuery({
    queryKey: ['webhooks', 'all'],
    queryFn: () => unwrap(api.GET('/api/webhooks', { params: { query: { limit: 500 } } })),
  });
  const failing = q.data?.data.filter((w) => w.failing_since || w.disabled_reason) ?? [];
  return (
    <Card withBorder>
      <Title order={4} mb="sm">
        Failing webhook endpoints
      </Title>
      <ProblemAlert error={q.error} />
      {q.isLoading ? (
        <Skeleton h={40} />
      ) : failing.length === 0 ? (
        <Text size="sm" c="dimmed">
          Every endpoint is delivering.
        </Text>
      ) : (
        failing.map((w) => (
          <Group key={w.id} justify="space-between">
            <Anchor component={Link} to={`/webhooks/${w.id}`} size="sm">
              {w.url}
            </Anchor>
            {w.disabled_reason ? (
              <Badge color="red">disabled</Badge>
            ) : (
              <Text size="xs" c="red">
                failing since <Time value={w.failing_since} />
              </Text>
            )}
          </Group>
        ))
      )}
    </Card>
  );
}

function ExpiringTokens() {
  const q = useQuery({
    queryKey: ['tokens', 'all'],
    queryFn: () => unwrap(api.GET('/api/tokens', { params: { query: { limit: 500 } } })),
  });
  const now = Date.now();
  const soon =
    q.data?.data.filter(
      (t) =>
        !t.revoked_at &&
        t.expires_at &&
        new Date(t.expires_at).getTime() - now < WEEK_MS &&
        new Date(t.expires_at).getTime() > now,
    ) ?? [];
  return (
    <Card withBorder>
      <Title order={4} mb="sm">
        Tokens expiring within 7 days
      </Title>
      <ProblemAlert error={q.error} />
      {q.isLoading ? (
        <Skeleton h={40} />
      ) : soon.length === 0 ? (
        <Text size="sm" c="dimmed">
          None.
        </Text>
      ) : (
        soon.map((t) => (
          <Group key={t.id} justify="space-between">
            <Anchor component={Link} to="/tokens" size="sm">
              {t.name}
            </Anchor>
            <Text size="xs">
              expires <Time value={t.expires_at} />
            </Text>
          </Group>
        ))
      )}
    </Card>
  );
}

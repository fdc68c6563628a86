import { Anchor, Badge, Breadcrumbs, Grid, Group, Loader, Paper, Stack, Text, Title } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useNavigate, useParams } from 'react-router';
import { api, unwrap } from '../../api.ts';
import { ConfirmButton } from '../../components/ConfirmButton.tsx';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { Time } from '../../components/Time.tsx';
import { useCan, useMe } from '../../hooks/use-me.ts';
import { PasswordForm, ProfileForm } from './ProfileForm.tsx';
import { UserRoles } from './UserRoles.tsx';

/** One user: profile, password, roles, and deletion. */
export default function UserDetail() {
  const { id = '' } = useParams();
  const can = useCan();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const user = useQuery({
    queryKey: ['users', id],
    queryFn: () => unwrap(api.GET('/api/users/{id}', { params: { path: { id } } })),
  });
  const remove = useMutation({
    mutationFn: () => unwrap(api.DELETE('/api/users/{id}', { params: { path: { id } } })),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: ['users'] });
      await navigate('/users');
    },
  });
  const me = useMe();
  const resetMfa = useMutation({
    mutationFn: () => unwrap(api.DELETE('/api/users/{id}/mfa', { params: { path: { id } } })),
  });
  if (user.isLoading) return <Loader />;
  if (!user.data) return <ProblemAlert error={user.error} />;
  const u = user.data;
  return (
    <Stack>
      <Breadcrumbs>
        <Anchor component={Link} to="/users">
          Users
        </Anchor>
        <Text>{u.username}</Text>
      </Breadcrumbs>
      <Group justify="space-between">
        <Group gap="sm">
          <Title order={2} data-testid="user-title">
            {u.username}
          </Title>
          <Badge variant="light" color={u.kind === 'human' ? 'blue' : 'grape'}>
            {u.kind}
          </Badge>
          {u.disabled && <Badge color="gray">disabled</Badge>}
        </Group>
        <Group gap="xs">
          {can('users:write') && u.kind === 'human' && me.data?.user.id !== u.id && (
            <ConfirmButton
              label="Reset second factors"
              title={`Reset ${u.username}'s second factors?`}
              message="Every authenticator app, passkey and recovery code of this user is removed: their password alone signs them in until they enrol again. Use it when they lost their factors."
              confirmLabel="Reset"
              onConfirm={() => resetMfa.mutateAsync()}
              pending={resetMfa.isPending}
              error={resetMfa.error}
            />
          )}
          {can('users:write') && (
            <ConfirmButton
              label="Delete user"
              title={`Delete ${u.username}?`}
              message="The user and every token it holds stop working at once. This cannot be undone."
              onConfirm={() => remove.mutateAsync()}
              pending={remove.isPending}
              error={remove.error}
            />
          )}
        </Group>
      </Group>
      {resetMfa.isSuccess && (
        <Text size="sm" c="teal" role="status">
          Second factors reset: {u.username} signs in with the password alone until they enrol again.
        </Text>
      )}
      {u.display_name && <Text fw={500}>{u.display_name}</Text>}
      <Text size="sm" c="dimmed">
        {u.id} · created <Time value={u.created_at} /> · updated <Time value={u.updated_at} />
        {u.external_id && <> · signs in through single sign-on (subject {u.external_id})</>}
      </Text>
      <Grid>
        <Grid.Col span={{ base: 12, md: 6 }}>
          <Paper withBorder p="md">
            <ProfileForm user={u} readOnly={!can('users:write')} />
          </Paper>
          {u.kind === 'human' && can('users:write') && (
            <Paper withBorder p="md" mt="md">
              <PasswordForm user={u} />
            </Paper>
          )}
        </Grid.Col>
        <Grid.Col span={{ base: 12, md: 6 }}>
          {can('roles:read') && (
            <Paper withBorder p="md">
              <UserRoles user={u} />
            </Paper>
          )}
        </Grid.Col>
      </Grid>
    </Stack>
  );
}

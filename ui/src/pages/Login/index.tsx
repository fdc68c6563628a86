import {
  Alert,
  Button,
  Center,
  Paper,
  PasswordInput,
  Stack,
  Tabs,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { onSubmit } from '../../lib/submit.ts';
import { Navigate, useLocation, useNavigate } from 'react-router';
import { createClient } from '../../../../src/client/index.ts';
import { api, unwrap } from '../../api.ts';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { useCredential } from '../../hooks/use-credential.ts';
import { fieldErrors } from '../../hooks/use-field-errors.ts';
import { credential, type Credential } from '../../session.ts';

/** Sign in with a username and password (a session) or by pasting an API token. */
export default function Login() {
  const signedIn = useCredential();
  const location = useLocation();
  const from = (location.state as { from?: string } | null)?.from ?? '/';
  if (signedIn) return <Navigate to={from} replace />;
  return (
    <Center mih="100vh" p="md">
      <Paper withBorder shadow="sm" p="xl" w={420} maw="100%">
        <Stack gap={4} mb="lg">
          <Title order={2}>Sign in to Gatehouse</Title>
          <Text size="sm" c="dimmed">
            The admin console for users, roles, tokens and everything they change.
          </Text>
        </Stack>
        <Tabs defaultValue="password">
          <Tabs.List grow mb="md">
            <Tabs.Tab value="password">Password</Tabs.Tab>
            <Tabs.Tab value="token">API token</Tabs.Tab>
          </Tabs.List>
          <Tabs.Panel value="password">
            <PasswordForm from={from} />
          </Tabs.Panel>
          <Tabs.Panel value="token">
            <TokenForm from={from} />
          </Tabs.Panel>
        </Tabs>
      </Paper>
    </Center>
  );
}

function useSignIn(from: string) {
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  return (next: Credential) => {
    queryClient.clear();
    credential.set(next);
    void navigate(from, { replace: true });
  };
}

function PasswordForm({ from }: { from: string }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const signIn = useSignIn(from);
  const login = useMutation({
    mutationFn: () => unwrap(api.POST('/api/auth/login', { body: { username, password } })),
    onSuccess: (session) => signIn({ token: session.token, kind: 'session' }),
  });
  const errors = fieldErrors(login.error, ['/username', '/password']);
  const submit = onSubmit(() => {
    login.mutate();
  });
  return (
    <form onSubmit={submit} aria-label="Sign in with a password">
      <Stack>
        <TextInput
          label="Username"
          autoComplete="username"
          required
          value={username}
          onChange={(e) => setUsername(e.currentTarget.value)}
          error={errors.of('/username')}
          data-autofocus
        />
        <PasswordInput
          label="Password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(e) => setPassword(e.currentTarget.value)}
          error={errors.of('/password')}
        />
        <ProblemAlert error={login.error} shownFields={['/username', '/password']} />
        <Button type="submit" loading={login.isPending}>
          Sign in
        </Button>
      </Stack>
    </form>
  );
}

function TokenForm({ from }: { from: string }) {
  const [token, setToken] = useState('');
  const signIn = useSignIn(from);
  const check = useMutation({
    // The token is tried on /api/me before it is kept, so a typo is reported here rather than on every page.
    mutationFn: async () => {
      const value = token.trim();
      await unwrap(createClient({ baseUrl: window.location.origin, token: value }).GET('/api/me'));
      return value;
    },
    onSuccess: (value) => signIn({ token: value, kind: value.startsWith('gts_') ? 'session' : 'token' }),
  });
  return (
    <form onSubmit={onSubmit(() => check.mutate())} aria-label="Sign in with an API token">
      <Stack>
        <PasswordInput
          label="API token"
          description="A gth_… token; it stays in this tab only."
          required
          value={token}
          onChange={(e) => setToken(e.currentTarget.value)}
        />
        <ProblemAlert error={check.error} />
        <Alert color="gray" variant="light">
          Signing out forgets the token here; it stays valid until it is revoked or expires.
        </Alert>
        <Button type="submit" loading={check.isPending}>
          Sign in with token
        </Button>
      </Stack>
    </form>
  );
}

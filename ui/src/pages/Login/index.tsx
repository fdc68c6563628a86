import {
  Alert,
  Button,
  Center,
  Divider,
  Loader,
  Paper,
  PasswordInput,
  Stack,
  Tabs,
  Text,
  Title,
  TextInput,
} from '@mantine/core';
import { useMutation, useQuery } from '@tanstack/react-query';
import { useEffect, useRef, useState } from 'react';
import { Navigate, useLocation, useNavigate } from 'react-router';
import { createClient } from '@gatehouse/client';
import { api, ApiProblem, unwrap } from '../../api.ts';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { useCredential } from '../../hooks/use-credential.ts';
import { fieldErrors } from '../../hooks/use-field-errors.ts';
import { onSubmit } from '../../lib/submit.ts';
import { useSignIn } from '../../hooks/use-sign-in.ts';
import { MfaStep, type MfaChallenge } from './MfaStep.tsx';

/**
 * Sign in: one button per identity provider, a username and password (then a second factor when the account
 * has one), or a pasted API token. Coming back from a provider, the page trades the one-time ticket in its
 * `#sso=` fragment for a session.
 */
export default function Login() {
  const signedIn = useCredential();
  const location = useLocation();
  const from = (location.state as { from?: string } | null)?.from ?? '/';
  const ticket = ssoTicket(location.hash);
  const code = new URLSearchParams(location.hash.slice(1)).get('sso_error');
  const ssoError =
    code === null ? null : (SSO_ERRORS[code] ?? 'Single sign-on did not complete. Start again.');
  const [mfa, setMfa] = useState<MfaChallenge | null>(null);
  if (signedIn && !ticket) return <Navigate to={from} replace />;
  return (
    <Center mih="100vh" p="md">
      <Paper withBorder shadow="sm" p="xl" w={420} maw="100%">
        <Stack gap={4} mb="lg">
          <Title order={2}>Sign in to Gatehouse</Title>
          <Text size="sm" c="dimmed">
            The admin console for users, roles, tokens and everything they change.
          </Text>
        </Stack>
        {ticket ? (
          <SsoExchange ticket={ticket} from={from} />
        ) : mfa ? (
          <MfaStep challenge={mfa} from={from} onCancel={() => setMfa(null)} />
        ) : (
          <Methods from={from} onMfa={setMfa} ssoError={ssoError} />
        )}
      </Paper>
    </Center>
  );
}

/** What a refused single sign-on came back with (`#sso_error=<problem code>`), in words; the audit log has the reason. */
const SSO_ERRORS: Record<string, string> = {
  'auth.sso_denied':
    'The identity provider signed you in, but Gatehouse did not accept it (for example, no account here and none is created on first sign-in, or your email domain is not allowed). An administrator finds the reason in the audit log (auth.sso.login).',
  'auth.sso_state_invalid': 'The sign-in took too long or was already used. Start again.',
  not_found: 'This identity provider does not exist or is turned off.',
};

/** The ticket of `#sso=<ticket>`, which the SSO callback puts in the fragment (never sent to a server). */
function ssoTicket(hash: string): string | null {
  return new URLSearchParams(hash.slice(1)).get('sso');
}

function Methods({
  from,
  onMfa,
  ssoError,
}: {
  from: string;
  onMfa: (c: MfaChallenge) => void;
  ssoError: string | null;
}) {
  const methods = useQuery({
    queryKey: ['auth-methods'],
    queryFn: () => unwrap(api.GET('/api/auth/methods')),
    staleTime: 60_000,
  });
  if (methods.isPending) return <Loader size="sm" aria-label="Loading sign-in methods" />;
  const providers = methods.data?.providers ?? [];
  const password = methods.data?.password ?? true;
  return (
    <Stack>
      {ssoError && (
        <Alert color="red" title="Single sign-on did not complete" role="alert">
          {ssoError}
        </Alert>
      )}
      {providers.length > 0 && (
        <Stack gap="xs" aria-label="Single sign-on">
          {providers.map((p) => (
            <Button
              key={p.id}
              component="a"
              variant="default"
              href={`${p.start_url}?return_to=${encodeURIComponent('/login')}`}
            >
              Sign in with {p.name}
            </Button>
          ))}
          <Divider label="or" labelPosition="center" />
        </Stack>
      )}
      <Tabs defaultValue={password ? 'password' : 'token'}>
        <Tabs.List grow mb="md">
          {password && <Tabs.Tab value="password">Password</Tabs.Tab>}
          <Tabs.Tab value="token">API token</Tabs.Tab>
        </Tabs.List>
        {password && (
          <Tabs.Panel value="password">
            <PasswordForm from={from} onMfa={onMfa} />
          </Tabs.Panel>
        )}
        <Tabs.Panel value="token">
          <TokenForm from={from} />
        </Tabs.Panel>
      </Tabs>
      {!password && (
        <Text size="xs" c="dimmed">
          Password sign-in is turned off here: people sign in through single sign-on.
        </Text>
      )}
    </Stack>
  );
}

/** Trades the SSO ticket for a session once, then forgets the fragment. */
function SsoExchange({ ticket, from }: { ticket: string; from: string }) {
  const signIn = useSignIn(from);
  const navigate = useNavigate();
  const started = useRef(false);
  const exchange = useMutation({
    mutationFn: () => unwrap(api.POST('/api/auth/oidc/exchange', { body: { ticket } })),
    onSuccess: (session) => signIn({ token: session.token, kind: 'session' }),
  });
  useEffect(() => {
    if (started.current) return;
    started.current = true;
    exchange.mutate();
  }, [exchange]);
  if (exchange.error)
    return (
      <Stack>
        <ProblemAlert error={exchange.error} title="Single sign-on did not complete" />
        <Button variant="default" onClick={() => void navigate('/login', { replace: true })}>
          Back to sign-in
        </Button>
      </Stack>
    );
  return (
    <Stack align="center">
      <Loader size="sm" />
      <Text size="sm">Signing you in…</Text>
    </Stack>
  );
}

function PasswordForm({ from, onMfa }: { from: string; onMfa: (c: MfaChallenge) => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const signIn = useSignIn(from);
  const login = useMutation({
    mutationFn: () => unwrap(api.POST('/api/auth/login', { body: { username, password } })),
    onSuccess: (session) => signIn({ token: session.token, kind: 'session' }),
    onError: (error) => {
      // The password was right and the account has a second factor: ask for it.
      if (error instanceof ApiProblem && error.code === 'mfa_required') {
        const p = error.problem as unknown as { mfa_token: string; methods: string[] };
        onMfa({ token: p.mfa_token, methods: p.methods, username });
      }
    },
  });
  const errors = fieldErrors(login.error, ['/username', '/password']);
  const submit = onSubmit(() => {
    login.mutate();
  });
  const shown = login.error instanceof ApiProblem && login.error.code === 'mfa_required' ? null : login.error;
  return (
    <form onSubmit={submit} aria-label="Sign in with a password">
      <Stack>
        <TextInput
          label="Username"
          autoComplete="username webauthn"
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
        <ProblemAlert error={shown} shownFields={['/username', '/password']} />
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

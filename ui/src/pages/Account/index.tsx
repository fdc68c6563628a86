import { Alert, Badge, Button, Group, Paper, Stack, Table, Text, Title } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { startRegistration } from '@simplewebauthn/browser';
import { useState } from 'react';
import { useLocation } from 'react-router';
import { api, unwrap } from '../../api.ts';
import { ConfirmButton } from '../../components/ConfirmButton.tsx';
import { PageHeader } from '../../components/PageHeader.tsx';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { Time } from '../../components/Time.tsx';
import { useMe } from '../../hooks/use-me.ts';
import { RecoveryCodes } from './RecoveryCodes.tsx';
import { TotpEnrolment } from './TotpEnrolment.tsx';

export const mfaQuery = { queryKey: ['me', 'mfa'], queryFn: () => unwrap(api.GET('/api/me/mfa')) };

/** A person's own sign-in security: second factors (authenticator apps, passkeys) and recovery codes. */
export default function Account() {
  const me = useMe();
  const location = useLocation();
  // Once /api/me is in, it decides (enrolling a factor clears it); until then, the redirect's word.
  const mustEnrol = me.data
    ? !!me.data.mfa_enrollment_required
    : ((location.state as { mfaRequired?: boolean } | null)?.mfaRequired ?? false);
  const isSession = me.data?.token.kind === 'session';
  return (
    <>
      <PageHeader
        title="Sign-in security"
        description="Second factors protect your account if your password leaks: a code from an authenticator app, or a passkey."
      />
      {mustEnrol && (
        <Alert color="orange" title="Set up a second factor to continue" role="alert" mb="md">
          One of your roles requires a second factor. Add an authenticator app or a passkey below; the rest of
          the console opens once you have one.
        </Alert>
      )}
      {me.data && !isSession ? (
        <Alert color="gray" title="Signed in with an API token">
          Second factors belong to people signing in with a password. Sign in with your username and password
          to manage them.
        </Alert>
      ) : (
        <Factors />
      )}
    </>
  );
}

function Factors() {
  const queryClient = useQueryClient();
  const mfa = useQuery(mfaQuery);
  const [codes, setCodes] = useState<string[] | null>(null);
  const [enrolling, setEnrolling] = useState(false);
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['me'] });
  const passkey = useMutation({
    mutationFn: async () => {
      const options = await unwrap(api.POST('/api/me/mfa/webauthn/register/options'));
      const response = await startRegistration({ optionsJSON: options as never });
      return unwrap(
        api.POST('/api/me/mfa/webauthn/register/verify', { body: { response: response as never } }),
      );
    },
    onSuccess: async (answer) => {
      const fresh = (answer as { recovery_codes?: string[] }).recovery_codes;
      if (fresh?.length) setCodes(fresh);
      await refresh();
    },
  });
  const remove = useMutation({
    mutationFn: (id: string) => unwrap(api.DELETE('/api/me/mfa/{id}', { params: { path: { id } } })),
    onSuccess: refresh,
  });
  const regenerate = useMutation({
    mutationFn: () => unwrap(api.POST('/api/me/mfa/recovery-codes')),
    onSuccess: async (answer) => {
      setCodes(answer.recovery_codes);
      await refresh();
    },
  });
  if (mfa.isPending) return <Text size="sm">Loading…</Text>;
  if (mfa.error) return <ProblemAlert error={mfa.error} />;
  const factors = mfa.data.factors.filter((f) => f.status === 'active');
  return (
    <Stack>
      {codes && <RecoveryCodes codes={codes} onDone={() => setCodes(null)} />}
      <Paper withBorder p="md">
        <Group justify="space-between" mb="sm">
          <Title order={4}>Second factors</Title>
          <Group gap="xs">
            <Button size="xs" variant="default" onClick={() => setEnrolling(true)}>
              Add authenticator app
            </Button>
            <Button size="xs" variant="default" onClick={() => passkey.mutate()} loading={passkey.isPending}>
              Add passkey
            </Button>
          </Group>
        </Group>
        <ProblemAlert error={passkey.error} title="The passkey was not added" />
        {enrolling && (
          <TotpEnrolment
            onClose={() => setEnrolling(false)}
            onConfirmed={async (fresh) => {
              setEnrolling(false);
              if (fresh.length) setCodes(fresh);
              await refresh();
            }}
          />
        )}
        {factors.length === 0 ? (
          <Text size="sm" c="dimmed">
            No second factor yet: your password alone signs you in.
          </Text>
        ) : (
          <Table aria-label="Second factors">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Factor</Table.Th>
                <Table.Th>Added</Table.Th>
                <Table.Th>Last used</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {factors.map((f) => (
                <Table.Tr key={f.id}>
                  <Table.Td>
                    <Group gap="xs">
                      <Badge variant="light">{f.kind === 'totp' ? 'authenticator app' : 'passkey'}</Badge>
                      {f.name.toLowerCase() !== (f.kind === 'totp' ? 'authenticator app' : 'passkey') && (
                        <Text size="sm">{f.name}</Text>
                      )}
                    </Group>
                  </Table.Td>
                  <Table.Td>
                    <Time value={f.created_at} />
                  </Table.Td>
                  <Table.Td>{f.last_used_at ? <Time value={f.last_used_at} /> : 'never'}</Table.Td>
                  <Table.Td>
                    <ConfirmButton
                      size="xs"
                      label="Remove"
                      title={`Remove ${f.name}?`}
                      message="It stops signing you in at once. Your other factors and recovery codes keep working."
                      confirmLabel="Remove"
                      onConfirm={() => remove.mutateAsync(f.id)}
                      pending={remove.isPending}
                      error={remove.error}
                    />
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </Paper>
      <Paper withBorder p="md">
        <Group justify="space-between">
          <div>
            <Title order={4}>Recovery codes</Title>
            <Text size="sm" c="dimmed">
              {factors.length === 0
                ? 'You get ten one-time codes when you add your first factor.'
                : `${mfa.data.recovery_codes_left} of 10 left. Each signs you in once if you lose your factors.`}
            </Text>
          </div>
          {factors.length > 0 && (
            <ConfirmButton
              size="xs"
              label="New codes"
              title="Replace every recovery code?"
              message="The codes you saved stop working, and ten new ones are shown once."
              confirmLabel="Replace"
              onConfirm={() => regenerate.mutateAsync()}
              pending={regenerate.isPending}
              error={regenerate.error}
            />
          )}
        </Group>
      </Paper>
    </Stack>
  );
}

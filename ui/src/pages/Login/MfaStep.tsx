import { Anchor, Button, Group, Stack, Text, TextInput } from '@mantine/core';
import { useMutation } from '@tanstack/react-query';
import { startAuthentication } from '@simplewebauthn/browser';
import { useState } from 'react';
import { api, unwrap } from '../../api.ts';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { onSubmit } from '../../lib/submit.ts';
import { useSignIn } from '../../hooks/use-sign-in.ts';

/** What the first step (a right password) answered: the short-lived token of this sign-in and its factors. */
export type MfaChallenge = { token: string; methods: string[]; username: string };

/**
 * The second step of a password sign-in: a code from the authenticator app, a passkey, or a recovery code.
 * The server limits wrong attempts; after too many, it asks to start over.
 */
export function MfaStep({
  challenge,
  from,
  onCancel,
}: {
  challenge: MfaChallenge;
  from: string;
  onCancel: () => void;
}) {
  const signIn = useSignIn(from);
  const [recovery, setRecovery] = useState(!challenge.methods.includes('totp'));
  const [code, setCode] = useState('');
  const done = (session: { token: string }) => signIn({ token: session.token, kind: 'session' });
  const withCode = useMutation({
    mutationFn: () =>
      unwrap(
        api.POST('/api/auth/login/mfa', {
          body: recovery
            ? { mfa_token: challenge.token, recovery_code: code.trim() }
            : { mfa_token: challenge.token, code: code.replace(/\s/g, '') },
        }),
      ),
    onSuccess: done,
  });
  const withPasskey = useMutation({
    mutationFn: async () => {
      const options = await unwrap(
        api.POST('/api/auth/login/mfa/webauthn/options', { body: { mfa_token: challenge.token } }),
      );
      const assertion = await startAuthentication({ optionsJSON: options });
      return unwrap(
        api.POST('/api/auth/login/mfa', {
          body: { mfa_token: challenge.token, webauthn: assertion as never },
        }),
      );
    },
    onSuccess: done,
  });
  const hasPasskey = challenge.methods.includes('webauthn');
  return (
    <Stack>
      <Text size="sm">
        Signing in as <b>{challenge.username}</b>. This account has a second factor.
      </Text>
      {hasPasskey && (
        <Button variant="default" onClick={() => withPasskey.mutate()} loading={withPasskey.isPending}>
          Use a passkey
        </Button>
      )}
      <ProblemAlert error={withPasskey.error} title="The passkey did not sign you in" />
      <form onSubmit={onSubmit(() => withCode.mutate())} aria-label="Second factor">
        <Stack>
          <TextInput
            label={recovery ? 'Recovery code' : 'Code from your authenticator app'}
            description={
              recovery
                ? 'One of the codes you saved when you set up your factor; each works once.'
                : undefined
            }
            autoComplete="one-time-code"
            inputMode={recovery ? 'text' : 'numeric'}
            required
            value={code}
            onChange={(e) => setCode(e.currentTarget.value)}
            data-autofocus
          />
          <ProblemAlert error={withCode.error} />
          <Button type="submit" loading={withCode.isPending}>
            Verify
          </Button>
        </Stack>
      </form>
      <Group justify="space-between">
        {challenge.methods.includes('recovery') && challenge.methods.includes('totp') ? (
          <Anchor
            component="button"
            type="button"
            size="sm"
            onClick={() => (setRecovery(!recovery), setCode(''))}
          >
            {recovery ? 'Use a code from your app' : 'Use a recovery code'}
          </Anchor>
        ) : (
          <span />
        )}
        <Anchor component="button" type="button" size="sm" onClick={onCancel}>
          Start over
        </Anchor>
      </Group>
    </Stack>
  );
}

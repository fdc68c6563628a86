import { Button, Code, Group, Image, Stack, Text, TextInput } from '@mantine/core';
import { useMutation } from '@tanstack/react-query';
import { useEffect, useRef } from 'react';
import { useState } from 'react';
import { api, unwrap } from '../../api.ts';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { onSubmit } from '../../lib/submit.ts';

/**
 * Adding an authenticator app: the server makes a secret and shows it as a QR code (and as the otpauth URI
 * for apps that take it typed in); the first code from the app confirms it.
 */
export function TotpEnrolment({
  onClose,
  onConfirmed,
}: {
  onClose: () => void;
  onConfirmed: (recoveryCodes: string[]) => Promise<void>;
}) {
  const [code, setCode] = useState('');
  const start = useMutation({ mutationFn: () => unwrap(api.POST('/api/me/mfa/totp', { body: {} })) });
  const started = useRef(false);
  useEffect(() => {
    if (started.current) return;
    started.current = true;
    start.mutate();
  }, [start]);
  const confirm = useMutation({
    mutationFn: (id: string) =>
      unwrap(
        api.POST('/api/me/mfa/totp/{id}/confirm', {
          params: { path: { id } },
          body: { code: code.replace(/\s/g, '') },
        }),
      ),
    onSuccess: (answer) => onConfirmed(answer.recovery_codes),
  });
  if (start.error) return <ProblemAlert error={start.error} />;
  if (!start.data) return <Text size="sm">Preparing…</Text>;
  const { id, otpauth_uri: uri, qr_svg: svg } = start.data;
  return (
    <Stack my="md" aria-label="Add an authenticator app">
      <Text size="sm">Scan this with your authenticator app, then type the code it shows.</Text>
      <Image
        src={`data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`}
        alt="QR code of the authenticator secret"
        w={180}
        h={180}
      />
      <Text size="xs" c="dimmed">
        Or enter this in the app:
      </Text>
      <Code block data-testid="otpauth-uri" style={{ wordBreak: 'break-all', whiteSpace: 'pre-wrap' }}>
        {uri}
      </Code>
      <form onSubmit={onSubmit(() => confirm.mutate(id))} aria-label="Confirm the authenticator app">
        <Stack>
          <TextInput
            label="Code from the app"
            autoComplete="one-time-code"
            inputMode="numeric"
            required
            value={code}
            onChange={(e) => setCode(e.currentTarget.value)}
          />
          <ProblemAlert error={confirm.error} />
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={confirm.isPending}>
              Confirm
            </Button>
          </Group>
        </Stack>
      </form>
    </Stack>
  );
}

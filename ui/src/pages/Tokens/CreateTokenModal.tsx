import { Button, Group, Modal, Select, Stack, Text, TextInput } from '@mantine/core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import type { Permission, TokenWithSecret } from '@gatehouse/client';
import { api, unwrap } from '../../api.ts';
import { PermissionMatrix } from '../../components/PermissionMatrix.tsx';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { SecretOnce } from '../../components/SecretOnce.tsx';
import { fieldErrors } from '../../hooks/use-field-errors.ts';
import { useMe } from '../../hooks/use-me.ts';
import { onSubmit } from '../../lib/submit.ts';
import { FormActions } from '../../components/FormActions.tsx';

const TTLS = [
  { value: 'default', label: 'Default lifetime (from config)' },
  { value: String(86_400), label: '1 day' },
  { value: String(7 * 86_400), label: '7 days' },
  { value: String(30 * 86_400), label: '30 days' },
  { value: String(90 * 86_400), label: '90 days' },
  { value: String(365 * 86_400), label: '1 year' },
];
const FIELDS = ['/name', '/scopes', '/ttl_seconds'];

/** Mints a token for yourself with scopes you hold; the secret is shown once, then the modal forgets it. */
export function CreateTokenModal({ opened, onClose }: { opened: boolean; onClose: () => void }) {
  const me = useMe();
  const queryClient = useQueryClient();
  const [name, setName] = useState('');
  const [ttl, setTtl] = useState<string | null>('default');
  const [scopes, setScopes] = useState<Permission[]>([]);
  const [minted, setMinted] = useState<TokenWithSecret | null>(null);
  const create = useMutation({
    mutationFn: () =>
      unwrap(
        api.POST('/api/tokens', {
          body: { name, scopes, ...(ttl && ttl !== 'default' ? { ttl_seconds: Number(ttl) } : {}) },
        }),
      ),
    onSuccess: async (token) => {
      setMinted(token);
      await queryClient.invalidateQueries({ queryKey: ['tokens'] });
    },
  });
  const close = () => {
    setMinted(null);
    setName('');
    setScopes([]);
    create.reset();
    onClose();
  };
  const errors = fieldErrors(create.error, FIELDS);
  return (
    <Modal
      opened={opened}
      onClose={close}
      title={minted ? `Token “${minted.name}” created` : 'New token'}
      size="lg"
      closeOnClickOutside={!minted}
    >
      {minted ? (
        <Stack>
          <SecretOnce secret={minted.secret} what="token" />
          <Group justify="flex-end">
            <Button onClick={close}>I have copied it</Button>
          </Group>
        </Stack>
      ) : (
        <form onSubmit={onSubmit(() => create.mutate())} aria-label="New token">
          <Stack>
            <TextInput
              label="Name"
              description="What uses it, e.g. “CI deploy”."
              required
              value={name}
              onChange={(e) => setName(e.currentTarget.value)}
              error={errors.of('/name')}
              data-autofocus
            />
            <Select
              label="Expires after"
              data={TTLS}
              value={ttl}
              onChange={setTtl}
              allowDeselect={false}
              error={errors.of('/ttl_seconds')}
            />
            <Text size="sm" fw={500}>
              Scopes
            </Text>
            <Text size="xs" c="dimmed">
              Only scopes you hold can be given; the rest are disabled.
            </Text>
            <PermissionMatrix
              label="Scopes"
              value={scopes}
              onChange={setScopes}
              grantable={me.data?.scopes}
            />
            {errors.of('/scopes') && (
              <Text c="red" size="sm">
                {errors.of('/scopes')}
              </Text>
            )}
            <ProblemAlert error={create.error} shownFields={FIELDS} />
            <FormActions
              submit="Create token"
              pending={create.isPending}
              onCancel={close}
              disabled={scopes.length === 0}
            />
          </Stack>
        </form>
      )}
    </Modal>
  );
}

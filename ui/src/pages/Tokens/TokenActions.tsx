import { Button, Group, Modal, Select, Stack, Text } from '@mantine/core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import type { Token } from '@gatehouse/client';
import { api, unwrap } from '../../api.ts';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { SecretOnce } from '../../components/SecretOnce.tsx';

const GRACE = [
  { value: '0', label: 'None: the old secret stops now' },
  { value: String(3600), label: '1 hour' },
  { value: String(86_400), label: '24 hours' },
  { value: String(7 * 86_400), label: '7 days (the maximum)' },
];

/** Rotation: a new secret now, the old one valid for the chosen grace period. */
export function RotateTokenModal({ token, onClose }: { token: Token; onClose: () => void }) {
  const queryClient = useQueryClient();
  const [grace, setGrace] = useState<string | null>('3600');
  const rotate = useMutation({
    mutationFn: () =>
      unwrap(
        api.POST('/api/tokens/{id}/rotate', {
          params: { path: { id: token.id } },
          body: { grace_seconds: Number(grace ?? 0) },
        }),
      ),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['tokens'] }),
  });
  return (
    <Modal opened onClose={onClose} title={`Rotate “${token.name}”`} closeOnClickOutside={!rotate.data}>
      {rotate.data ? (
        <Stack>
          <SecretOnce secret={rotate.data.secret} what="new token" />
          <Group justify="flex-end">
            <Button onClick={onClose}>I have copied it</Button>
          </Group>
        </Stack>
      ) : (
        <Stack>
          <Text size="sm">
            Rotation issues a new secret. Keep the old one working for a while so callers can switch without
            downtime.
          </Text>
          <Select
            label="Grace period for the old secret"
            data={GRACE}
            value={grace}
            onChange={setGrace}
            allowDeselect={false}
          />
          <ProblemAlert error={rotate.error} />
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button loading={rotate.isPending} onClick={() => rotate.mutate()}>
              Rotate
            </Button>
          </Group>
        </Stack>
      )}
    </Modal>
  );
}

/** Revocation: at once, for every caller using it. */
export function RevokeTokenModal({ token, onClose }: { token: Token; onClose: () => void }) {
  const queryClient = useQueryClient();
  const revoke = useMutation({
    mutationFn: () => unwrap(api.DELETE('/api/tokens/{id}', { params: { path: { id: token.id } } })),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: ['tokens'] });
      onClose();
    },
  });
  return (
    <Modal opened onClose={onClose} title={`Revoke “${token.name}”?`}>
      <Stack>
        <Text size="sm">Every request with this token is refused from now on. This cannot be undone.</Text>
        <ProblemAlert error={revoke.error} />
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>
            Cancel
          </Button>
          <Button color="red" loading={revoke.isPending} onClick={() => revoke.mutate()}>
            Revoke token
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}

import { Button, Group, Modal, Stack, Text, type ButtonProps } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import type { ReactNode } from 'react';
import { ProblemAlert } from './ProblemAlert.tsx';

type Props = ButtonProps & {
  label: string;
  title: string;
  message: ReactNode;
  confirmLabel?: string;
  onConfirm: () => Promise<unknown>;
  pending: boolean;
  error: unknown;
};

/** A button that asks before doing something that cannot be undone, and shows why it failed if it does. */
export function ConfirmButton({
  label,
  title,
  message,
  confirmLabel,
  onConfirm,
  pending,
  error,
  ...button
}: Props) {
  const [opened, { open, close }] = useDisclosure();
  return (
    <>
      <Button color="red" variant="light" {...button} onClick={open}>
        {label}
      </Button>
      <Modal opened={opened} onClose={close} title={title}>
        <Stack>
          <Text size="sm">{message}</Text>
          <ProblemAlert error={error} />
          <Group justify="flex-end">
            <Button variant="default" onClick={close}>
              Cancel
            </Button>
            <Button
              color="red"
              loading={pending}
              onClick={() => void onConfirm().then(close, () => undefined)}
            >
              {confirmLabel ?? label}
            </Button>
          </Group>
        </Stack>
      </Modal>
    </>
  );
}

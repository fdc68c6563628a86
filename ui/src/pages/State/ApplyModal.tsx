import { Alert, Button, Group, Modal, Stack, Text } from '@mantine/core';
import type { Counts } from './document.ts';

type Props = {
  summary: string;
  counts: Counts;
  pending: boolean;
  onCancel: () => void;
  onConfirm: () => void;
};

/** The last look before an apply: what it will do, counted, and that it is all or nothing. */
export function ApplyModal({ summary, counts, pending, onCancel, onConfirm }: Props) {
  return (
    <Modal opened onClose={onCancel} title="Apply this plan?">
      <Stack>
        <Text size="sm">
          This plan makes {summary}. Applying it makes them all in one change: every one of them, or none. If
          the state has changed since the plan, nothing is applied.
        </Text>
        {counts.delete > 0 && (
          <Alert color="red" title={`${counts.delete} item${counts.delete === 1 ? '' : 's'} will be deleted`}>
            Deleted items are gone; their audit events remain.
          </Alert>
        )}
        <Group justify="flex-end">
          <Button variant="default" onClick={onCancel}>
            Cancel
          </Button>
          <Button color={counts.delete > 0 ? 'red' : undefined} onClick={onConfirm} loading={pending}>
            Apply
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}

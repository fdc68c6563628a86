import { Button, Group } from '@mantine/core';

type Props = { submit: string; pending: boolean; onCancel: () => void; disabled?: boolean };

/** A dialog form's footer: Cancel, and the submit button that shows the request in flight. */
export function FormActions({ submit, pending, onCancel, disabled = false }: Props) {
  return (
    <Group justify="flex-end">
      <Button variant="default" onClick={onCancel}>
        Cancel
      </Button>
      <Button type="submit" loading={pending} disabled={disabled}>
        {submit}
      </Button>
    </Group>
  );
}

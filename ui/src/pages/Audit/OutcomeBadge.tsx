import { Badge } from '@mantine/core';

const COLORS = { success: 'teal', denied: 'orange', error: 'red' } as const;

export function OutcomeBadge({ outcome }: { outcome: keyof typeof COLORS }) {
  return (
    <Badge size="sm" variant="light" color={COLORS[outcome]}>
      {outcome}
    </Badge>
  );
}

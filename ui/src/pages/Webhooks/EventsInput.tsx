import { TagsInput } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { api, unwrap } from '../../api.ts';

/** Event types to subscribe to, suggested from the catalogue; `*` and `<resource>.*` patterns are allowed. */
export function EventsInput({
  value,
  onChange,
  error,
}: {
  value: string[];
  onChange: (v: string[]) => void;
  error?: string | undefined;
}) {
  const types = useQuery({
    queryKey: ['event-types'],
    queryFn: () => unwrap(api.GET('/api/events/types')),
    staleTime: Infinity,
  });
  const names = types.data?.data.map((t) => t.type) ?? [];
  const resources = [...new Set(names.map((n) => `${n.split('.')[0] ?? ''}.*`))];
  return (
    <TagsInput
      label="Events"
      description="Exact types, a resource's every event (user.*), or everything (*)."
      required
      data={['*', ...resources, ...names]}
      value={value}
      onChange={onChange}
      error={error}
      clearable
    />
  );
}

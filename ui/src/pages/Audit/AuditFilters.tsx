import { Button, Grid, Select, TextInput } from '@mantine/core';
import { useEffect, useState } from 'react';
import { onSubmit } from '../../lib/submit.ts';

export const FILTER_KEYS = ['action', 'actor', 'target', 'outcome', 'since', 'until'] as const;
export type Filters = Record<(typeof FILTER_KEYS)[number], string>;

/** The audit filters; applied on submit so typing does not fire a query per key. */
export function AuditFilters({ value, onChange }: { value: Filters; onChange: (f: Filters) => void }) {
  const [draft, setDraft] = useState(value);
  const serialized = JSON.stringify(value);
  useEffect(() => setDraft(JSON.parse(serialized) as Filters), [serialized]);
  const set = (key: keyof Filters) => (e: { currentTarget: { value: string } }) =>
    setDraft({ ...draft, [key]: e.currentTarget.value });
  const empty = Object.fromEntries(Object.keys(value).map((k) => [k, ''])) as Filters;
  return (
    <form onSubmit={onSubmit(() => onChange(draft))} aria-label="Filters">
      <Grid mb="md" align="flex-end">
        <Grid.Col span={{ base: 12, sm: 6, lg: 3 }}>
          <TextInput
            label="Action"
            placeholder="user.*, token.create, delete"
            value={draft.action}
            onChange={set('action')}
          />
        </Grid.Col>
        <Grid.Col span={{ base: 12, sm: 6, lg: 2 }}>
          <TextInput
            label="Actor"
            placeholder="system or user_…"
            value={draft.actor}
            onChange={set('actor')}
          />
        </Grid.Col>
        <Grid.Col span={{ base: 12, sm: 6, lg: 2 }}>
          <TextInput
            label="Target id"
            placeholder="user_…, role_…"
            value={draft.target}
            onChange={set('target')}
          />
        </Grid.Col>
        <Grid.Col span={{ base: 12, sm: 6, lg: 1.5 }}>
          <Select
            label="Outcome"
            data={['success', 'denied', 'error']}
            value={draft.outcome || null}
            onChange={(v) => setDraft({ ...draft, outcome: v ?? '' })}
            clearable
            placeholder="Any"
          />
        </Grid.Col>
        <Grid.Col span={{ base: 6, lg: 1.5 }}>
          <TextInput label="Since" type="datetime-local" value={draft.since} onChange={set('since')} />
        </Grid.Col>
        <Grid.Col span={{ base: 6, lg: 1.5 }}>
          <TextInput label="Until" type="datetime-local" value={draft.until} onChange={set('until')} />
        </Grid.Col>
        <Grid.Col span={{ base: 12, lg: 0.5 }} style={{ display: 'flex', gap: 8 }}>
          <Button type="submit">Apply</Button>
          <Button variant="subtle" onClick={() => onChange(empty)}>
            Clear
          </Button>
        </Grid.Col>
      </Grid>
    </form>
  );
}

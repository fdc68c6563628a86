import { Badge, Box, Group, Paper, Stack, Switch, Text, Title } from '@mantine/core';
import { useState } from 'react';
import { JsonDiff } from '../../components/JsonDiff.tsx';
import { beforeAfter, countOps, currentItem, OPS, type Op } from './document.ts';
import type { PlanChange } from './use-state.ts';

export const OP_COLOR: Record<Op, string> = {
  create: 'teal',
  update: 'blue',
  delete: 'red',
  unchanged: 'gray',
};

const KIND_TITLE: Record<string, string> = {
  role: 'Roles',
  assignment: 'Role assignments',
  user: 'Users',
  webhook: 'Webhooks',
  plugin: 'Plugins',
  provider: 'Identity providers',
  stream: 'Audit streams',
  settings: 'Settings',
};

/** Badges with how many items each op touches; ops with none are left out. */
export function OpCounts({ changes }: { changes: readonly PlanChange[] }) {
  const counts = countOps(changes);
  return (
    <Group gap={6}>
      {OPS.filter((op) => counts[op] > 0).map((op) => (
        <Badge key={op} color={OP_COLOR[op]} variant={op === 'unchanged' ? 'outline' : 'light'}>
          {counts[op]} {op}
        </Badge>
      ))}
    </Group>
  );
}

/** One change's fields, before and after (as the Config page shows a change): what an update, a create or a delete does. */
function ChangeDetail({ change, current }: { change: PlanChange; current: Current }) {
  if (change.op === 'unchanged') return null;
  const { before, after } = beforeAfter(change, currentItem(current, change.kind, change.key));
  return (
    <Box ml="lg" my={4}>
      <JsonDiff label={`Fields of ${change.kind} ${change.key}`} before={before} after={after} />
    </Box>
  );
}

function KindGroup({
  kind,
  changes,
  showUnchanged,
  current,
}: {
  kind: string;
  changes: PlanChange[];
  showUnchanged: boolean;
  current: Current;
}) {
  const title = KIND_TITLE[kind] ?? kind;
  const visible = showUnchanged ? changes : changes.filter((c) => c.op !== 'unchanged');
  return (
    <Paper withBorder p="sm" component="section" aria-label={title}>
      <Group justify="space-between" mb={visible.length ? 'xs' : 0}>
        <Title order={4}>{title}</Title>
        <OpCounts changes={changes} />
      </Group>
      <Stack gap={4} role="list">
        {visible.map((c) => (
          <div
            key={`${c.op}:${c.key}`}
            role="listitem"
            aria-label={`${c.op} ${c.kind} ${c.key}`}
            data-op={c.op}
          >
            <Group gap="xs" wrap="nowrap">
              <Badge
                size="sm"
                w={90}
                color={OP_COLOR[c.op]}
                variant={c.op === 'unchanged' ? 'outline' : 'light'}
              >
                {c.op}
              </Badge>
              <Text size="sm" style={{ wordBreak: 'break-all' }}>
                {c.kind} <strong>{c.key}</strong>
              </Text>
            </Group>
            <ChangeDetail change={c} current={current} />
          </div>
        ))}
      </Stack>
    </Paper>
  );
}

/** The current export, to show what an update changes from (null when it could not be read). */
export type Current = Record<string, unknown> | null;

/** The plan grouped by kind, in the order the server lists kinds, with counts; unchanged items on request. */
export function PlanView({ changes, current }: { changes: readonly PlanChange[]; current: Current }) {
  const [showUnchanged, setShowUnchanged] = useState(false);
  const groups = new Map<string, PlanChange[]>();
  for (const c of changes) groups.set(c.kind, [...(groups.get(c.kind) ?? []), c]);
  return (
    <Stack>
      <Group justify="space-between">
        <OpCounts changes={changes} />
        <Switch
          label="Show unchanged items"
          checked={showUnchanged}
          onChange={(e) => setShowUnchanged(e.currentTarget.checked)}
        />
      </Group>
      {changes.length === 0 && (
        <Text size="sm" c="dimmed">
          The document lists nothing to compare.
        </Text>
      )}
      {[...groups].map(([kind, list]) => (
        <KindGroup key={kind} kind={kind} changes={list} showUnchanged={showUnchanged} current={current} />
      ))}
    </Stack>
  );
}

import { Badge, Code, Group, Paper, Stack, Switch, Table, Text, Title } from '@mantine/core';
import { useState } from 'react';
import { countOps, OPS, type Op } from './document.ts';
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

const show = (v: unknown) => (v === undefined ? '' : JSON.stringify(v));
const field = (path: string) => path.split('/').slice(1).join(' › ').replace(/~1/g, '/').replace(/~0/g, '~');

/** One change's field-level detail: what an update sets, adds or removes; what a create sets. */
function ChangeDetail({ change }: { change: PlanChange }) {
  let rows: { path: string; what: string; value?: unknown }[] = [];
  if (change.op === 'update') {
    rows = change.diff.map((d) => ({
      path: d.path,
      what: d.op === 'replace' ? 'set to' : d.op === 'add' ? 'added' : 'removed',
      value: d.value,
    }));
  } else if (change.op === 'create') {
    const item = change.diff[0]?.value;
    if (item && typeof item === 'object' && !Array.isArray(item))
      rows = Object.entries(item as Record<string, unknown>).map(([k, v]) => ({
        path: `/${k}`,
        what: 'set to',
        value: v,
      }));
  }
  if (rows.length === 0) return null;
  return (
    <Table fz="xs" withRowBorders={false} aria-label={`Fields of ${change.kind} ${change.key}`} ml="lg">
      <Table.Tbody>
        {rows.map((r) => (
          <Table.Tr key={r.path}>
            <Table.Td w="30%">
              <Code>{field(r.path) || '(whole item)'}</Code>
            </Table.Td>
            <Table.Td w={80}>
              <Text size="xs" c="dimmed">
                {r.what}
              </Text>
            </Table.Td>
            <Table.Td style={{ wordBreak: 'break-all' }} ff="monospace">
              {show(r.value)}
            </Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

function KindGroup({
  kind,
  changes,
  showUnchanged,
}: {
  kind: string;
  changes: PlanChange[];
  showUnchanged: boolean;
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
            <ChangeDetail change={c} />
          </div>
        ))}
      </Stack>
    </Paper>
  );
}

/** The plan grouped by kind, in the order the server lists kinds, with counts; unchanged items on request. */
export function PlanView({ changes }: { changes: readonly PlanChange[] }) {
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
        <KindGroup key={kind} kind={kind} changes={list} showUnchanged={showUnchanged} />
      ))}
    </Stack>
  );
}

import { Code, Table, Text } from '@mantine/core';

type Flat = Map<string, unknown>;

function flatten(value: unknown, path = '', out: Flat = new Map()): Flat {
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0) {
    for (const [k, v] of Object.entries(value)) flatten(v, `${path}/${k}`, out);
  } else if (path) {
    out.set(path, value);
  }
  return out;
}

const show = (v: unknown) => (v === undefined ? '' : JSON.stringify(v));

/** The fields that differ between two JSON values, by JSON Pointer: removed in red, added in green. */
export function diffRows(
  before: unknown,
  after: unknown,
): { path: string; before: unknown; after: unknown }[] {
  const a = flatten(before);
  const b = flatten(after);
  const paths = [...new Set([...a.keys(), ...b.keys()])].sort();
  return paths
    .filter((p) => show(a.get(p)) !== show(b.get(p)))
    .map((p) => ({ path: p, before: a.get(p), after: b.get(p) }));
}

/** A before/after table; `label` names it for screen readers. */
export function JsonDiff({ before, after, label }: { before: unknown; after: unknown; label: string }) {
  const rows = diffRows(before, after);
  if (rows.length === 0)
    return (
      <Text size="sm" c="dimmed">
        No differences.
      </Text>
    );
  return (
    <Table aria-label={label} withTableBorder fz="xs" layout="fixed">
      <Table.Thead>
        <Table.Tr>
          <Table.Th w="30%">Field</Table.Th>
          <Table.Th>Before</Table.Th>
          <Table.Th>After</Table.Th>
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {rows.map((r) => (
          <Table.Tr key={r.path}>
            <Table.Td>
              <Code>{r.path}</Code>
            </Table.Td>
            <Table.Td
              bg={r.before === undefined ? undefined : 'var(--mantine-color-red-light)'}
              style={{ wordBreak: 'break-all' }}
            >
              {show(r.before)}
            </Table.Td>
            <Table.Td
              bg={r.after === undefined ? undefined : 'var(--mantine-color-green-light)'}
              style={{ wordBreak: 'break-all' }}
            >
              {show(r.after)}
            </Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

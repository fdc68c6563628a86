import { Checkbox, Switch, Table, Text, Tooltip } from '@mantine/core';
import type { Permission } from '@gatehouse/client';
import { holds } from '../hooks/use-me.ts';

export const RESOURCES = [
  'users',
  'roles',
  'tokens',
  'plugins',
  'config',
  'audit',
  'webhooks',
  'auth',
] as const;
const LEVELS = ['read', 'write'] as const;

type Props = {
  value: readonly string[];
  onChange: (next: Permission[]) => void;
  /** The signer's own scopes: nobody grants what they do not hold, so the rest are disabled. */
  grantable: readonly string[] | undefined;
  readOnly?: boolean;
  label: string;
};

/** Resources × read/write as checkboxes, plus "everything" (`*`). */
export function PermissionMatrix({ value, onChange, grantable, readOnly = false, label }: Props) {
  const all = value.includes('*');
  const toggle = (scope: Permission, on: boolean) => {
    const rest = value.filter((p) => p !== scope) as Permission[];
    onChange(on ? [...rest, scope] : rest);
  };
  const lock = (scope: Permission) => readOnly || !holds(grantable, scope);
  return (
    <>
      <Switch
        mb="sm"
        label="Everything (*): every permission, now and in the future"
        checked={all}
        disabled={lock('*')}
        onChange={(e) => onChange(e.currentTarget.checked ? ['*'] : [])}
      />
      <Table withTableBorder aria-label={label} maw={420}>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Resource</Table.Th>
            {LEVELS.map((l) => (
              <Table.Th key={l}>{l}</Table.Th>
            ))}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {RESOURCES.map((r) => (
            <Table.Tr key={r}>
              <Table.Td>
                <Text size="sm" fw={500}>
                  {r}
                </Text>
              </Table.Td>
              {LEVELS.map((l) => {
                const scope = `${r}:${l}` as Permission;
                const box = (
                  <Checkbox
                    aria-label={scope}
                    checked={all || value.includes(scope)}
                    disabled={all || lock(scope)}
                    onChange={(e) => toggle(scope, e.currentTarget.checked)}
                  />
                );
                return (
                  <Table.Td key={l}>
                    {!readOnly && !holds(grantable, scope) ? (
                      <Tooltip label={`You do not hold ${scope}`}>
                        <span>{box}</span>
                      </Tooltip>
                    ) : (
                      box
                    )}
                  </Table.Td>
                );
              })}
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </>
  );
}

import {
  ActionIcon,
  Button,
  Code,
  Group,
  Modal,
  MultiSelect,
  PasswordInput,
  Select,
  Stack,
  Switch,
  TagsInput,
  Text,
  TextInput,
} from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import type { AuthProvider } from '@gatehouse/client';
import { api, unwrap } from '../../api.ts';
import { ConfirmButton } from '../../components/ConfirmButton.tsx';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { fieldErrors } from '../../hooks/use-field-errors.ts';
import { onSubmit } from '../../lib/submit.ts';

export type Provider = AuthProvider;
type Rule = Provider['role_mapping'][number];
type RuleRow = { claim: string; op: 'contains' | 'equals'; value: string; role: string };

const FIELDS = [
  '/name',
  '/issuer',
  '/client_id',
  '/client_secret',
  '/scopes',
  '/email_domains',
  '/default_roles',
];

const toRow = (r: Rule): RuleRow =>
  'contains' in r
    ? { claim: r.claim, op: 'contains', value: r.contains, role: r.role }
    : { claim: r.claim, op: 'equals', value: r.equals, role: r.role };
const fromRow = (r: RuleRow): Rule =>
  r.op === 'contains'
    ? { claim: r.claim, contains: r.value, role: r.role }
    : { claim: r.claim, equals: r.value, role: r.role };

/** Creating or editing a provider; the client secret is write-only (left empty, the stored one stays). */
export function ProviderModal({
  provider,
  canWrite,
  onClose,
}: {
  provider: Provider | null;
  canWrite: boolean;
  onClose: () => void;
}) {
  const queryClient = useQueryClient();
  const [form, setForm] = useState({
    name: provider?.name ?? '',
    issuer: provider?.issuer ?? '',
    client_id: provider?.client_id ?? '',
    client_secret: '',
    scopes: provider?.scopes ?? ['openid', 'email', 'profile'],
    jit: provider?.jit ?? false,
    default_roles: provider?.default_roles ?? [],
    email_domains: provider?.email_domains ?? [],
    enabled: provider?.enabled ?? true,
  });
  const [rules, setRules] = useState<RuleRow[]>((provider?.role_mapping ?? []).map(toRow));
  const roles = useQuery({
    queryKey: ['roles', 'names'],
    queryFn: () => unwrap(api.GET('/api/roles', { params: { query: { limit: 100 } } })),
  });
  const roleNames = (roles.data?.data ?? []).map((r) => r.name);
  const set = <K extends keyof typeof form>(key: K, value: (typeof form)[K]) =>
    setForm({ ...form, [key]: value });
  const body = () => ({
    name: form.name,
    issuer: form.issuer,
    client_id: form.client_id,
    ...(form.client_secret ? { client_secret: form.client_secret } : {}),
    scopes: form.scopes,
    role_mapping: rules.map(fromRow),
    jit: form.jit,
    default_roles: form.default_roles,
    email_domains: form.email_domains.length ? form.email_domains : null,
    enabled: form.enabled,
  });
  const done = async () => {
    await queryClient.invalidateQueries({ queryKey: ['auth-providers'] });
    onClose();
  };
  const save = useMutation({
    mutationFn: () =>
      provider
        ? unwrap(api.PUT('/api/auth/providers/{id}', { params: { path: { id: provider.id } }, body: body() }))
        : unwrap(api.POST('/api/auth/providers', { body: { ...body(), client_secret: form.client_secret } })),
    onSuccess: done,
  });
  const remove = useMutation({
    mutationFn: () =>
      unwrap(api.DELETE('/api/auth/providers/{id}', { params: { path: { id: provider?.id ?? '' } } })),
    onSuccess: done,
  });
  const errors = fieldErrors(save.error, FIELDS);
  const redirectUri = provider ? `${window.location.origin}${provider.redirect_path}` : null;
  return (
    <Modal opened onClose={onClose} title={provider ? provider.name : 'New identity provider'} size="lg">
      <form onSubmit={onSubmit(() => save.mutate())} aria-label="Identity provider">
        <Stack>
          <TextInput
            label="Name"
            required
            value={form.name}
            onChange={(e) => set('name', e.currentTarget.value)}
            error={errors.of('/name')}
            disabled={!canWrite}
          />
          <TextInput
            label="Issuer URL"
            description="The provider's issuer; Gatehouse reads its /.well-known/openid-configuration."
            required
            placeholder="https://login.example.com/realms/main"
            value={form.issuer}
            onChange={(e) => set('issuer', e.currentTarget.value)}
            error={errors.of('/issuer')}
            disabled={!canWrite}
          />
          <Group grow>
            <TextInput
              label="Client ID"
              required
              value={form.client_id}
              onChange={(e) => set('client_id', e.currentTarget.value)}
              error={errors.of('/client_id')}
              disabled={!canWrite}
            />
            <PasswordInput
              label="Client secret"
              description={
                provider
                  ? provider.client_secret_set
                    ? 'Set. Leave empty to keep it.'
                    : 'Not set.'
                  : 'Stored encrypted; never shown again.'
              }
              required={!provider}
              value={form.client_secret}
              onChange={(e) => set('client_secret', e.currentTarget.value)}
              error={errors.of('/client_secret')}
              disabled={!canWrite}
            />
          </Group>
          {redirectUri && (
            <Text size="xs">
              Redirect URI to register at the provider: <Code>{redirectUri}</Code>
            </Text>
          )}
          <TagsInput
            label="Scopes"
            value={form.scopes}
            onChange={(v) => set('scopes', v)}
            error={errors.of('/scopes')}
            disabled={!canWrite}
          />
          <RoleRules rules={rules} setRules={setRules} roleNames={roleNames} disabled={!canWrite} />
          <Switch
            label="Create people on their first sign-in (just in time)"
            checked={form.jit}
            onChange={(e) => set('jit', e.currentTarget.checked)}
            disabled={!canWrite}
          />
          <MultiSelect
            label="Roles of people created on first sign-in"
            data={roleNames}
            value={form.default_roles}
            onChange={(v) => set('default_roles', v)}
            error={errors.of('/default_roles')}
            disabled={!canWrite || !form.jit}
          />
          <TagsInput
            label="Allowed email domains"
            description="Empty: any. Otherwise only people whose email is at one of these domains may sign in."
            value={form.email_domains}
            onChange={(v) => set('email_domains', v)}
            error={errors.of('/email_domains')}
            disabled={!canWrite}
          />
          <Switch
            label="Enabled"
            checked={form.enabled}
            onChange={(e) => set('enabled', e.currentTarget.checked)}
            disabled={!canWrite}
          />
          <ProblemAlert error={save.error} shownFields={FIELDS} />
          <Group justify="space-between">
            <Group gap="xs">
              {provider && canWrite && (
                <ConfirmButton
                  label="Delete"
                  title={`Delete ${provider.name}?`}
                  message="People can no longer sign in through it; their accounts and roles stay."
                  confirmLabel="Delete"
                  onConfirm={() => remove.mutateAsync()}
                  pending={remove.isPending}
                  error={remove.error}
                />
              )}
              {provider?.enabled && (
                <Button
                  variant="default"
                  component="a"
                  href={`/api/auth/oidc/${provider.id}/start?return_to=%2Flogin`}
                  target="_blank"
                  rel="noreferrer"
                >
                  Test sign-in
                </Button>
              )}
            </Group>
            <Group gap="xs">
              <Button variant="default" onClick={onClose}>
                {canWrite ? 'Cancel' : 'Close'}
              </Button>
              {canWrite && (
                <Button type="submit" loading={save.isPending}>
                  {provider ? 'Save' : 'Create'}
                </Button>
              )}
            </Group>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

/** Claim rules: `groups contains "platform-admins" → admin`, one row each. */
function RoleRules({
  rules,
  setRules,
  roleNames,
  disabled,
}: {
  rules: RuleRow[];
  setRules: (rules: RuleRow[]) => void;
  roleNames: string[];
  disabled: boolean;
}) {
  const update = (i: number, patch: Partial<RuleRow>) =>
    setRules(rules.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  return (
    <Stack gap={4} aria-label="Role rules">
      <Text size="sm" fw={500}>
        Roles from claims
      </Text>
      <Text size="xs" c="dimmed">
        Checked at every sign-in: a role a rule names is given while its rule matches and taken away when it
        no longer does. Roles no rule names are left alone.
      </Text>
      {rules.map((r, i) => (
        <Group key={i} gap="xs" wrap="nowrap">
          <TextInput
            aria-label="Claim"
            placeholder="groups"
            value={r.claim}
            onChange={(e) => update(i, { claim: e.currentTarget.value })}
            disabled={disabled}
          />
          <Select
            aria-label="Operator"
            data={['contains', 'equals']}
            value={r.op}
            onChange={(v) => update(i, { op: v === 'equals' ? 'equals' : 'contains' })}
            w={110}
            disabled={disabled}
          />
          <TextInput
            aria-label="Value"
            placeholder="platform-admins"
            value={r.value}
            onChange={(e) => update(i, { value: e.currentTarget.value })}
            disabled={disabled}
          />
          <Text size="sm">→</Text>
          <Select
            aria-label="Role"
            data={roleNames}
            value={r.role || null}
            onChange={(v) => update(i, { role: v ?? '' })}
            w={140}
            disabled={disabled}
          />
          <ActionIcon
            variant="subtle"
            color="red"
            aria-label="Remove rule"
            onClick={() => setRules(rules.filter((_, j) => j !== i))}
            disabled={disabled}
          >
            ×
          </ActionIcon>
        </Group>
      ))}
      {!disabled && (
        <Button
          size="xs"
          variant="subtle"
          onClick={() => setRules([...rules, { claim: 'groups', op: 'contains', value: '', role: '' }])}
          w="fit-content"
        >
          Add rule
        </Button>
      )}
    </Stack>
  );
}

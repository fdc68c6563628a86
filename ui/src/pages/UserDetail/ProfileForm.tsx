import { Button, Group, PasswordInput, Stack, Switch, TextInput, Title } from '@mantine/core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { onSubmit } from '../../lib/submit.ts';
import type { UpdateUserBody, User } from '@gatehouse/client';
import { api, unwrap } from '../../api.ts';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { fieldErrors } from '../../hooks/use-field-errors.ts';

function useUpdateUser(id: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (body: UpdateUserBody) =>
      unwrap(api.PUT('/api/users/{id}', { params: { path: { id } }, body })),
    onSuccess: (user) => {
      queryClient.setQueryData(['users', id], user);
      return queryClient.invalidateQueries({ queryKey: ['users'], exact: false });
    },
  });
}

const PROFILE = ['/username', '/display_name', '/email', '/disabled'];

/** Username, display name, email and the disabled switch; PUT sends only what changed. */
export function ProfileForm({ user, readOnly }: { user: User; readOnly: boolean }) {
  const [form, setForm] = useState({
    username: user.username,
    display_name: user.display_name ?? '',
    email: user.email ?? '',
    disabled: user.disabled,
  });
  const update = useUpdateUser(user.id);
  const errors = fieldErrors(update.error, PROFILE);
  const submit = onSubmit(() => {
    const body: UpdateUserBody = {};
    if (form.username !== user.username) body.username = form.username;
    if (form.display_name !== (user.display_name ?? '')) body.display_name = form.display_name || null;
    if (form.email !== (user.email ?? '')) body.email = form.email || null;
    if (form.disabled !== user.disabled) body.disabled = form.disabled;
    update.mutate(body);
  });
  return (
    <form onSubmit={submit} aria-label="Profile">
      <Stack>
        <Title order={4}>Profile</Title>
        <TextInput
          label="Username"
          value={form.username}
          onChange={(e) => setForm({ ...form, username: e.currentTarget.value })}
          error={errors.of('/username')}
          readOnly={readOnly}
        />
        <TextInput
          label="Display name"
          value={form.display_name}
          onChange={(e) => setForm({ ...form, display_name: e.currentTarget.value })}
          error={errors.of('/display_name')}
          readOnly={readOnly}
        />
        <TextInput
          label="Email"
          type="email"
          value={form.email}
          onChange={(e) => setForm({ ...form, email: e.currentTarget.value })}
          error={errors.of('/email')}
          readOnly={readOnly}
        />
        <Switch
          label="Disabled (cannot sign in; its tokens stop working)"
          checked={form.disabled}
          onChange={(e) => setForm({ ...form, disabled: e.currentTarget.checked })}
          disabled={readOnly}
        />
        <ProblemAlert error={update.error} shownFields={PROFILE} />
        {!readOnly && (
          <Group justify="flex-end">
            {update.isSuccess && <span role="status">Saved</span>}
            <Button type="submit" loading={update.isPending}>
              Save profile
            </Button>
          </Group>
        )}
      </Stack>
    </form>
  );
}

/** Sets (or clears) the password a human signs in with. */
export function PasswordForm({ user }: { user: User }) {
  const [password, setPassword] = useState('');
  const update = useUpdateUser(user.id);
  const submit = onSubmit(() => {
    update.mutate({ password }, { onSuccess: () => setPassword('') });
  });
  return (
    <form onSubmit={submit} aria-label="Password">
      <Stack>
        <Title order={4}>Password</Title>
        <PasswordInput
          label="New password"
          value={password}
          onChange={(e) => setPassword(e.currentTarget.value)}
          error={fieldErrors(update.error, ['/password']).of('/password')}
          autoComplete="new-password"
          required
        />
        <ProblemAlert error={update.error} shownFields={['/password']} />
        <Group justify="flex-end">
          {update.isSuccess && <span role="status">Password set</span>}
          <Button type="submit" variant="light" loading={update.isPending}>
            Set password
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

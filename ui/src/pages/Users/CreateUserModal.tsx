import { Modal, PasswordInput, SegmentedControl, Stack, TextInput } from '@mantine/core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { onSubmit } from '../../lib/submit.ts';
import type { CreateUserBody, User } from '@gatehouse/client';
import { api, unwrap } from '../../api.ts';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { fieldErrors } from '../../hooks/use-field-errors.ts';
import { FormActions } from '../../components/FormActions.tsx';

const FIELDS = ['/username', '/display_name', '/email', '/password', '/kind'];
const empty = {
  username: '',
  display_name: '',
  email: '',
  password: '',
  kind: 'human' as 'human' | 'service',
};

/** Creates a user; the API's field errors appear next to their fields. */
export function CreateUserModal({
  opened,
  onClose,
  onCreated,
}: {
  opened: boolean;
  onClose: () => void;
  onCreated: (u: User) => void;
}) {
  const [form, setForm] = useState(empty);
  const queryClient = useQueryClient();
  const create = useMutation({
    mutationFn: () => {
      const body: CreateUserBody = { username: form.username, kind: form.kind };
      if (form.display_name) body.display_name = form.display_name;
      if (form.email) body.email = form.email;
      if (form.password && form.kind === 'human') body.password = form.password;
      return unwrap(api.POST('/api/users', { body }));
    },
    onSuccess: async (user) => {
      await queryClient.invalidateQueries({ queryKey: ['users'] });
      setForm(empty);
      onCreated(user);
    },
  });
  const errors = fieldErrors(create.error, FIELDS);
  const set = (key: keyof typeof empty) => (e: { currentTarget: { value: string } }) =>
    setForm({ ...form, [key]: e.currentTarget.value });
  const submit = onSubmit(() => {
    create.mutate();
  });
  return (
    <Modal opened={opened} onClose={onClose} title="New user">
      <form onSubmit={submit} aria-label="New user">
        <Stack>
          <SegmentedControl<'human' | 'service'>
            aria-label="Kind"
            value={form.kind}
            onChange={(kind) => setForm({ ...form, kind })}
            data={[
              { value: 'human', label: 'Human' },
              { value: 'service', label: 'Service account' },
            ]}
          />
          <TextInput
            label="Username"
            required
            value={form.username}
            onChange={set('username')}
            error={errors.of('/username')}
            data-autofocus
          />
          <TextInput
            label="Display name"
            value={form.display_name}
            onChange={set('display_name')}
            error={errors.of('/display_name')}
          />
          <TextInput
            label="Email"
            type="email"
            value={form.email}
            onChange={set('email')}
            error={errors.of('/email')}
          />
          {form.kind === 'human' && (
            <PasswordInput
              label="Password"
              description="Optional: without one, the user cannot sign in to the console."
              value={form.password}
              onChange={set('password')}
              error={errors.of('/password')}
              autoComplete="new-password"
            />
          )}
          <ProblemAlert error={create.error} shownFields={FIELDS} />
          <FormActions submit="Create user" pending={create.isPending} onCancel={onClose} />
        </Stack>
      </form>
    </Modal>
  );
}

import {
  Autocomplete,
  Button,
  Group,
  Modal,
  SegmentedControl,
  Stack,
  Switch,
  Textarea,
  TextInput,
} from '@mantine/core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import type { Plugin, PluginWithSecret, RegisterPluginBody } from '@gatehouse/client';
import { api, unwrap } from '../../api.ts';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { SecretOnce } from '../../components/SecretOnce.tsx';
import { fieldErrors } from '../../hooks/use-field-errors.ts';
import { onSubmit } from '../../lib/submit.ts';
import { FormActions } from '../../components/FormActions.tsx';

const SHIPPED = ['username-policy', 'email-domain-allowlist', 'audit-forwarder'];
const MANIFEST = JSON.stringify(
  { name: 'my-plugin', version: '1.0.0', hooks: { before: ['user.create'] } },
  null,
  2,
);
const FIELDS = ['/name', '/url', '/manifest'];

type Props = { opened: boolean; onClose: () => void; onRegistered: (p: Plugin) => void };

/** Registers a module installed on the server (by name) or a remote http plugin (URL and manifest). */
export function RegisterPluginModal({ opened, onClose, onRegistered }: Props) {
  const queryClient = useQueryClient();
  const [kind, setKind] = useState<'module' | 'http'>('module');
  const [name, setName] = useState('');
  const [url, setUrl] = useState('');
  const [manifest, setManifest] = useState(MANIFEST);
  const [enabled, setEnabled] = useState(true);
  const [created, setCreated] = useState<PluginWithSecret | null>(null);
  const register = useMutation({
    mutationFn: () => {
      const body: RegisterPluginBody =
        kind === 'module'
          ? { kind, name, enabled }
          : { kind, url, manifest: JSON.parse(manifest) as never, enabled };
      return unwrap(api.POST('/api/plugins', { body }));
    },
    onSuccess: async (plugin) => {
      await queryClient.invalidateQueries({ queryKey: ['plugins'] });
      if (plugin.secret) setCreated(plugin);
      else finish(plugin);
    },
  });
  const finish = (plugin: Plugin) => {
    setCreated(null);
    setName('');
    register.reset();
    onClose();
    onRegistered(plugin);
  };
  const errors = fieldErrors(register.error, FIELDS);
  return (
    <Modal opened={opened} onClose={onClose} title="Register plugin" size="lg">
      {created?.secret ? (
        <Stack>
          <SecretOnce secret={created.secret} what="signing secret" />
          <Group justify="flex-end">
            <Button onClick={() => finish(created)}>I have copied it</Button>
          </Group>
        </Stack>
      ) : (
        <form onSubmit={onSubmit(() => register.mutate())} aria-label="Register plugin">
          <Stack>
            <SegmentedControl<'module' | 'http'>
              aria-label="Kind"
              value={kind}
              onChange={setKind}
              data={[
                { value: 'module', label: 'Installed module' },
                { value: 'http', label: 'Remote (http)' },
              ]}
            />
            {kind === 'module' ? (
              <Autocomplete
                label="Module name"
                placeholder="e.g. username-policy"
                description="A plugin shipped with Gatehouse or a folder under PLUGINS_DIR."
                data={SHIPPED}
                required
                value={name}
                onChange={setName}
                error={errors.of('/name')}
              />
            ) : (
              <>
                <TextInput
                  label="URL"
                  placeholder="https://policy.internal/gatehouse"
                  required
                  value={url}
                  onChange={(e) => setUrl(e.currentTarget.value)}
                  error={errors.of('/url')}
                />
                <Textarea
                  label="Manifest (JSON)"
                  autosize
                  minRows={6}
                  ff="monospace"
                  value={manifest}
                  onChange={(e) => setManifest(e.currentTarget.value)}
                  error={errors.of('/manifest')}
                />
              </>
            )}
            <Switch
              label="Enable at once"
              checked={enabled}
              onChange={(e) => setEnabled(e.currentTarget.checked)}
            />
            <ProblemAlert error={register.error} shownFields={FIELDS} />
            <FormActions submit="Register" pending={register.isPending} onCancel={onClose} />
          </Stack>
        </form>
      )}
    </Modal>
  );
}

import {
  Anchor,
  Breadcrumbs,
  Button,
  Grid,
  Group,
  Loader,
  Modal,
  Paper,
  Stack,
  Switch,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import type { Webhook } from '@gatehouse/client';
import { api, unwrap } from '../../api.ts';
import { ConfirmButton } from '../../components/ConfirmButton.tsx';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { SecretOnce } from '../../components/SecretOnce.tsx';
import { fieldErrors } from '../../hooks/use-field-errors.ts';
import { useCan } from '../../hooks/use-me.ts';
import { onSubmit } from '../../lib/submit.ts';
import { EndpointStatus } from '../Webhooks/index.tsx';
import { EventsInput } from '../Webhooks/EventsInput.tsx';
import { Deliveries } from './Deliveries.tsx';

/** One endpoint: its settings, a test event, secret rotation, and every delivery with its attempts. */
export default function WebhookDetail() {
  const { id = '' } = useParams();
  const webhook = useQuery({
    queryKey: ['webhooks', id],
    queryFn: () => unwrap(api.GET('/api/webhooks/{id}', { params: { path: { id } } })),
  });
  if (webhook.isLoading) return <Loader />;
  if (!webhook.data) return <ProblemAlert error={webhook.error} />;
  return <WebhookView key={webhook.data.updated_at} webhook={webhook.data} />;
}

const FIELDS = ['/url', '/events', '/description', '/enabled'];

function WebhookView({ webhook }: { webhook: Webhook }) {
  const can = useCan();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [form, setForm] = useState({
    url: webhook.url,
    description: webhook.description,
    events: webhook.events,
    enabled: webhook.enabled,
  });
  const save = useMutation({
    mutationFn: () =>
      unwrap(api.PUT('/api/webhooks/{id}', { params: { path: { id: webhook.id } }, body: form })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['webhooks'] }),
  });
  const test = useMutation({
    mutationFn: () => unwrap(api.POST('/api/webhooks/{id}/test', { params: { path: { id: webhook.id } } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['webhooks', webhook.id, 'deliveries'] }),
  });
  const rotate = useMutation({
    mutationFn: () =>
      unwrap(api.POST('/api/webhooks/{id}/rotate-secret', { params: { path: { id: webhook.id } } })),
  });
  const remove = useMutation({
    mutationFn: () => unwrap(api.DELETE('/api/webhooks/{id}', { params: { path: { id: webhook.id } } })),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: ['webhooks'] });
      await navigate('/webhooks');
    },
  });
  const writable = can('webhooks:write');
  const errors = fieldErrors(save.error, FIELDS);
  return (
    <Stack>
      <Breadcrumbs>
        <Anchor component={Link} to="/webhooks">
          Webhooks
        </Anchor>
        <Text>{webhook.url}</Text>
      </Breadcrumbs>
      <Group justify="space-between">
        <Group gap="sm">
          <Title order={3} ff="monospace">
            {webhook.url}
          </Title>
          <EndpointStatus webhook={webhook} />
        </Group>
        {writable && (
          <Group>
            <Button variant="light" onClick={() => test.mutate()} loading={test.isPending}>
              Send test event
            </Button>
            <ConfirmButton
              label="Rotate secret"
              color="orange"
              title="Rotate the signing secret?"
              message="A new secret signs deliveries from now on; the old one also signs them for 24 hours, so the receiver can switch without failures."
              confirmLabel="Rotate"
              onConfirm={() => rotate.mutateAsync()}
              pending={rotate.isPending}
              error={rotate.error}
            />
            <ConfirmButton
              label="Delete"
              title="Delete this endpoint?"
              message="It receives nothing more, and its delivery history is deleted."
              onConfirm={() => remove.mutateAsync()}
              pending={remove.isPending}
              error={remove.error}
            />
          </Group>
        )}
      </Group>
      <ProblemAlert error={test.error} />
      {test.data && (
        <Text size="sm" role="status">
          Test event queued (delivery {test.data.delivery_id}).
        </Text>
      )}
      {rotate.data && (
        <Modal opened onClose={() => rotate.reset()} title="New signing secret">
          <SecretOnce secret={rotate.data.secret} what="signing secret" />
        </Modal>
      )}
      <Grid>
        <Grid.Col span={{ base: 12, lg: 4 }}>
          <Paper withBorder p="md">
            <form onSubmit={onSubmit(() => save.mutate())} aria-label="Endpoint settings">
              <Stack>
                <TextInput
                  label="URL"
                  value={form.url}
                  onChange={(e) => setForm({ ...form, url: e.currentTarget.value })}
                  error={errors.of('/url')}
                  readOnly={!writable}
                />
                <EventsInput
                  value={form.events}
                  onChange={(events) => setForm({ ...form, events })}
                  error={errors.of('/events')}
                />
                <TextInput
                  label="Description"
                  value={form.description}
                  onChange={(e) => setForm({ ...form, description: e.currentTarget.value })}
                  readOnly={!writable}
                />
                <Switch
                  label="Enabled"
                  checked={form.enabled}
                  onChange={(e) => setForm({ ...form, enabled: e.currentTarget.checked })}
                  disabled={!writable}
                />
                {webhook.disabled_reason && (
                  <Text size="sm" c="red">
                    Disabled: {webhook.disabled_reason}
                  </Text>
                )}
                <ProblemAlert error={save.error} shownFields={FIELDS} />
                {writable && (
                  <Group justify="flex-end">
                    {save.isSuccess && <span role="status">Saved</span>}
                    <Button type="submit" loading={save.isPending}>
                      Save
                    </Button>
                  </Group>
                )}
              </Stack>
            </form>
          </Paper>
        </Grid.Col>
        <Grid.Col span={{ base: 12, lg: 8 }}>
          <Paper withBorder p="md">
            <Title order={4} mb="sm">
              Deliveries
            </Title>
            <Deliveries webhookId={webhook.id} />
          </Paper>
        </Grid.Col>
      </Grid>
    </Stack>
  );
}

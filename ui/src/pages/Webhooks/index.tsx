import { Badge, Button, Group, Modal, Stack, Text, TextInput } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useNavigate } from 'react-router';
import type { Webhook, WebhookWithSecret } from '@gatehouse/client';
import { api, unwrap } from '../../api.ts';
import { CursorTable, type Column } from '../../components/CursorTable.tsx';
import { PageHeader } from '../../components/PageHeader.tsx';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { SecretOnce } from '../../components/SecretOnce.tsx';
import { Time } from '../../components/Time.tsx';
import { useCursorList } from '../../hooks/use-cursor-list.ts';
import { fieldErrors } from '../../hooks/use-field-errors.ts';
import { useCan } from '../../hooks/use-me.ts';
import { onSubmit } from '../../lib/submit.ts';
import { EventsInput } from './EventsInput.tsx';
import { FormActions } from '../../components/FormActions.tsx';

export function EndpointStatus({ webhook }: { webhook: Webhook }) {
  if (!webhook.enabled)
    return <Badge color="gray">{webhook.disabled_reason ? 'disabled: failing' : 'disabled'}</Badge>;
  if (webhook.failing_since)
    return (
      <Badge color="red" variant="light">
        failing
      </Badge>
    );
  return (
    <Badge color="teal" variant="light">
      healthy
    </Badge>
  );
}

const columns: Column<Webhook>[] = [
  {
    key: 'url',
    header: 'Endpoint',
    cell: (w) => (
      <>
        <Text size="sm" fw={500} ff="monospace">
          {w.url}
        </Text>
        {w.description && (
          <Text size="xs" c="dimmed">
            {w.description}
          </Text>
        )}
      </>
    ),
  },
  {
    key: 'events',
    header: 'Events',
    cell: (w) => (
      <Group gap={4}>
        {w.events.map((e) => (
          <Badge key={e} size="xs" variant="outline">
            {e}
          </Badge>
        ))}
      </Group>
    ),
  },
  { key: 'status', header: 'Status', cell: (w) => <EndpointStatus webhook={w} /> },
  { key: 'created', header: 'Created', cell: (w) => <Time value={w.created_at} /> },
];

/** Webhook endpoints: where events go, and whether they arrive. */
export default function Webhooks() {
  const can = useCan();
  const navigate = useNavigate();
  const [creating, create] = useDisclosure();
  const list = useCursorList(['webhooks'], (cursor) =>
    unwrap(api.GET('/api/webhooks', { params: { query: { limit: 100, ...(cursor ? { cursor } : {}) } } })),
  );
  return (
    <>
      <PageHeader
        title="Webhooks"
        description="Signed (Standard Webhooks) deliveries of every change to the endpoints you register, retried with back-off."
        actions={can('webhooks:write') && <Button onClick={create.open}>New endpoint</Button>}
      />
      <CursorTable
        label="Webhook endpoints"
        list={list}
        columns={columns}
        rowKey={(w) => w.id}
        onRowClick={(w) => void navigate(`/webhooks/${w.id}`)}
        empty="No endpoints yet."
      />
      {creating && (
        <CreateWebhookModal onClose={create.close} onDone={(w) => void navigate(`/webhooks/${w.id}`)} />
      )}
    </>
  );
}

const FIELDS = ['/url', '/events', '/description'];

function CreateWebhookModal({ onClose, onDone }: { onClose: () => void; onDone: (w: Webhook) => void }) {
  const queryClient = useQueryClient();
  const [url, setUrl] = useState('');
  const [description, setDescription] = useState('');
  const [events, setEvents] = useState<string[]>(['*']);
  const [created, setCreated] = useState<WebhookWithSecret | null>(null);
  const create = useMutation({
    mutationFn: () =>
      unwrap(api.POST('/api/webhooks', { body: { url, events, ...(description ? { description } : {}) } })),
    onSuccess: async (w) => {
      setCreated(w);
      await queryClient.invalidateQueries({ queryKey: ['webhooks'] });
    },
  });
  const errors = fieldErrors(create.error, FIELDS);
  return (
    <Modal
      opened
      onClose={onClose}
      title={created ? 'Endpoint created' : 'New webhook endpoint'}
      size="lg"
      closeOnClickOutside={!created}
    >
      {created ? (
        <Stack>
          <SecretOnce secret={created.secret} what="signing secret" />
          <Text size="sm">
            Verify each delivery's <code>webhook-signature</code> with it (any Standard Webhooks library
            does).
          </Text>
          <Group justify="flex-end">
            <Button onClick={() => onDone(created)}>I have copied it</Button>
          </Group>
        </Stack>
      ) : (
        <form onSubmit={onSubmit(() => create.mutate())} aria-label="New webhook endpoint">
          <Stack>
            <TextInput
              label="URL"
              placeholder="https://example.com/hooks/gatehouse"
              required
              value={url}
              onChange={(e) => setUrl(e.currentTarget.value)}
              error={errors.of('/url')}
              data-autofocus
            />
            <EventsInput value={events} onChange={setEvents} error={errors.of('/events')} />
            <TextInput
              label="Description"
              value={description}
              onChange={(e) => setDescription(e.currentTarget.value)}
              error={errors.of('/description')}
            />
            <ProblemAlert error={create.error} shownFields={FIELDS} />
            <FormActions submit="Create endpoint" pending={create.isPending} onCancel={onClose} />
          </Stack>
        </form>
      )}
    </Modal>
  );
}

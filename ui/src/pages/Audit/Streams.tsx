import { Badge, Button, Group, Modal, NumberInput, Stack, Text, TextInput, Title } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import type { AuditStream, AuditStreamWithSecret } from '@gatehouse/client';
import { api, unwrap } from '../../api.ts';
import { ConfirmButton } from '../../components/ConfirmButton.tsx';
import { CursorTable, type Column } from '../../components/CursorTable.tsx';
import { FormActions } from '../../components/FormActions.tsx';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { SecretOnce } from '../../components/SecretOnce.tsx';
import { useCursorList } from '../../hooks/use-cursor-list.ts';
import { fieldErrors } from '../../hooks/use-field-errors.ts';
import { useCan } from '../../hooks/use-me.ts';
import { onSubmit } from '../../lib/submit.ts';

const KEY = ['audit-streams'];

/** Pause or resume, and delete: the row's own buttons (audit:write). */
function StreamActions({ stream }: { stream: AuditStream }) {
  const queryClient = useQueryClient();
  const refresh = () => queryClient.invalidateQueries({ queryKey: KEY });
  const path = { params: { path: { id: stream.id } } };
  const toggle = useMutation({
    mutationFn: () =>
      stream.status === 'active'
        ? unwrap(api.PUT('/api/audit/streams/{id}', { ...path, body: { status: 'paused' } }))
        : unwrap(api.POST('/api/audit/streams/{id}/resume', { ...path, body: {} })),
    onSuccess: refresh,
  });
  const remove = useMutation({
    mutationFn: () => unwrap(api.DELETE('/api/audit/streams/{id}', path)),
    onSuccess: refresh,
  });
  return (
    <Group gap="xs" wrap="nowrap">
      <Button size="xs" variant="default" loading={toggle.isPending} onClick={() => toggle.mutate()}>
        {stream.status === 'active' ? 'Pause' : 'Resume'}
      </Button>
      <ConfirmButton
        size="xs"
        label="Delete"
        title={`Delete the stream ${stream.name}?`}
        message="Its receiver gets no more events. A new stream can start again from any seq."
        onConfirm={() => remove.mutateAsync()}
        pending={remove.isPending}
        error={remove.error}
      />
      <ProblemAlert error={toggle.error} />
    </Group>
  );
}

function columns(canWrite: boolean): Column<AuditStream>[] {
  const cols: Column<AuditStream>[] = [
    {
      key: 'name',
      header: 'Stream',
      cell: (s) => (
        <>
          <Text size="sm" fw={500}>
            {s.name}
          </Text>
          <Text size="xs" c="dimmed" ff="monospace">
            {s.url}
          </Text>
        </>
      ),
    },
    { key: 'actions', header: 'Actions', cell: (s) => <Text size="xs">{s.actions.join(', ')}</Text> },
    {
      key: 'status',
      header: 'Status',
      cell: (s) => (
        <Badge color={s.status === 'active' ? 'teal' : 'orange'} variant="light">
          {s.status}
        </Badge>
      ),
    },
    { key: 'lag', header: 'Lag', width: 80, cell: (s) => <Text size="sm">{s.lag}</Text> },
    {
      key: 'error',
      header: 'Last error',
      cell: (s) =>
        s.last_error && (
          <Text size="xs" c="red">
            {s.last_error}
          </Text>
        ),
    },
  ];
  if (canWrite) cols.push({ key: 'do', header: '', cell: (s) => <StreamActions stream={s} /> });
  return cols;
}

/** Audit streams: where the audit log is sent as it grows, how far behind each is, and why one stopped. */
export function Streams() {
  const can = useCan();
  const [creating, create] = useDisclosure();
  const list = useCursorList(
    KEY,
    (cursor) =>
      unwrap(
        api.GET('/api/audit/streams', { params: { query: { limit: 100, ...(cursor ? { cursor } : {}) } } }),
      ),
    { refetchEvery: () => 5000 },
  );
  return (
    <Stack mb="md" gap="xs">
      <Group justify="space-between">
        <Title order={4}>Streams</Title>
        {can('audit:write') && (
          <Button size="xs" onClick={create.open}>
            New stream
          </Button>
        )}
      </Group>
      <CursorTable
        label="Audit streams"
        list={list}
        columns={columns(can('audit:write'))}
        rowKey={(s) => s.id}
        empty="No streams: create one to send the audit log, as signed NDJSON in seq order, to a receiver."
      />
      {creating && <CreateStreamModal onClose={create.close} />}
    </Stack>
  );
}

const FIELDS = ['/name', '/url', '/actions', '/from_seq'];

function CreateStreamModal({ onClose }: { onClose: () => void }) {
  const queryClient = useQueryClient();
  const [name, setName] = useState('');
  const [url, setUrl] = useState('');
  const [actions, setActions] = useState('');
  const [fromSeq, setFromSeq] = useState<number | string>('');
  const [created, setCreated] = useState<AuditStreamWithSecret | null>(null);
  const create = useMutation({
    mutationFn: () => {
      const list = actions
        .split(',')
        .map((a) => a.trim())
        .filter(Boolean);
      return unwrap(
        api.POST('/api/audit/streams', {
          body: {
            name,
            url,
            ...(list.length ? { actions: list } : {}),
            ...(typeof fromSeq === 'number' ? { from_seq: fromSeq } : {}),
          },
        }),
      );
    },
    onSuccess: async (s) => {
      setCreated(s);
      await queryClient.invalidateQueries({ queryKey: KEY });
    },
  });
  const errors = fieldErrors(create.error, FIELDS);
  return (
    <Modal
      opened
      onClose={onClose}
      title={created ? 'Stream created' : 'New audit stream'}
      size="lg"
      closeOnClickOutside={!created}
    >
      {created ? (
        <Stack>
          <SecretOnce secret={created.secret} what="signing secret" />
          <Text size="sm">
            Each batch carries <code>webhook-signature</code> over its NDJSON body: verify it with this secret
            (any Standard Webhooks library does).
          </Text>
          <Group justify="flex-end">
            <Button onClick={onClose}>I have copied it</Button>
          </Group>
        </Stack>
      ) : (
        <form onSubmit={onSubmit(() => create.mutate())} aria-label="New audit stream">
          <Stack>
            <TextInput
              label="Name"
              required
              value={name}
              onChange={(e) => setName(e.currentTarget.value)}
              error={errors.of('/name')}
              data-autofocus
            />
            <TextInput
              label="Receiver URL"
              placeholder="https://siem.example.com/gatehouse"
              required
              value={url}
              onChange={(e) => setUrl(e.currentTarget.value)}
              error={errors.of('/url')}
            />
            <TextInput
              label="Actions"
              description="Comma list as in the filter: user.create, user.*, create. Empty: every event."
              value={actions}
              onChange={(e) => setActions(e.currentTarget.value)}
              error={errors.of('/actions')}
            />
            <NumberInput
              label="From seq"
              description="Empty: from the next event on."
              min={0}
              value={fromSeq}
              onChange={setFromSeq}
              error={errors.of('/from_seq')}
            />
            <ProblemAlert error={create.error} shownFields={FIELDS} />
            <FormActions submit="Create stream" pending={create.isPending} onCancel={onClose} />
          </Stack>
        </form>
      )}
    </Modal>
  );
}

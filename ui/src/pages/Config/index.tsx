import { Badge, Button, Group, Loader, Paper, Tabs, Text } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useQuery } from '@tanstack/react-query';
import { lazy, Suspense, useEffect, useState } from 'react';
import type { ConfigDocument } from '@gatehouse/client';
import { api, unwrap } from '../../api.ts';
import { diffRows } from '../../components/JsonDiff.tsx';
import { PageHeader } from '../../components/PageHeader.tsx';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { SchemaFields, type JsonSchema } from '../../components/SchemaForm.tsx';
import { fieldErrors } from '../../hooks/use-field-errors.ts';
import { useCan } from '../../hooks/use-me.ts';
import { setAt } from '../../lib/json-pointer.ts';
import { History } from './History.tsx';
import { ReviewModal } from './ReviewModal.tsx';
import { useConfig, useConfigSchema } from './use-config.ts';

// CodeMirror is only fetched when the JSON tab is opened.
const JsonEditor = lazy(async () => ({ default: (await import('./JsonEditor.tsx')).JsonEditor }));

/** The settings: a form and a JSON editor over one draft, checked by the server as you type, saved after a diff. */
export default function Config() {
  const config = useConfig();
  const schema = useConfigSchema();
  if (config.isLoading || schema.isLoading) return <Loader />;
  if (!config.data || !schema.data) return <ProblemAlert error={config.error ?? schema.error} />;
  return (
    <ConfigEditor
      loaded={config.data}
      schema={schema.data}
      refetch={async () => (await config.refetch()).data}
    />
  );
}

type Loaded = { document: ConfigDocument; etag: string | undefined };

function ConfigEditor({
  loaded,
  schema,
  refetch,
}: {
  loaded: Loaded;
  schema: JsonSchema;
  refetch: () => Promise<Loaded | undefined>;
}) {
  const can = useCan();
  const [base, setBase] = useState(loaded);
  const [draft, setDraft] = useState<unknown>(loaded.document);
  const [editorKey, setEditorKey] = useState(0);
  const [reviewing, setReviewing] = useState(false);
  const [saved, setSaved] = useState<number | null>(null);
  const changed = diffRows(base.document, draft).length > 0;
  const reset = (next: Loaded, doc: unknown = next.document) => {
    setBase(next);
    setDraft(doc);
    setEditorKey((k) => k + 1);
  };
  // A rollback (or a save elsewhere that this tab re-read) replaces an unedited form.
  useEffect(() => {
    if (!changed && loaded.etag !== base.etag) reset(loaded);
  }, [loaded, base.etag, changed]);

  const [pending] = useDebouncedValue(draft, 400);
  const check = useQuery({
    queryKey: ['config', 'dry-run', base.etag, pending],
    queryFn: () =>
      unwrap(
        api.PUT('/api/config', {
          body: pending as ConfigDocument,
          params: { query: { dry_run: true }, header: base.etag ? { 'if-match': base.etag } : {} },
        }),
      ),
    enabled: changed && can('config:write'),
    retry: false,
  });
  const errors = fieldErrors(check.error, []);
  const rebase = async () => {
    const latest = await refetch();
    if (!latest) return;
    let next: unknown = latest.document;
    for (const row of diffRows(base.document, draft)) next = setAt(next, row.path, row.after);
    setReviewing(false);
    reset(latest, next);
  };
  return (
    <>
      <PageHeader
        title="Config"
        description="Rate limits, token and session lifetimes, password policy, audit retention and webhook defaults. Changes apply at once."
        actions={
          can('config:write') && (
            <Group>
              {saved !== null && !changed && (
                <Text size="sm" c="teal" role="status">
                  Saved as version {saved}
                </Text>
              )}
              {changed && (
                <Button variant="subtle" onClick={() => reset(base)}>
                  Discard
                </Button>
              )}
              <Button disabled={!changed || check.isError} onClick={() => setReviewing(true)}>
                Review changes
              </Button>
            </Group>
          )
        }
      />
      {changed && (
        <Group mb="sm" gap="xs" role="status" aria-live="polite">
          {check.isFetching ? (
            <>
              <Loader size="xs" />
              <Text size="sm">Checking against the schema…</Text>
            </>
          ) : check.isError ? (
            <Badge color="red">Invalid</Badge>
          ) : check.data ? (
            <Badge color="teal">Valid · {check.data.diff.length} change(s)</Badge>
          ) : null}
        </Group>
      )}
      {check.isError && <ProblemAlert error={check.error} />}
      <Tabs defaultValue="form" keepMounted={false}>
        <Tabs.List mb="md">
          <Tabs.Tab value="form">Form</Tabs.Tab>
          <Tabs.Tab value="json">JSON</Tabs.Tab>
          <Tabs.Tab value="history">History</Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="form">
          <Paper withBorder p="md" maw={760}>
            <SchemaFields
              key={editorKey}
              schema={schema}
              value={draft as Record<string, unknown>}
              onChange={setDraft}
              errorOf={errors.of}
            />
          </Paper>
        </Tabs.Panel>
        <Tabs.Panel value="json">
          <Suspense fallback={<Loader />}>
            <JsonEditor key={editorKey} value={draft} onChange={setDraft} />
          </Suspense>
        </Tabs.Panel>
        <Tabs.Panel value="history">
          <History etag={base.etag} />
        </Tabs.Panel>
      </Tabs>
      {reviewing && (
        <ReviewModal
          base={base.document}
          draft={draft}
          etag={base.etag}
          onClose={() => setReviewing(false)}
          onRebase={() => void rebase()}
          onSaved={(version) => {
            setReviewing(false);
            setSaved(version);
            void refetch().then((l) => l && reset(l));
          }}
        />
      )}
    </>
  );
}

import {
  Button,
  Code,
  CopyButton,
  Group,
  Loader,
  Paper,
  ScrollArea,
  SegmentedControl,
  Switch,
  Text,
} from '@mantine/core';
import { useState } from 'react';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { useCan } from '../../hooks/use-me.ts';
import { download } from './document.ts';
import { useExport, type Format } from './use-state.ts';

const FILE: Record<Format, { name: string; type: string }> = {
  json: { name: 'gatehouse-state.json', type: 'application/json' },
  yaml: { name: 'gatehouse-state.yaml', type: 'application/yaml' },
};

/** The current state as one document, to read, copy or save; nothing secret is in it. */
export function Export() {
  const can = useCan();
  const [format, setFormat] = useState<Format>('json');
  const [includeUsers, setIncludeUsers] = useState(false);
  const doc = useExport(format, includeUsers);
  return (
    <>
      <Group justify="space-between" align="flex-end" mb="md" wrap="wrap">
        <Group gap="lg" align="center">
          <SegmentedControl<Format>
            aria-label="Format"
            value={format}
            onChange={setFormat}
            data={[
              { value: 'json', label: 'JSON' },
              { value: 'yaml', label: 'YAML' },
            ]}
          />
          <Switch
            label="Include users"
            description={can('users:read') ? 'Usernames, emails, kinds; never passwords' : 'Needs users:read'}
            checked={includeUsers}
            disabled={!can('users:read')}
            onChange={(e) => setIncludeUsers(e.currentTarget.checked)}
          />
        </Group>
        <Group gap="sm">
          <CopyButton value={doc.data ?? ''}>
            {({ copied, copy }) => (
              <Button
                variant="default"
                onClick={copy}
                disabled={!doc.data}
                color={copied ? 'teal' : undefined}
              >
                {copied ? 'Copied' : 'Copy'}
              </Button>
            )}
          </CopyButton>
          <Button
            onClick={() => doc.data && download(doc.data, FILE[format].name, FILE[format].type)}
            disabled={!doc.data}
          >
            Download {FILE[format].name}
          </Button>
        </Group>
      </Group>
      <ProblemAlert error={doc.error} title="The export failed" />
      {doc.isLoading && <Loader />}
      {doc.data !== undefined && (
        <Paper withBorder role="region" aria-label="Exported document">
          <ScrollArea.Autosize mah="65vh" tabIndex={0}>
            <Code block fz="xs" data-format={format}>
              {doc.data}
            </Code>
          </ScrollArea.Autosize>
        </Paper>
      )}
      <Text size="xs" c="dimmed" mt="xs">
        Every item is keyed by its name (a webhook by its URL). Secrets are never exported: set them again
        where they are needed.
      </Text>
    </>
  );
}

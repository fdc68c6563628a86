import { Button, Group, Loader, Text } from '@mantine/core';
import { useState } from 'react';
import type { AuditQuery } from '@gatehouse/client';
import { api, ApiProblem, unwrap } from '../../api.ts';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';

type Format = 'ndjson' | 'csv';

/** Streams the current filter's events (NDJSON or CSV), counting them as they arrive, then saves the file. */
export function ExportButton({ query }: { query: AuditQuery }) {
  const [progress, setProgress] = useState<number | null>(null);
  const [error, setError] = useState<unknown>(null);
  const run = async (format: Format) => {
    setError(null);
    setProgress(0);
    try {
      const stream = await unwrap(
        api.GET('/api/audit/export', { params: { query: { ...query, format } }, parseAs: 'stream' }),
      );
      if (!stream)
        throw new ApiProblem({ type: 'about:blank', title: 'Empty export', status: 0, code: 'empty' });
      const reader = stream.getReader();
      const chunks: Uint8Array[] = [];
      let lines = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
        for (const byte of value) if (byte === 10) lines++;
        setProgress(lines);
      }
      const url = URL.createObjectURL(
        new Blob(chunks as BlobPart[], { type: format === 'csv' ? 'text/csv' : 'application/x-ndjson' }),
      );
      const a = document.createElement('a');
      a.href = url;
      a.download = `gatehouse-audit-${new Date().toISOString().replace(/[:.]/g, '-')}.${format}`;
      a.click();
      URL.revokeObjectURL(url);
    } catch (err) {
      setError(err);
    } finally {
      setProgress(null);
    }
  };
  return (
    <Group gap="xs">
      {progress !== null && (
        <Group gap={6} role="status">
          <Loader size="xs" />
          <Text size="sm">{progress.toLocaleString()} events…</Text>
        </Group>
      )}
      <Button variant="default" onClick={() => void run('ndjson')} disabled={progress !== null}>
        Export (NDJSON)
      </Button>
      <Button variant="default" onClick={() => void run('csv')} disabled={progress !== null}>
        Export (CSV)
      </Button>
      {error !== null && <ProblemAlert error={error} title="Export failed" />}
    </Group>
  );
}

import { Alert, Button, Group, Progress, Text } from '@mantine/core';
import { useMutation } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { api, unwrap } from '../../api.ts';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';

/** Checks the hash chain on demand; a long check shows it is running (and for how long), then the verdict. */
export function VerifyChain() {
  const verify = useMutation({ mutationFn: () => unwrap(api.GET('/api/audit/verify')) });
  const [elapsed, setElapsed] = useState(0);
  useEffect(() => {
    if (!verify.isPending) return;
    const started = Date.now();
    const timer = setInterval(() => setElapsed(Math.round((Date.now() - started) / 1000)), 500);
    return () => {
      clearInterval(timer);
      setElapsed(0);
    };
  }, [verify.isPending]);
  const result = verify.data;
  return (
    <Alert
      mb="md"
      variant="light"
      color={!result ? 'gray' : result.status === 'ok' ? 'teal' : 'red'}
      title={!result ? 'Chain verification' : result.status === 'ok' ? 'Chain intact' : 'Chain broken'}
      data-testid="chain-status"
    >
      <Group justify="space-between" wrap="nowrap">
        <div style={{ flex: 1 }}>
          {verify.isPending && (
            <>
              <Text size="sm">Checking every event’s hash… {elapsed > 0 && `${elapsed}s`}</Text>
              <Progress value={100} animated striped mt={6} aria-label="Verifying" />
            </>
          )}
          {result?.status === 'ok' && (
            <Text size="sm">
              {result.checked.toLocaleString()} events checked
              {result.first_seq !== null && ` (#${result.first_seq}–#${result.last_seq})`}; none altered.
            </Text>
          )}
          {result?.status === 'broken' && (
            <Text size="sm">
              The first broken link: {JSON.stringify(result.broken)}. Events from there on cannot be trusted.
            </Text>
          )}
          {!result && !verify.isPending && !verify.error && (
            <Text size="sm">Recompute the hash chain to prove no event was altered or removed.</Text>
          )}
          <ProblemAlert error={verify.error} />
        </div>
        <Button variant="default" onClick={() => verify.mutate()} loading={verify.isPending}>
          Verify chain
        </Button>
      </Group>
    </Alert>
  );
}

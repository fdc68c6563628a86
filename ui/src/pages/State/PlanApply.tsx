import { Alert, Anchor, Button, Code, Group, Stack, Text, Title } from '@mantine/core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useRef, useState } from 'react';
import { Link } from 'react-router';
import { useCan } from '../../hooks/use-me.ts';
import { ApplyModal } from './ApplyModal.tsx';
import { DocumentInput } from './DocumentInput.tsx';
import { countOps, describeCounts, parseDocument } from './document.ts';
import { PlanView } from './PlanView.tsx';
import { StateProblem } from './Problems.tsx';
import { applyState, planState, type Applied, type PlanBody } from './use-state.ts';

/** Paste or upload a document, see what applying it would change, then apply exactly that plan. */
export function PlanApply() {
  const can = useCan();
  const queryClient = useQueryClient();
  const [text, setText] = useState('');
  const [prune, setPrune] = useState(false);
  const [unreadable, setUnreadable] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);
  // The answer appears below a tall editor: bring it into view.
  const results = useRef<HTMLDivElement>(null);
  const reveal = () => setTimeout(() => results.current?.scrollIntoView({ block: 'start' }));
  const plan = useMutation({
    mutationFn: async (body: PlanBody) => ({ body, plan: await planState(body) }),
    onSettled: reveal,
  });
  const apply = useMutation({
    mutationFn: ({ body, snapshot }: { body: PlanBody; snapshot: string }) => applyState(body, snapshot),
    // Whatever the console has cached may have changed: roles, users, settings, webhooks…
    onSuccess: () => queryClient.invalidateQueries(),
    onSettled: () => setConfirming(false),
  });
  const startOver = () => {
    plan.reset();
    apply.reset();
    setUnreadable(null);
  };
  const edit = (next: string) => {
    setText(next);
    startOver();
  };
  const runPlan = async () => {
    startOver();
    const parsed = await parseDocument(text);
    if (!parsed.ok) {
      setUnreadable(parsed.reason);
      reveal();
      return;
    }
    plan.mutate({ document: parsed.document as PlanBody['document'], prune });
  };
  const planAgain = (body: PlanBody) => {
    apply.reset();
    plan.mutate(body);
  };
  const planned = plan.data;
  const counts = planned ? countOps(planned.plan.changes) : null;
  return (
    <Stack>
      <DocumentInput
        text={text}
        onText={edit}
        prune={prune}
        onPrune={(next) => {
          setPrune(next);
          startOver();
        }}
        onPlan={() => void runPlan()}
        planning={plan.isPending}
      />
      <div ref={results} style={{ scrollMarginTop: 72 }} />
      {unreadable && (
        <Alert color="red" title="The document could not be read" role="alert">
          {unreadable}
        </Alert>
      )}
      {plan.error && <StateProblem error={plan.error} document={plan.variables.document} stage="plan" />}
      {apply.data && <AppliedAlert applied={apply.data} canAudit={can('audit:read')} />}
      {apply.error && planned && (
        <StateProblem
          error={apply.error}
          document={planned.body.document}
          stage="apply"
          onPlanAgain={() => planAgain(planned.body)}
        />
      )}
      {planned && counts && (
        <Stack component="section" aria-label="Plan">
          <Group justify="space-between" align="flex-end">
            <Stack gap={0}>
              <Title order={3}>{apply.data ? 'Applied plan' : 'Plan'}</Title>
              <Text size="xs" c="dimmed">
                Against state <Code fz="xs">{planned.plan.snapshot}</Code>
                {planned.body.prune ? ', with prune' : ''}
              </Text>
            </Stack>
            {!apply.data && !apply.error && can('config:write') && (
              <Button
                color={counts.delete > 0 ? 'red' : undefined}
                disabled={counts.create + counts.update + counts.delete === 0}
                onClick={() => setConfirming(true)}
              >
                Apply…
              </Button>
            )}
          </Group>
          {!can('config:write') && (
            <Text size="sm" c="dimmed">
              Applying needs the config:write permission.
            </Text>
          )}
          {counts.create + counts.update + counts.delete === 0 && (
            <Text size="sm" role="status">
              Nothing to apply: the state already matches the document.
            </Text>
          )}
          <PlanView changes={planned.plan.changes} />
        </Stack>
      )}
      {confirming && planned && counts && (
        <ApplyModal
          summary={describeCounts(counts)}
          counts={counts}
          pending={apply.isPending}
          onCancel={() => setConfirming(false)}
          onConfirm={() => apply.mutate({ body: planned.body, snapshot: planned.plan.snapshot })}
        />
      )}
    </Stack>
  );
}

function AppliedAlert({ applied, canAudit }: { applied: Applied; canAudit: boolean }) {
  return (
    <Alert color="teal" title="Applied" role="status">
      <Text size="sm">
        {describeCounts(countOps(applied.changes)).replace(/^./, (c) => c.toUpperCase())}, in one change.
      </Text>
      <Text size="sm" mt={4}>
        Audit event <Code>{applied.event_id}</Code>
        {canAudit && (
          <>
            {' · '}
            <Anchor component={Link} to={`/audit?event=${encodeURIComponent(applied.event_id)}`} size="sm">
              Open in the audit log
            </Anchor>
          </>
        )}
      </Text>
    </Alert>
  );
}

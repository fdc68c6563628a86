import { Alert, Anchor, Button, Code, Group, List, Stack, Text, Title } from '@mantine/core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useRef, useState } from 'react';
import { Link } from 'react-router';
import { ApiProblem } from '../../api.ts';
import { useCan } from '../../hooks/use-me.ts';
import { ApplyModal } from './ApplyModal.tsx';
import { DocumentInput } from './DocumentInput.tsx';
import {
  countOps,
  describeCounts,
  type Counts,
  describePointer,
  envReferences,
  parseDocument,
} from './document.ts';
import { PlanView, type Current } from './PlanView.tsx';
import { StateProblem } from './Problems.tsx';
import { applyState, currentState, planState, type Applied, type Plan, type PlanBody } from './use-state.ts';

type Unreadable = { title: string; reason: string; items: string[] };

/** `${NAME}` references stop the console: only the CLI can fill them in. */
function unresolved(document: Record<string, unknown>): Unreadable | null {
  const refs = envReferences(document);
  if (refs.length === 0) return null;
  return {
    title: 'The document refers to environment variables',
    reason:
      'The command-line tool fills in ${NAME} references from its environment; the console cannot, and would send them as they are written. Put the values themselves in the document, or apply it with the command-line tool.',
    items: refs.map((r) => `${describePointer(document, r.pointer)}: ${r.reference}`),
  };
}

/** Paste or upload a document, see what applying it would change, then apply exactly that plan. */
export function PlanApply() {
  const can = useCan();
  const queryClient = useQueryClient();
  const [text, setText] = useState('');
  const [prune, setPrune] = useState(false);
  const [unreadable, setUnreadable] = useState<Unreadable | null>(null);
  const [confirming, setConfirming] = useState(false);
  // The answer appears below a tall editor: bring it into view.
  const results = useRef<HTMLDivElement>(null);
  const reveal = () => setTimeout(() => results.current?.scrollIntoView({ block: 'start' }));
  const plan = useMutation({
    mutationFn: async (body: PlanBody) => {
      const [planned, current] = await Promise.all([planState(body), currentState(!!body.document.users)]);
      return { body, plan: planned, current };
    },
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
    const refused = parsed.ok
      ? unresolved(parsed.document)
      : { title: 'The document could not be read', reason: parsed.reason, items: [] };
    if (!parsed.ok || refused) {
      setUnreadable(refused);
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
        <Alert color="red" title={unreadable.title} role="alert">
          <Text size="sm">{unreadable.reason}</Text>
          {unreadable.items.length > 0 && (
            <List size="sm" mt={4}>
              {unreadable.items.map((item) => (
                <List.Item key={item}>{item}</List.Item>
              ))}
            </List>
          )}
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
        <PlanSection
          plan={planned.plan}
          current={planned.current}
          prune={planned.body.prune ?? false}
          counts={counts}
          applied={!!apply.data}
          stale={apply.error instanceof ApiProblem && apply.error.status === 412}
          canApply={!apply.data && !apply.error && can('config:write')}
          canWrite={can('config:write')}
          onApply={() => setConfirming(true)}
        />
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

type PlanSectionProps = {
  plan: Plan;
  current: Current;
  prune: boolean;
  counts: Counts;
  applied: boolean;
  stale: boolean;
  canApply: boolean;
  canWrite: boolean;
  onApply: () => void;
};

function PlanSection({
  plan,
  current,
  prune,
  counts,
  applied,
  stale,
  canApply,
  canWrite,
  onApply,
}: PlanSectionProps) {
  const changing = counts.create + counts.update + counts.delete;
  return (
    <Stack component="section" aria-label="Plan">
      <Group justify="space-between" align="flex-end">
        <Stack gap={0}>
          <Title order={3}>{applied ? 'Applied plan' : stale ? 'Plan (out of date)' : 'Plan'}</Title>
          <Text size="xs" c="dimmed">
            Against state <Code fz="xs">{plan.snapshot}</Code>
            {prune ? ', with prune' : ''}
          </Text>
        </Stack>
        {canApply && (
          <Button color={counts.delete > 0 ? 'red' : undefined} disabled={changing === 0} onClick={onApply}>
            Apply…
          </Button>
        )}
      </Group>
      {!canWrite && (
        <Text size="sm" c="dimmed">
          Applying needs the config:write permission.
        </Text>
      )}
      {changing === 0 && (
        <Text size="sm" role="status">
          Nothing to apply: the state already matches the document.
        </Text>
      )}
      <PlanView changes={plan.changes} current={current} />
    </Stack>
  );
}

import { Alert, Button, Code, List, Text } from '@mantine/core';
import { ApiProblem } from '../../api.ts';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { describePointer } from './document.ts';

const TITLES: Record<number, string> = {
  400: 'The document is not valid',
  422: 'The document cannot be applied as it is',
};

/**
 * A plan's or an apply's problem, in the document's words: each field error names the item it is about (and its
 * pointer); a plugin's veto says which plugin and why; a stale plan offers to plan again.
 */
export function StateProblem({
  error,
  document,
  stage,
  onPlanAgain,
}: {
  error: unknown;
  document: unknown;
  stage: 'plan' | 'apply';
  onPlanAgain?: () => void;
}) {
  if (!(error instanceof ApiProblem)) return <ProblemAlert error={error} />;
  const { problem } = error;
  if (problem.status === 412)
    return (
      <Alert
        color="orange"
        title="The state changed since this plan"
        role="alert"
        data-problem-code={problem.code}
      >
        <Text size="sm">
          Someone or something changed the state after the plan was made, so nothing was applied. Plan again
          to see what applying the document would change now, then apply that plan.
        </Text>
        {onPlanAgain && (
          <Button mt="sm" variant="light" color="orange" onClick={onPlanAgain}>
            Plan again
          </Button>
        )}
      </Alert>
    );
  if (problem.code === 'plugin.denied')
    return (
      <Alert color="red" title="A plugin refused this change" role="alert" data-problem-code={problem.code}>
        <Text size="sm">{problem.detail ?? 'A plugin vetoed one of the changes.'}</Text>
        <Text size="sm" mt={4}>
          Nothing was applied. Change the document, or ask whoever runs the plugin, then plan again.
        </Text>
      </Alert>
    );
  const errors = (problem.errors ?? []).filter((e) => e.in === 'body');
  if (errors.length === 0 || !(problem.status in TITLES)) return <ProblemAlert error={error} />;
  return (
    <Alert color="red" title={TITLES[problem.status]} role="alert" data-problem-code={problem.code}>
      <Text size="sm">
        {errors.length === 1 ? 'One thing needs fixing' : `${errors.length} things need fixing`}
        {stage === 'apply' ? '; nothing was applied.' : ', then plan again.'}
      </Text>
      <List size="sm" mt={4} aria-label="Problems in the document">
        {errors.map((e) => (
          <List.Item key={`${e.pointer}:${e.message}`}>
            {describePointer(document, e.pointer)}: {e.message} <Code fz="xs">{e.pointer || '/'}</Code>
          </List.Item>
        ))}
      </List>
    </Alert>
  );
}

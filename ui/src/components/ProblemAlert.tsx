import { Alert, List, Text } from '@mantine/core';
import type { ProblemFieldError } from '@gatehouse/client';
import { ApiProblem } from '../api.ts';

type Props = {
  error: unknown;
  /** Field errors already shown next to their fields; the rest are listed here. */
  shownFields?: readonly string[];
  title?: string;
};

/** An API problem as its title and detail (and the field errors no field shows); any other error as text. */
export function ProblemAlert({ error, shownFields = [], title }: Props) {
  if (!error) return null;
  if (!(error instanceof ApiProblem)) {
    return (
      <Alert color="red" title={title ?? 'Something went wrong'} role="alert">
        {error instanceof Error ? error.message : 'An unexpected error happened.'}
      </Alert>
    );
  }
  const { problem } = error;
  const rest: ProblemFieldError[] = (problem.errors ?? []).filter(
    (e) => !(e.in === 'body' && shownFields.includes(e.pointer)),
  );
  return (
    <Alert
      color={problem.status === 412 ? 'orange' : 'red'}
      title={problem.title}
      role="alert"
      data-problem-code={problem.code}
    >
      {problem.detail && <Text size="sm">{problem.detail}</Text>}
      {problem.required_permission && (
        <Text size="sm">
          Missing permission: <code>{problem.required_permission}</code>
        </Text>
      )}
      {rest.length > 0 && (
        <List size="sm" mt={4}>
          {rest.map((e) => (
            <List.Item key={`${e.in}${e.pointer}`}>
              <code>
                {e.in}
                {e.pointer}
              </code>
              : {e.message}
            </List.Item>
          ))}
        </List>
      )}
      {problem.request_id && (
        <Text size="xs" c="dimmed" mt={4}>
          Request {problem.request_id}
        </Text>
      )}
    </Alert>
  );
}

import { ApiProblem } from '../api.ts';

/**
 * A lookup from a body field's JSON Pointer (`/username`) to the message the API gave for it, so a form shows
 * each error next to its field; `rest` is what no field claims (shown in the form's alert).
 */
export function fieldErrors(error: unknown, fields: readonly string[]) {
  const problem = error instanceof ApiProblem ? error : undefined;
  const errors = problem?.problem.errors ?? [];
  return {
    of: (pointer: string): string | undefined => problem?.fieldError(pointer),
    unclaimed: errors.filter((e) => !(e.in === 'body' && fields.includes(e.pointer))),
  };
}

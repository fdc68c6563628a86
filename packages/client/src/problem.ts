/** One field an API error points at: `in` is the request part, `pointer` a JSON Pointer into it. */
export type ProblemFieldError = {
  in: 'body' | 'query' | 'params' | 'headers';
  pointer: string;
  message: string;
};

/** An RFC 9457 problem as Gatehouse answers it; `code` is stable, branch on it rather than on text. */
export type Problem = {
  type: string;
  title: string;
  status: number;
  detail?: string;
  code: string;
  request_id?: string;
  errors?: ProblemFieldError[];
  required_permission?: string;
  [extension: string]: unknown;
};

/** Every non-2xx answer (and a failed connection, status 0) as one error type. */
export class ApiProblem extends Error {
  readonly problem: Problem;
  constructor(problem: Problem) {
    super(problem.detail ? `${problem.title}: ${problem.detail}` : problem.title);
    this.name = 'ApiProblem';
    this.problem = problem;
  }
  get status(): number {
    return this.problem.status;
  }
  get code(): string {
    return this.problem.code;
  }
  /** The message for a body field (`/username`, `/rate_limits/default/max`), if the problem names one. */
  fieldError(pointer: string): string | undefined {
    return this.problem.errors?.find((e) => e.in === 'body' && e.pointer === pointer)?.message;
  }
}

function isProblem(value: unknown): value is Problem {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Problem).title === 'string' &&
    typeof (value as Problem).status === 'number'
  );
}

/** The problem for an answer whose body was not one (a proxy's HTML page, an empty 502). */
function fallbackProblem(response: Response, body: unknown): Problem {
  const detail = typeof body === 'string' && body.trim() ? body.trim().slice(0, 300) : undefined;
  return {
    type: 'about:blank',
    title: response.statusText || `HTTP ${response.status}`,
    status: response.status,
    code: 'http_error',
    ...(detail ? { detail } : {}),
  };
}

type FetchResult<T> = { data?: T; error?: unknown; response: Response };

/**
 * Waits for an `openapi-fetch` call and returns its data, or throws an `ApiProblem` for a non-2xx answer or
 * a request that never reached the server.
 */
export async function unwrap<T>(call: Promise<FetchResult<T>>): Promise<T> {
  let result: FetchResult<T>;
  try {
    result = await call;
  } catch (err) {
    throw new ApiProblem({
      type: 'about:blank',
      title: 'Network error',
      status: 0,
      code: 'network_error',
      detail: err instanceof Error ? err.message : String(err),
    });
  }
  if (result.response.ok) return result.data as T;
  throw new ApiProblem(
    isProblem(result.error) ? result.error : fallbackProblem(result.response, result.error),
  );
}

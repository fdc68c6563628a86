import { useQuery } from '@tanstack/react-query';
import type { paths } from '@gatehouse/client';
import { api, unwrap } from '../../api.ts';

export type Format = 'json' | 'yaml';
export type PlanBody = paths['/api/plan']['post']['requestBody']['content']['application/json'];
export type Plan = paths['/api/plan']['post']['responses'][200]['content']['application/json'];
export type PlanChange = Plan['changes'][number];

/**
 * The export as text, as the server wrote it: YAML as is, JSON indented (its keys keep the server's sorted
 * order, so equal states still give equal text).
 */
export function useExport(format: Format, includeUsers: boolean) {
  return useQuery({
    queryKey: ['state', 'export', format, includeUsers],
    queryFn: async () => {
      const text = await unwrap(
        api.GET('/api/export', {
          params: { query: includeUsers ? { include: 'users' } : {} },
          headers: { accept: format === 'yaml' ? 'application/yaml' : 'application/json' },
          parseAs: 'text',
        }),
      );
      return format === 'json' ? `${JSON.stringify(JSON.parse(text), null, 2)}\n` : text;
    },
    staleTime: 0,
  });
}

export const planState = (body: PlanBody): Promise<Plan> => unwrap(api.POST('/api/plan', { body }));

/**
 * The current state as an object, read next to a plan to show what its updates change from; null when it cannot
 * be read (the plan then shows only the new values). Users only when the document lists them.
 */
export const currentState = async (includeUsers: boolean): Promise<Record<string, unknown> | null> => {
  const query = includeUsers ? { include: 'users' as const } : {};
  return unwrap(api.GET('/api/export', { params: { query } })).then(
    (doc) => doc as Record<string, unknown>,
    () => null,
  );
};

export type Applied = paths['/api/apply']['post']['responses'][200]['content']['application/json'];

/** Applies the plan's document only if the state is still the one planned against (412 otherwise). */
export const applyState = (body: PlanBody, snapshot: string): Promise<Applied> =>
  unwrap(api.POST('/api/apply', { body, params: { header: { 'if-match': `"${snapshot}"` } } }));

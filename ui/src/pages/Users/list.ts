import { api, unwrap } from '../../api.ts';

export type Kind = 'all' | 'human' | 'service';

/** The users list query, shared by the page and the route loader that starts it while the page's code loads. */
export function usersQuery(q: string, kind: Kind) {
  return {
    queryKey: ['users', { q, kind }] as const,
    fetchPage: (cursor: string | undefined) =>
      unwrap(
        api.GET('/api/users', {
          params: {
            query: {
              limit: 50,
              ...(cursor ? { cursor } : {}),
              ...(q ? { q } : {}),
              ...(kind !== 'all' ? { kind } : {}),
            },
          },
        }),
      ),
  };
}

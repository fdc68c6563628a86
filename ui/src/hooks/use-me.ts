import { useQuery } from '@tanstack/react-query';
import type { Me, Permission } from '@gatehouse/client';
import { api, unwrap } from '../api.ts';

export const meQuery = { queryKey: ['me'], queryFn: () => unwrap(api.GET('/api/me')), staleTime: 60_000 };

/** Who is signed in and the scopes this token may use. */
export function useMe() {
  return useQuery(meQuery);
}

/** Whether these scopes include `scope` (`*` includes everything). */
export function holds(scopes: readonly string[] | undefined, scope: Permission): boolean {
  return !!scopes && (scopes.includes('*') || scopes.includes(scope));
}

/** `can('users:write')` for the signed-in token; false while loading. */
export function useCan(): (scope: Permission) => boolean {
  const me = useMe();
  const scopes: Me['scopes'] | undefined = me.data?.scopes;
  return (scope) => holds(scopes, scope);
}

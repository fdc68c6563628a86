import { useInfiniteQuery, type QueryKey } from '@tanstack/react-query';

export type Page<T> = { data: T[]; next_cursor: string | null };
type Options<T> = { enabled?: boolean; refetchEvery?: (items: T[]) => number | false };

/** A cursor-paginated list: pages fetched one after another, flattened into `items`. */
export function useCursorList<T>(queryKey: QueryKey, fetchPage: (cursor: string | undefined) => Promise<Page<T>>, { enabled = true, refetchEvery }: Options<T> = {}) {
  const query = useInfiniteQuery({
    queryKey,
    queryFn: ({ pageParam }) => fetchPage(pageParam),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.next_cursor ?? undefined,
    enabled,
    refetchInterval: refetchEvery ? (q) => refetchEvery(q.state.data?.pages.flatMap((p) => p.data) ?? []) : false,
  });
  const items = query.data?.pages.flatMap((p) => p.data) ?? [];
  return { ...query, items };
}
export type CursorList<T> = ReturnType<typeof useCursorList<T>>;

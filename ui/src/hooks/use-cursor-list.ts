import { infiniteQueryOptions, useInfiniteQuery, type QueryKey } from '@tanstack/react-query';

export type Page<T> = { data: T[]; next_cursor: string | null };
type Options<T> = { enabled?: boolean; refetchEvery?: (items: T[]) => number | false };

/** The infinite-query options of a cursor-paginated list (also what a route loader prefetches). */
export function cursorListOptions<T, K extends QueryKey>(
  queryKey: K,
  fetchPage: (cursor: string | undefined) => Promise<Page<T>>,
) {
  return infiniteQueryOptions({
    queryKey,
    queryFn: ({ pageParam }) => fetchPage(pageParam),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last: Page<T>) => last.next_cursor ?? undefined,
  });
}

/** A cursor-paginated list: pages fetched one after another, flattened into `items`. */
export function useCursorList<T>(
  queryKey: QueryKey,
  fetchPage: (cursor: string | undefined) => Promise<Page<T>>,
  { enabled = true, refetchEvery }: Options<T> = {},
) {
  const query = useInfiniteQuery({
    ...cursorListOptions(queryKey, fetchPage),
    enabled,
    refetchInterval: refetchEvery
      ? (q) => refetchEvery(q.state.data?.pages.flatMap((p) => p.data) ?? [])
      : false,
  });
  const items = query.data?.pages.flatMap((p) => p.data) ?? [];
  return { ...query, items };
}
export type CursorList<T> = ReturnType<typeof useCursorList<T>>;

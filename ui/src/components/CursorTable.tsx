import { Button, Center, Group, Skeleton, Table, Text } from '@mantine/core';
import { useEffect, useRef, type ReactNode } from 'react';
import type { CursorList } from '../hooks/use-cursor-list.ts';
import { ProblemAlert } from './ProblemAlert.tsx';

export type Column<T> = {
  key: string;
  header: ReactNode;
  cell: (row: T) => ReactNode;
  width?: number | string;
};

type Props<T> = {
  list: CursorList<T>;
  columns: Column<T>[];
  rowKey: (row: T) => string;
  onRowClick?: (row: T) => void;
  empty: ReactNode;
  label: string;
  /** Load the next page when the end of the table scrolls into view. */
  infinite?: boolean;
};

/** A table over a cursor-paginated list with loading, empty and error states and "load more" (or infinite scroll). */
export function CursorTable<T>({
  list,
  columns,
  rowKey,
  onRowClick,
  empty,
  label,
  infinite = false,
}: Props<T>) {
  const sentinel = useRef<HTMLDivElement>(null);
  const { hasNextPage, isFetchingNextPage, fetchNextPage } = list;
  useEffect(() => {
    const node = sentinel.current;
    if (!infinite || !node || !hasNextPage) return;
    const observer = new IntersectionObserver(
      (entries) => {
        if (entries.some((e) => e.isIntersecting) && !isFetchingNextPage) void fetchNextPage();
      },
      { rootMargin: '400px' },
    );
    observer.observe(node);
    return () => observer.disconnect();
  }, [infinite, hasNextPage, isFetchingNextPage, fetchNextPage]);

  if (list.isError) return <ProblemAlert error={list.error} />;
  return (
    <>
      <Table.ScrollContainer minWidth={640}>
        <Table
          highlightOnHover={!!onRowClick}
          verticalSpacing="sm"
          aria-label={label}
          aria-busy={list.isLoading}
        >
          <Table.Thead>
            <Table.Tr>
              {columns.map((c) => (
                <Table.Th key={c.key} style={c.width ? { width: c.width } : undefined}>
                  {c.header}
                </Table.Th>
              ))}
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {list.isLoading &&
              Array.from({ length: 5 }, (_, i) => (
                <Table.Tr key={i}>
                  {columns.map((c) => (
                    <Table.Td key={c.key}>
                      <Skeleton height={14} />
                    </Table.Td>
                  ))}
                </Table.Tr>
              ))}
            {list.items.map((row) => (
              <Table.Tr
                key={rowKey(row)}
                style={onRowClick ? { cursor: 'pointer' } : undefined}
                onClick={onRowClick ? () => onRowClick(row) : undefined}
                onKeyDown={
                  onRowClick
                    ? (e) => {
                        if (e.key === 'Enter') onRowClick(row);
                      }
                    : undefined
                }
                tabIndex={onRowClick ? 0 : undefined}
              >
                {columns.map((c) => (
                  <Table.Td key={c.key}>{c.cell(row)}</Table.Td>
                ))}
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
      {!list.isLoading && list.items.length === 0 && (
        <Center py="xl">
          <Text c="dimmed">{empty}</Text>
        </Center>
      )}
      <div ref={sentinel} />
      {hasNextPage && (
        <Group justify="center" mt="md">
          <Button variant="default" loading={isFetchingNextPage} onClick={() => void fetchNextPage()}>
            Load more
          </Button>
        </Group>
      )}
    </>
  );
}

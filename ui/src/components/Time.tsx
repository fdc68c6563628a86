import { Text, Tooltip } from '@mantine/core';
import { useEffect, useRef, useState } from 'react';

const units: [Intl.RelativeTimeFormatUnit, number][] = [
  ['year', 31_536_000],
  ['month', 2_592_000],
  ['day', 86_400],
  ['hour', 3_600],
  ['minute', 60],
  ['second', 1],
];
const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
const OPEN_DELAY_MS = 300;

/** "3 minutes ago" / "in 6 days". */
export function relative(iso: string, now = Date.now()): string {
  const seconds = (new Date(iso).getTime() - now) / 1000;
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size || unit === 'second') return rtf.format(Math.round(seconds / size), unit);
  }
  return iso;
}

/**
 * A timestamp as relative time, the exact ISO value on hover; `fallback` when there is none.
 *
 * The tooltip is created on the first hover, not with the row: a Mantine Tooltip is a floating-ui instance
 * with a dozen hooks, and a list page renders one per row (50 on the first page of users) before it can show
 * anything. Its opening is ours (hover for 300 ms), so the first hover opens it like any later one.
 */
export function Time({ value, fallback = '—' }: { value: string | null | undefined; fallback?: string }) {
  const [opened, setOpened] = useState<boolean | undefined>(undefined);
  const timer = useRef<ReturnType<typeof setTimeout>>(undefined);
  useEffect(() => () => clearTimeout(timer.current), []);
  if (!value)
    return (
      <Text span c="dimmed" size="sm">
        {fallback}
      </Text>
    );
  const enter = () => {
    clearTimeout(timer.current);
    timer.current = setTimeout(() => setOpened(true), OPEN_DELAY_MS);
  };
  const leave = () => {
    clearTimeout(timer.current);
    if (opened) setOpened(false);
  };
  const text = (
    <Text span size="sm" onMouseEnter={enter} onMouseLeave={leave}>
      <time dateTime={value}>{relative(value)}</time>
    </Text>
  );
  if (opened === undefined) return text;
  return (
    <Tooltip label={new Date(value).toLocaleString()} opened={opened}>
      {text}
    </Tooltip>
  );
}

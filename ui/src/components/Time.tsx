import { Text, Tooltip } from '@mantine/core';

const units: [Intl.RelativeTimeFormatUnit, number][] = [['year', 31_536_000], ['month', 2_592_000], ['day', 86_400], ['hour', 3_600], ['minute', 60], ['second', 1]];
const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

/** "3 minutes ago" / "in 6 days". */
export function relative(iso: string, now = Date.now()): string {
  const seconds = (new Date(iso).getTime() - now) / 1000;
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size || unit === 'second') return rtf.format(Math.round(seconds / size), unit);
  }
  return iso;
}

/** A timestamp as relative time, the exact ISO value on hover; `fallback` when there is none. */
export function Time({ value, fallback = '—' }: { value: string | null | undefined; fallback?: string }) {
  if (!value) return <Text span c="dimmed" size="sm">{fallback}</Text>;
  return (
    <Tooltip label={new Date(value).toLocaleString()} openDelay={300}>
      <Text span size="sm"><time dateTime={value}>{relative(value)}</time></Text>
    </Tooltip>
  );
}

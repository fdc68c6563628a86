/** A one-line progress display on stderr: redrawn in place on a terminal, a line every 10 s otherwise. */
export function progress(
  label: string,
  total: number,
): { tick(done: number): void; done(done: number): number } {
  const started = performance.now();
  const tty = process.stderr.isTTY;
  let last = started;
  const line = (done: number) => {
    const s = (performance.now() - started) / 1000;
    const rate = done / Math.max(s, 1e-3);
    const eta = rate > 0 ? (total - done) / rate : 0;
    return (
      `${label}: ${done.toLocaleString('en-US')}/${total.toLocaleString('en-US')} (${((100 * done) / total).toFixed(1)}%), ` +
      `${Math.round(rate).toLocaleString('en-US')} rows/s, ${fmtDuration(s)} elapsed, eta ${fmtDuration(eta)}`
    );
  };
  return {
    tick(done) {
      const now = performance.now();
      if (now - last < (tty ? 250 : 10_000)) return;
      last = now;
      process.stderr.write(tty ? `\r${line(done)}\x1b[K` : `${line(done)}\n`);
    },
    done(done) {
      process.stderr.write(tty ? `\r${line(done)}\x1b[K\n` : `${line(done)}\n`);
      return (performance.now() - started) / 1000;
    },
  };
}

export function fmtDuration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${s.toFixed(0)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.round((s % 3600) / 60)).padStart(2, '0')}m`;
}

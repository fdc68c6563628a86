import { readFileSync } from 'node:fs';
import os from 'node:os';
import Database from 'better-sqlite3';
import pg from 'pg';

export type Machine = {
  nproc: number;
  cpu: string;
  memGiB: number;
  os: string;
  node: string;
  sqlite: string;
  postgres: string | null;
  loadavg: number[];
};

export async function describeMachine(pgUrl: string | null): Promise<Machine> {
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  try {
    cpu = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpu;
  } catch {
    // not Linux
  }
  const mem = new Database(':memory:');
  const sqlite = (mem.prepare('select sqlite_version() as v').get() as { v: string }).v;
  mem.close();
  let postgres: string | null = null;
  if (pgUrl) {
    const client = new pg.Client({ connectionString: `${pgUrl}/postgres` });
    await client.connect();
    try {
      const v =
        (await client.query<{ v: string }>("select current_setting('server_version') as v")).rows[0]?.v ??
        '?';
      const sb =
        (await client.query<{ v: string }>("select current_setting('shared_buffers') as v")).rows[0]?.v ??
        '?';
      postgres = `${v} (shared_buffers ${sb})`;
    } finally {
      await client.end();
    }
  }
  return {
    nproc: os.availableParallelism(),
    cpu,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    sqlite,
    postgres,
    loadavg: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

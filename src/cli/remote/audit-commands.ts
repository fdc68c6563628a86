import type { Command } from 'commander';
import {
  auditCheckpointRemote,
  auditExportRemote,
  auditQuery,
  auditTail,
  auditVerifyRemote,
} from './audit.js';
import {
  remoteAction,
  reportFailure,
  serverConfigured,
  type GlobalOptions,
  type RemoteHandler,
} from './context.js';

/** The local (database) versions of the audit commands, given by main.ts, which owns the server settings. */
export type LocalAudit = {
  verify: (opts: { checkpoint?: string }) => Promise<number>;
  checkpoint: () => Promise<number>;
  export: (opts: Record<string, string | undefined>) => Promise<number>;
};

/**
 * Over the API when a server is configured (--url, GATEHOUSE_URL or a profile), on the database with
 * `--local` or when none is: with nothing configured these commands work as they always did.
 */
function either(local: (opts: Record<string, unknown>) => Promise<number>, remote: RemoteHandler) {
  return async (...params: unknown[]): Promise<void> => {
    const command = params.at(-1) as Command;
    const { local: forced, ...opts } = command.opts<{ local?: boolean }>();
    let viaApi: boolean;
    try {
      viaApi = !forced && serverConfigured(command.optsWithGlobals<GlobalOptions>());
    } catch (err) {
      process.exitCode = reportFailure(err, '');
      return;
    }
    if (viaApi) return remoteAction(remote)(...params);
    process.exitCode = await local(opts);
  };
}

function withFilters(command: Command): Command {
  return command
    .option('--actor <actor>', '`system`, `anonymous` or a user id')
    .option('--action <list>', 'comma list: user.update, user.*, create')
    .option('--since <iso>', 'ISO 8601 time, inclusive')
    .option('--until <iso>', 'ISO 8601 time, exclusive')
    .option('--target <target>', 'type:id, or an id')
    .option('--outcome <outcome>', 'success, denied or error');
}

const LOCAL = '--local';
const LOCAL_HELP = 'use the database (DATABASE_URL / DATA_DIR) even when a server is configured';

/** `gatehouse audit verify|checkpoint|export|query|tail`. */
export function registerAudit(program: Command, local: LocalAudit): void {
  const audit = program
    .command('audit')
    .description('the audit log (over the API when a server is configured, else on the database)');
  audit
    .command('verify')
    .description('walk the hash chain and report the first broken link (exit 3 when broken)')
    .option(
      '--checkpoint <file>',
      'also hold the log against this checkpoint (from `audit checkpoint` or GET /api/audit/checkpoint)',
    )
    .option(LOCAL, LOCAL_HELP)
    .action(either((opts) => local.verify(opts), auditVerifyRemote));
  audit
    .command('checkpoint')
    .description("print a signed checkpoint of the chain's head as JSON; keep it off the database host")
    .option(LOCAL, LOCAL_HELP)
    .action(either(() => local.checkpoint(), auditCheckpointRemote));
  withFilters(audit.command('export'))
    .description('write the filtered audit events, oldest first, to stdout as NDJSON or CSV')
    .option('--format <format>', 'ndjson or csv', 'ndjson')
    .option(LOCAL, LOCAL_HELP)
    .action(either((opts) => local.export(opts as Record<string, string | undefined>), auditExportRemote));
  withFilters(audit.command('query'))
    .description('search the audit log over the API, newest first')
    .option('--limit <n>', 'page size (1-500)')
    .option('--all', 'follow every page')
    .action(remoteAction(auditQuery));
  withFilters(audit.command('tail'))
    .description('print each new audit event as it is written, until Ctrl-C')
    .option('--interval <ms>', 'how often to ask for new events', '1000')
    .action(remoteAction(auditTail));
}

import type { Command } from 'commander';
import { registerCompletion } from './completion.js';
import { registerLogin } from './login.js';
import { registerRoles } from './roles.js';
import { registerState } from './state.js';
import { registerTokens } from './tokens.js';
import { registerUsers } from './users.js';

/** The commands that talk to a server over its API (the audit ones are registered with the local ones). */
export function registerRemote(program: Command): void {
  registerLogin(program);
  registerUsers(program);
  registerRoles(program);
  registerTokens(program);
  registerState(program);
  // Last: it reads the tree the others built.
  registerCompletion(program);
}

export const remoteHelp = `
API commands (users, roles, tokens, audit, export, plan, apply) talk to a server:
  --url / GATEHOUSE_URL, --token / GATEHOUSE_TOKEN, or a profile saved by \`gatehouse login\`
  (\${XDG_CONFIG_HOME:-~/.config}/gatehouse/config.json). Exit codes: 0 ok, 1 error, 2 plan has changes,
  3 audit chain broken.
`;

import type { Command } from 'commander';
import { CliError } from './output.js';

/** A command's place in the tree (`/audit/verify`), its subcommands and its own options. */
type Node = { path: string; commands: string[]; options: string[] };

function flags(command: Command): string[] {
  return command.options.flatMap((o) => [o.short, o.long]).filter((f): f is string => Boolean(f));
}

/** Every command of the tree, read from commander (so a new command completes without editing this). */
export function commandTree(program: Command): Node[] {
  const nodes: Node[] = [];
  const visit = (command: Command, path: string) => {
    const children = command.commands.filter((c) => c.name() !== 'help');
    nodes.push({ path, commands: children.map((c) => c.name()), options: flags(command) });
    for (const child of children) visit(child, `${path}/${child.name()}`);
  };
  visit(program, '');
  return nodes;
}

/** What may follow a command: its subcommands, its options and the global ones, each once. */
const words = (node: Node, global: string[]) =>
  [...new Set([...node.commands, ...node.options, ...global, '--help'])].join(' ');

function bash(name: string, nodes: Node[], global: string[]): string {
  const fn = `_${name.replace(/\W/g, '_')}`;
  const known = nodes
    .filter((n) => n.path)
    .map((n) => `"${n.path}"`)
    .join('|');
  const cases = nodes.map((n) => `    "${n.path}") words="${words(n, global)}" ;;`).join('\n');
  return `# bash completion for ${name}: source <(${name} completion bash)
${fn}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path="" words="" w i
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    case "$path/$w" in
      ${known}) path="$path/$w" ;;
    esac
  done
  case "$path" in
${cases}
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F ${fn} ${name}
`;
}

function zsh(name: string, nodes: Node[], global: string[]): string {
  const fn = `_${name.replace(/\W/g, '_')}`;
  const known = nodes
    .filter((n) => n.path)
    .map((n) => `"${n.path}"`)
    .join('|');
  const cases = nodes.map((n) => `    ("${n.path}") candidates=(${words(n, global)}) ;;`).join('\n');
  return `#compdef ${name}
# zsh completion for ${name}: source <(${name} completion zsh), or save it as _${name} on your fpath
${fn}() {
  local cmdpath="" w i
  local -a candidates
  for ((i = 2; i < CURRENT; i++)); do
    w="\${words[i]}"
    case "$cmdpath/$w" in
      (${known}) cmdpath="$cmdpath/$w" ;;
    esac
  done
  case "$cmdpath" in
${cases}
  esac
  compadd -- $candidates
}
if [[ "\${zsh_eval_context[-1]}" == loadautofunc ]]; then
  ${fn} "$@"
else
  compdef ${fn} ${name}
fi
`;
}

/** `gatehouse completion bash|zsh`: a completion script generated from the command tree. */
export function registerCompletion(program: Command): void {
  program
    .command('completion')
    .argument('<shell>', 'bash or zsh')
    .description('print a shell completion script: source <(gatehouse completion bash)')
    .action((shell: string) => {
      const nodes = commandTree(program);
      const global = flags(program).filter((f) => f !== '-V' && f !== '--version');
      if (shell === 'bash') process.stdout.write(bash(program.name(), nodes, global));
      else if (shell === 'zsh') process.stdout.write(zsh(program.name(), nodes, global));
      else throw new CliError(`no completion for "${shell}": bash or zsh`);
    });
}

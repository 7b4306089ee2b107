// The `crius` command. It talks to the daemon over CRI like any other client; `doctor` alone probes the
// host directly and works while the daemon is down.
import { parseArgs } from 'node:util';
import { connectCri, socketFromEnv } from './client.js';
import { errorMessage } from '../common/errors.js';
import { criusVersion } from '../daemon/version.js';
import { doctorCommand } from './doctor-command.js';
import { COMMANDS_USAGE, peopleCommand } from './commands.js';

const USAGE = `usage: crius [--socket PATH] COMMAND [ARGS]

commands:
  version        versions of crius, the daemon and the CRI API
  info [--json]  runtime status: conditions and runtime handlers (with user namespace support)
${COMMANDS_USAGE}
  doctor [--config PATH] [--json]
                 check this host for crius (works without the daemon); exit 1 if user-namespaced pods cannot run

The daemon is reached at --socket, else $CRIUS_SOCKET, else /run/crius/crius.sock.`;

interface StatusLike {
  status?: { conditions?: { type: string; status: boolean; reason: string; message: string }[] };
  runtime_handlers?: { name: string; features?: { user_namespaces: boolean; recursive_read_only_mounts: boolean } }[];
  info?: Record<string, string>;
}

export async function main(argv: string[]): Promise<number> {
  // run, pods, ps, logs, exec, ... parse their own flags (-f, -it, -- CMD).
  const own = await peopleCommand(argv);
  if (own !== undefined) return own;
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { socket: { type: 'string' }, json: { type: 'boolean' }, config: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    process.stderr.write(`crius: ${errorMessage(err)}\n${USAGE}\n`);
    return 2;
  }
  const [command, ...rest] = parsed.positionals;
  if (parsed.values.help || command === undefined || command === 'help') {
    process.stdout.write(USAGE + '\n');
    return command === undefined && !parsed.values.help ? 2 : 0;
  }
  const socket = socketFromEnv(parsed.values.socket);
  switch (command) {
    case 'doctor':
      return doctorCommand({ config: parsed.values.config, json: parsed.values.json, rest });
    case 'version':
    case 'info': {
      if (rest.length > 0) { process.stderr.write(`crius ${command}: unexpected argument "${rest[0]}"\n`); return 2; }
      const client = connectCri(socket);
      try {
        if (command === 'version') {
          const v = await client.call<{ runtime_name: string; runtime_version: string; runtime_api_version: string }>('runtime', 'Version', {}, 10_000);
          if (parsed.values.json) process.stdout.write(JSON.stringify({ client: criusVersion(), ...v }, null, 2) + '\n');
          else process.stdout.write(`crius client:  ${criusVersion()}\nruntime:       ${v.runtime_name} ${v.runtime_version}\nCRI API:       ${v.runtime_api_version}\nsocket:        ${socket}\n`);
        } else {
          const s = await client.call<StatusLike>('runtime', 'Status', { verbose: true }, 10_000);
          if (parsed.values.json) {
            const config: unknown = s.info?.['config'] ? JSON.parse(s.info['config']) : null;
            process.stdout.write(JSON.stringify({ conditions: s.status?.conditions, runtime_handlers: s.runtime_handlers, config }, null, 2) + '\n');
          } else {
            process.stdout.write(formatStatus(s));
          }
        }
        return 0;
      } catch (err) {
        process.stderr.write(`crius: cannot reach the daemon at ${socket}: ${errorMessage(err)}\n`);
        return 1;
      } finally {
        client.close();
      }
    }
    default:
      process.stderr.write(`crius: unknown command "${command}"\n${USAGE}\n`);
      return 2;
  }
}

function defaultName(s: StatusLike): string | undefined {
  try {
    return (JSON.parse(s.info?.['config'] ?? '{}') as { defaultRuntime?: string }).defaultRuntime;
  } catch {
    return undefined;
  }
}

function formatStatus(s: StatusLike): string {
  const lines: string[] = ['CONDITION       STATUS  REASON'];
  for (const c of s.status?.conditions ?? []) {
    lines.push(`${c.type.padEnd(15)} ${String(c.status).padEnd(7)} ${c.reason}${c.message ? `: ${c.message}` : ''}`);
  }
  lines.push('', 'HANDLER   USER_NAMESPACES  RECURSIVE_READ_ONLY  DETAIL');
  const details = new Map<string, string>();
  try {
    const cfg = JSON.parse(s.info?.['config'] ?? '{}') as { runtimeHandlers?: { name: string; path: string; version: string | null; userNamespacesUnsupported: string | null }[] };
    for (const h of cfg.runtimeHandlers ?? []) details.set(h.name, `${h.path}${h.version ? ` (${h.version})` : ''}${h.userNamespacesUnsupported ? `: ${h.userNamespacesUnsupported}` : ''}`);
  } catch { /* an older daemon without verbose config: no details */ }
  for (const h of s.runtime_handlers ?? []) {
    const name = h.name === '' ? '(default)' : h.name;
    const detail = h.name === '' ? `same as ${defaultName(s) ?? 'the default handler'}` : (details.get(h.name) ?? '');
    lines.push(`${name.padEnd(9)} ${String(h.features?.user_namespaces ?? false).padEnd(16)} ${String(h.features?.recursive_read_only_mounts ?? false).padEnd(20)} ${detail}`);
  }
  return lines.join('\n') + '\n';
}

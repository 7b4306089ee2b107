// The people's commands: run, pods, ps, logs, exec, stop, rm, inspect, images/image, completion. Each talks
// CRI to the daemon like any client; tables for people, --json for scripts; pods by name, namespace/name
// or ID prefix, containers as POD/CONTAINER or an ID prefix.
import { parseArgs } from 'node:util';
import { resolve as resolvePath } from 'node:path';
import { errorMessage } from '../common/errors.js';
import { connectCri, type CriClient } from './client.js';
import { chooseSocket, listening, startPrivateDaemon } from './daemon-link.js';
import { findContainer, findPod, listContainers, listPods, type PodItem } from './resolve.js';
import { ago, shortId, table } from './table.js';
import { CriLogTail } from './cri-log-reader.js';
import { runManifest } from './run.js';
import { VOLUMES_DIR_ANNOTATION } from './manifest/translate.js';
import { removeVolumes } from './volumes.js';
import { execStream } from './exec-stream.js';

export const COMMANDS_USAGE = `  run FILE.yaml|- [--detach] [--rm] [--configmap NAME=PATH] [--secret NAME=PATH] [--from-literal configmap|secret/NAME/KEY=VALUE]
                 run a Kubernetes Pod manifest (hostUsers: false gets a host ID range); starts a private daemon if none listens
  pods [--json]  pods with state, user namespace range and age
  ps [-a] [--json]
                 containers (running; -a all)
  logs [-f] POD[/CONTAINER]
  exec [-i] [-t] POD[/CONTAINER] -- CMD...
  stop POD...    stop a pod's containers (the pod stays until rm)
  rm POD...      stop and remove pods, their containers and the volumes crius run made
  inspect POD [--json]
                 a pod: containers, the host ID range of a user-namespaced pod and how each volume is mapped
  images [--json] | image ls|pull REF|rm REF|import FILE.tar [NAME]
  completion bash
                 bash completion (eval "$(crius completion bash)")`;

const NAMES = ['run', 'pods', 'ps', 'logs', 'exec', 'stop', 'rm', 'inspect', 'images', 'image', 'completion'];

const out = (s: string): void => { process.stdout.write(s); };
const err = (s: string): void => { process.stderr.write(s); };

/** Runs one of these commands, or returns undefined for main.ts to handle the rest. */
export async function peopleCommand(argv: string[]): Promise<number | undefined> {
  let socketFlag: string | undefined;
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--socket') { socketFlag = argv[++i]; continue; }
    if (a.startsWith('--socket=')) { socketFlag = a.slice(9); continue; }
    break;
  }
  const command = argv[i];
  if (command === undefined || !NAMES.includes(command)) return undefined;
  const args = argv.slice(i + 1);
  const own = args.includes('--') ? args.slice(0, args.indexOf('--')) : args;
  if (own.includes('--help') || own.includes('-h')) {
    const lines = COMMANDS_USAGE.split('\n');
    const at = lines.findIndex((l) => l.trimStart().startsWith(command === 'images' ? 'images' : command));
    const block = [lines[at]!, ...lines.slice(at + 1).filter((_, k, rest) => rest.slice(0, k + 1).every((l) => l.startsWith('    ')))];
    out(`usage: crius ${block.map((l) => l.trim()).join('\n       ')}\n`);
    return 0;
  }
  try {
    if (command === 'completion') return completion(args);
    const choice = await chooseSocket(socketFlag);
    let socket = choice.socket;
    if (!(await listening(socket))) {
      if (command !== 'run' || choice.explicit) {
        err(`crius: no daemon answers at ${socket}${choice.explicit ? '' : ' (nor at /run/crius-run/crius.sock)'}: start one with \`node bin/criusd.js\`${command === 'run' ? '' : ', or crius run starts a private one'}\n`);
        return 1;
      }
      err(`no daemon listens at ${socket}: starting a private one ...\n`);
      const d = await startPrivateDaemon();
      socket = d.socket;
      err(`private daemon (pid ${d.pid}) serves ${d.socket} (root ${d.root}, state ${d.state}, log ${d.log}); it keeps running for later crius commands: stop it with kill ${d.pid}\n`);
    }
    const client = connectCri(socket);
    try {
      return await dispatch(client, command, args);
    } finally {
      client.close();
    }
  } catch (e) {
    err(`crius ${command}: ${errorMessage(e)}\n`);
    return 1;
  }
}

type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

function parse(args: string[], options: Record<string, { type: 'boolean' | 'string'; short?: string; multiple?: boolean }>): { values: Values; positionals: string[] } {
  const r = parseArgs({ args, options: { json: { type: 'boolean' }, ...options }, allowPositionals: true, strict: true });
  return { values: r.values as Values, positionals: r.positionals };
}

async function dispatch(c: CriClient, command: string, args: string[]): Promise<number> {
  switch (command) {
    case 'run': return run(c, args);
    case 'pods': return pods(c, args);
    case 'ps': return ps(c, args);
    case 'logs': return logs(c, args);
    case 'exec': return exec(c, args);
    case 'stop': return stop(c, args);
    case 'rm': return rm(c, args);
    case 'inspect': return inspect(c, args);
    case 'images': return images(c, ['ls', ...args]);
    case 'image': return images(c, args);
    default: return 2;
  }
}

async function run(c: CriClient, args: string[]): Promise<number> {
  const p = parse(args, {
    detach: { type: 'boolean', short: 'd' }, rm: { type: 'boolean' },
    configmap: { type: 'string', multiple: true }, secret: { type: 'string', multiple: true }, 'from-literal': { type: 'string', multiple: true },
  });
  const file = p.positionals[0];
  if (!file || p.positionals.length > 1) { err('usage: crius run FILE.yaml|- [--detach] [--rm] [--configmap NAME=PATH] [--secret NAME=PATH] [--from-literal KIND/NAME/KEY=VALUE]\n'); return 2; }
  const ac = new AbortController();
  const onSig = (): void => ac.abort();
  process.once('SIGINT', onSig);
  process.once('SIGTERM', onSig);
  try {
    const r = await runManifest(c, {
      file, detach: !!p.values.detach, rm: !!p.values.rm,
      configmaps: (p.values.configmap as string[] | undefined) ?? [], secrets: (p.values.secret as string[] | undefined) ?? [],
      literals: (p.values['from-literal'] as string[] | undefined) ?? [],
    }, { out, err, tty: !!process.stderr.isTTY }, ac.signal);
    return r.exitCode;
  } finally {
    process.off('SIGINT', onSig);
    process.off('SIGTERM', onSig);
  }
}

interface PodStatusFull {
  status: {
    id: string; state: string; created_at: string; metadata: PodItem['metadata'];
    network: { ip: string } | null;
    linux: { namespaces: { options: { network: string; pid: string; ipc: string; userns_options: { mode: string; uids: { container_id: number; host_id: number; length: number }[]; gids: { container_id: number; host_id: number; length: number }[] } | null } | null } | null } | null;
    annotations: Record<string, string>;
    runtime_handler: string;
  };
}

async function podStatus(c: CriClient, id: string): Promise<PodStatusFull['status']> {
  return (await c.call<PodStatusFull>('runtime', 'PodSandboxStatus', { pod_sandbox_id: id }, 10_000)).status;
}

function rangeText(s: PodStatusFull['status']): string {
  const u = s.linux?.namespaces?.options?.userns_options;
  const m = u?.uids?.[0];
  return u?.mode === 'POD' && m ? `${m.host_id}-${m.host_id + m.length - 1}` : 'host';
}

async function pods(c: CriClient, args: string[]): Promise<number> {
  const p = parse(args, {});
  const items = await listPods(c);
  const rows = await Promise.all(items.map(async (pod) => {
    const s = await podStatus(c, pod.id);
    const ctrs = await listContainers(c, pod.id);
    return { pod, s, running: ctrs.filter((x) => x.state === 'CONTAINER_RUNNING').length, total: ctrs.length };
  }));
  if (p.values.json) {
    out(JSON.stringify(rows.map((r) => ({
      id: r.pod.id, name: r.pod.metadata.name, namespace: r.pod.metadata.namespace, uid: r.pod.metadata.uid, state: r.pod.state,
      ip: r.s.network?.ip ?? '', userns: r.s.linux?.namespaces?.options?.userns_options ?? null, containers: { running: r.running, total: r.total },
      created_at: r.pod.created_at, runtime_handler: r.pod.runtime_handler,
    })), null, 2) + '\n');
    return 0;
  }
  out(table(['POD ID', 'NAME', 'NAMESPACE', 'STATE', 'CONTAINERS', 'IP', 'HOST IDS', 'CREATED'],
    rows.map((r) => [shortId(r.pod.id), r.pod.metadata.name, r.pod.metadata.namespace, r.pod.state.replace('SANDBOX_', '').toLowerCase(),
      `${r.running}/${r.total} running`, r.s.network?.ip ?? '', rangeText(r.s), ago(r.pod.created_at)])));
  return 0;
}

async function ps(c: CriClient, args: string[]): Promise<number> {
  const p = parse(args, { all: { type: 'boolean', short: 'a' } });
  const pods = new Map((await listPods(c)).map((x) => [x.id, x]));
  const ctrs = (await listContainers(c)).filter((x) => p.values.all || x.state === 'CONTAINER_RUNNING');
  const statuses = await Promise.all(ctrs.map((x) => c.call<{ status: { exit_code: number } }>('runtime', 'ContainerStatus', { container_id: x.id }, 10_000).then((r) => r.status).catch(() => undefined)));
  if (p.values.json) {
    out(JSON.stringify(ctrs.map((x, i) => ({ id: x.id, name: x.metadata.name, pod: pods.get(x.pod_sandbox_id)?.metadata.name ?? '', pod_id: x.pod_sandbox_id, image: x.image?.image ?? '', state: x.state, exit_code: statuses[i]?.exit_code ?? null, created_at: x.created_at })), null, 2) + '\n');
    return 0;
  }
  out(table(['CONTAINER ID', 'NAME', 'POD', 'IMAGE', 'STATE', 'CREATED'], ctrs.map((x, i) => {
    const state = x.state.replace('CONTAINER_', '').toLowerCase();
    return [shortId(x.id), x.metadata.name, pods.get(x.pod_sandbox_id)?.metadata.name ?? shortId(x.pod_sandbox_id), x.image?.image ?? '',
      state === 'exited' ? `exited (${statuses[i]?.exit_code ?? '?'})` : state, ago(x.created_at)];
  })));
  return 0;
}

async function logs(c: CriClient, args: string[]): Promise<number> {
  const p = parse(args, { follow: { type: 'boolean', short: 'f' } });
  const ref = p.positionals[0];
  if (!ref) { err('usage: crius logs [-f] POD[/CONTAINER]\n'); return 2; }
  const { container } = await findContainer(c, ref);
  const st = async (): Promise<{ state: string; log_path: string }> => (await c.call<{ status: { state: string; log_path: string } }>('runtime', 'ContainerStatus', { container_id: container.id }, 10_000)).status;
  const first = await st();
  const tail = new CriLogTail(first.log_path, { write: (s, t) => (s === 'stdout' ? out(t) : err(t)) });
  tail.poll();
  if (!p.values.follow) return 0;
  let stop = false;
  const onSig = (): void => { stop = true; };
  process.once('SIGINT', onSig);
  try {
    while (!stop) {
      await new Promise((r) => setTimeout(r, 200));
      tail.poll();
      if ((await st()).state === 'CONTAINER_EXITED') { tail.poll(); break; }
    }
  } finally {
    process.off('SIGINT', onSig);
  }
  return 0;
}

async function exec(c: CriClient, args: string[]): Promise<number> {
  const dash = args.indexOf('--');
  const p = parse(dash >= 0 ? args.slice(0, dash) : args, { interactive: { type: 'boolean', short: 'i' }, tty: { type: 'boolean', short: 't' } });
  const cmd = dash >= 0 ? args.slice(dash + 1) : p.positionals.slice(1);
  const ref = p.positionals[0];
  if (!ref || cmd.length === 0) { err('usage: crius exec [-i] [-t] POD[/CONTAINER] -- CMD...\n'); return 2; }
  const { container } = await findContainer(c, ref);
  if (p.values.interactive || p.values.tty) {
    const { url } = await c.call<{ url: string }>('runtime', 'Exec', {
      container_id: container.id, cmd, tty: !!p.values.tty, stdin: !!p.values.interactive, stdout: true, stderr: !p.values.tty,
    }, 10_000);
    return execStream({ url, tty: !!p.values.tty, stdin: !!p.values.interactive });
  }
  const r = await c.call<{ stdout: Buffer; stderr: Buffer; exit_code: number }>('runtime', 'ExecSync', { container_id: container.id, cmd, timeout: 0 }, 24 * 3600_000);
  out(Buffer.from(r.stdout).toString());
  err(Buffer.from(r.stderr).toString());
  return r.exit_code;
}

async function stop(c: CriClient, args: string[]): Promise<number> {
  const p = parse(args, {});
  if (p.positionals.length === 0) { err('usage: crius stop POD...\n'); return 2; }
  for (const ref of p.positionals) {
    const pod = await findPod(c, ref);
    await c.call('runtime', 'StopPodSandbox', { pod_sandbox_id: pod.id }, 120_000);
    out(`${pod.metadata.name}\n`);
  }
  return 0;
}

/** Removes a pod (and the volumes crius run made for it); returns its name. */
async function removePodAndVolumes(c: CriClient, pod: PodItem): Promise<void> {
  await c.call('runtime', 'StopPodSandbox', { pod_sandbox_id: pod.id }, 120_000);
  await c.call('runtime', 'RemovePodSandbox', { pod_sandbox_id: pod.id }, 120_000);
  const dir = pod.annotations[VOLUMES_DIR_ANNOTATION];
  if (dir) await removeVolumes(dir);
}

async function rm(c: CriClient, args: string[]): Promise<number> {
  const p = parse(args, { all: { type: 'boolean', short: 'a' } });
  const targets = p.values.all ? await listPods(c) : await Promise.all(p.positionals.map((r) => findPod(c, r)));
  if (targets.length === 0 && !p.values.all) { err('usage: crius rm POD... | crius rm --all\n'); return 2; }
  for (const pod of targets) {
    await removePodAndVolumes(c, pod);
    out(`${pod.metadata.name}\n`);
  }
  return 0;
}

interface Mapping { container_id: number; host_id: number; length: number }

async function inspect(c: CriClient, args: string[]): Promise<number> {
  const p = parse(args, {});
  const ref = p.positionals[0];
  if (!ref) { err('usage: crius inspect POD [--json]\n'); return 2; }
  const pod = await findPod(c, ref);
  const s = await podStatus(c, pod.id);
  const ctrs = await listContainers(c, pod.id);
  const details = await Promise.all(ctrs.map(async (x) => (await c.call<{ status: { id: string; metadata: { name: string }; state: string; exit_code: number; image: { image: string }; log_path: string; mounts: { container_path: string; host_path: string; readonly: boolean; uidMappings: Mapping[]; gidMappings: Mapping[] }[] } }>('runtime', 'ContainerStatus', { container_id: x.id }, 10_000)).status));
  const userns = s.linux?.namespaces?.options?.userns_options ?? null;
  if (p.values.json) {
    out(JSON.stringify({ pod: s, containers: details }, null, 2) + '\n');
    return 0;
  }
  const lines: string[] = [];
  lines.push(`pod:        ${s.metadata.namespace}/${s.metadata.name}  ${s.id}`);
  lines.push(`state:      ${s.state.replace('SANDBOX_', '').toLowerCase()}   handler: ${s.runtime_handler || '(default)'}   ip: ${s.network?.ip || '-'}`);
  const ns = s.linux?.namespaces?.options;
  lines.push(`namespaces: network ${ns?.network ?? 'POD'}, pid ${ns?.pid ?? 'POD'}, ipc ${ns?.ipc ?? 'POD'}, user ${userns?.mode === 'POD' ? 'POD (own user namespace)' : 'NODE (host)'}`);
  if (userns?.mode === 'POD') {
    for (const [what, ms] of [['uids', userns.uids], ['gids', userns.gids]] as const) {
      for (const m of ms) lines.push(`  ${what}: container ${m.container_id}-${m.container_id + m.length - 1} -> host ${m.host_id}-${m.host_id + m.length - 1} (${m.length})`);
    }
  }
  if (userns?.mode === 'POD') {
    // KEP-127: every mount carries the pod's mapping, so on-disk IDs read unchanged inside the pod.
    lines.push("volumes:    idmapped with the pod's mapping: a file owned by N on disk reads as N inside, and what the pod's");
    lines.push("            root writes is owned by 0:0 on disk (not by its host ID)");
  }
  lines.push('containers:');
  for (const d of details) {
    lines.push(`  ${d.metadata.name}  ${shortId(d.id)}  ${d.state.replace('CONTAINER_', '').toLowerCase()}${d.state === 'CONTAINER_EXITED' ? ` (${d.exit_code})` : ''}  ${d.image.image}`);
    lines.push(`    log: ${d.log_path}`);
    for (const m of d.mounts) {
      const map = m.uidMappings?.[0];
      const how = map ? `idmapped (pod ID N <-> disk ID N, not host ${map.host_id}+N)` : 'not idmapped';
      lines.push(`    ${m.container_path} <- ${m.host_path}${m.readonly ? ' (ro)' : ''}: ${how}`);
    }
  }
  out(lines.join('\n') + '\n');
  return 0;
}

async function images(c: CriClient, args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const p = parse(rest, {});
  switch (sub) {
    case 'ls': case 'list': case undefined: {
      const r = await c.call<{ images: { id: string; repo_tags: string[]; repo_digests: string[]; size: string }[] }>('image', 'ListImages', {}, 30_000);
      if (p.values.json) { out(JSON.stringify(r.images, null, 2) + '\n'); return 0; }
      const mb = (n: string): string => `${(Number(n) / 1e6).toFixed(1)} MB`;
      out(table(['IMAGE', 'ID', 'SIZE'], r.images.flatMap((im) => (im.repo_tags.length ? im.repo_tags : im.repo_digests.length ? im.repo_digests : ['<none>']).map((t) => [t, im.id.replace('sha256:', '').slice(0, 12), mb(im.size)]))));
      return 0;
    }
    case 'pull': {
      const ref = p.positionals[0];
      if (!ref) { err('usage: crius image pull REF\n'); return 2; }
      const t0 = Date.now();
      err(`pulling ${ref} (CRI PullImage reports no per-layer progress) ...\n`);
      const r = await c.call<{ image_ref: string }>('image', 'PullImage', { image: { image: ref } }, 30 * 60_000);
      out(`${r.image_ref}\n`);
      err(`pulled in ${((Date.now() - t0) / 1000).toFixed(1)}s\n`);
      return 0;
    }
    case 'rm': {
      if (p.positionals.length === 0) { err('usage: crius image rm REF...\n'); return 2; }
      for (const ref of p.positionals) { await c.call('image', 'RemoveImage', { image: { image: ref } }, 60_000); out(`${ref}\n`); }
      return 0;
    }
    case 'import': {
      // The daemon imports (annotation io.crius.image/import-from on PullImage): it reads the file itself.
      const [file, name] = p.positionals;
      if (!file) { err('usage: crius image import FILE.tar [NAME]   (an OCI layout or docker save tar, optionally gzipped)\n'); return 2; }
      const abs = resolvePath(file);
      const r = await c.call<{ image_ref: string }>('image', 'PullImage', { image: { image: name ?? '', annotations: { 'io.crius.image/import-from': abs } } }, 30 * 60_000);
      out(`${r.image_ref}\n`);
      return 0;
    }
    default:
      err(`crius image: unknown subcommand "${sub}" (ls, pull, rm, import)\n`);
      return 2;
  }
}

function completion(args: string[]): number {
  if (args[0] !== 'bash') { err('usage: crius completion bash\n'); return 2; }
  out(`# bash completion for crius; eval "$(crius completion bash)"
_crius() {
  local cur=\${COMP_WORDS[COMP_CWORD]} cmd=\${COMP_WORDS[1]}
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W "version info doctor ${NAMES.join(' ')}" -- "$cur") ); return
  fi
  case "$cmd" in
    run) COMPREPLY=( $(compgen -f -X '!*.@(yaml|yml)' -- "$cur") $(compgen -d -- "$cur") $(compgen -W "--detach --rm --configmap --secret --from-literal" -- "$cur") ) ;;
    logs|exec|stop|rm|inspect)
      local pods; pods=$(crius pods --json 2>/dev/null | sed -n 's/.*"name": "\\(.*\\)",/\\1/p')
      COMPREPLY=( $(compgen -W "$pods" -- "$cur") ) ;;
    image) COMPREPLY=( $(compgen -W "ls pull rm import" -- "$cur") ) ;;
    completion) COMPREPLY=( $(compgen -W "bash" -- "$cur") ) ;;
  esac
}
complete -F _crius crius
`);
  return 0;
}

// `crius run FILE.yaml`: a Kubernetes Pod manifest through the daemon's CRI, with the calls the kubelet
// makes (PullImage, RunPodSandbox, CreateContainer/StartContainer for init containers in order, then the
// app containers), volumes materialised on the host as the kubelet would, and hostUsers: false given a
// host ID range by the daemon's allocator (annotation io.crius.userns/auto).
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { totalmem } from 'node:os';
import { errorMessage } from '../common/errors.js';
import type { CriClient } from './client.js';
import { parseManifest } from './manifest/parse.js';
import { parseQuantity } from './manifest/quantity.js';
import {
  containerConfig, podLogDirName, podNamespace, pullPolicy, runtimeHandler, sandboxConfig, RUN_BY_ANNOTATION, VOLUMES_DIR_ANNOTATION,
  type HostRange,
} from './manifest/translate.js';
import type { Container, DataSource, ParsedManifest } from './manifest/types.js';
import { prepareVolumes, removeVolumes, type PreparedVolumes } from './volumes.js';
import { CriLogTail, type LogSink } from './cri-log-reader.js';
import { listPods } from './resolve.js';

const INIT_CONTAINERS_ANNOTATION = 'io.crius.run/init-containers';

interface RunOptions {
  file: string;
  detach: boolean;
  /** Remove the pod when it ends on its own (Ctrl-C always removes it). */
  rm: boolean;
  /** --configmap NAME=PATH (a file: key = its name; a directory: one key per file). */
  configmaps: string[];
  secrets: string[];
  /** --from-literal configmap/NAME/KEY=VALUE or secret/NAME/KEY=VALUE */
  literals: string[];
}

interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
  tty: boolean;
}

interface Status { state: string; exit_code: number; log_path: string; reason: string; message: string }

function readManifestText(file: string): string {
  return file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8');
}

/** Adds the command-line ConfigMaps/Secrets to those of the YAML stream (the command line wins). */
export function commandLineSources(o: Pick<RunOptions, 'configmaps' | 'secrets' | 'literals'>, base: DataSource[]): DataSource[] {
  const out = [...base];
  const get = (kind: DataSource['kind'], name: string): DataSource => {
    let s = out.find((x) => x.kind === kind && x.name === name);
    if (!s) { s = { kind, name, data: new Map() }; out.push(s); }
    return s;
  };
  const fromPath = (kind: DataSource['kind'], spec: string, flag: string): void => {
    const eq = spec.indexOf('=');
    if (eq <= 0) throw new Error(`--${flag} ${spec}: expected NAME=PATH`);
    const name = spec.slice(0, eq);
    const path = spec.slice(eq + 1);
    const s = get(kind, name);
    const st = statSync(path);
    if (st.isDirectory()) {
      for (const f of readdirSync(path)) if (statSync(join(path, f)).isFile()) s.data.set(f, readFileSync(join(path, f)));
    } else {
      s.data.set(basename(path), readFileSync(path));
    }
  };
  for (const c of o.configmaps) fromPath('ConfigMap', c, 'configmap');
  for (const c of o.secrets) fromPath('Secret', c, 'secret');
  for (const l of o.literals) {
    const m = /^(configmap|secret)\/([^/]+)\/([^=]+)=(.*)$/s.exec(l);
    if (!m) throw new Error(`--from-literal ${l}: expected configmap/NAME/KEY=VALUE or secret/NAME/KEY=VALUE`);
    get(m[1] === 'configmap' ? 'ConfigMap' : 'Secret', m[2]!).data.set(m[3]!, Buffer.from(m[4]!, 'utf8'));
  }
  return out;
}

const SPIN = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/** PullImage is unary in CRI: no per-layer progress reaches a client, so show time passing, honestly. */
async function pull(client: CriClient, image: string, io: Io): Promise<void> {
  const t0 = Date.now();
  let i = 0;
  const timer = io.tty ? setInterval(() => io.err(`\r${SPIN[i++ % SPIN.length]} pulling ${image} ${((Date.now() - t0) / 1000).toFixed(1)}s (CRI PullImage reports no per-layer progress)`), 100) : undefined;
  if (!io.tty) io.err(`pulling ${image} ...\n`);
  try {
    const r = await client.call<{ image_ref: string }>('image', 'PullImage', { image: { image } }, 30 * 60_000);
    io.err(`${io.tty ? '\r\x1b[K' : ''}pulled ${image} (${r.image_ref.slice(0, 19)}) in ${((Date.now() - t0) / 1000).toFixed(1)}s\n`);
  } catch (err) {
    if (io.tty) io.err('\r\x1b[K');
    throw new Error(`pull ${image}: ${errorMessage(err)}`);
  } finally {
    if (timer) clearInterval(timer);
  }
}

async function ensureImage(client: CriClient, c: Container, io: Io): Promise<void> {
  const policy = pullPolicy(c);
  if (policy !== 'Always') {
    const st = await client.call<{ image: { id: string } | null }>('image', 'ImageStatus', { image: { image: c.image } }, 10_000);
    if (st.image) return;
    if (policy === 'Never') throw new Error(`container "${c.name}": image ${c.image} is not present and imagePullPolicy is Never`);
  }
  await pull(client, c.image, io);
}

async function status(client: CriClient, id: string): Promise<Status> {
  return (await client.call<{ status: Status }>('runtime', 'ContainerStatus', { container_id: id }, 10_000)).status;
}

function prefixedSink(io: Io, prefix: string): LogSink {
  let atStart = { stdout: true, stderr: true };
  return {
    write: (stream, text) => {
      let s = '';
      for (const ch of text.split(/(?<=\n)/)) {
        s += (atStart[stream] && prefix ? prefix : '') + ch;
        atStart = { ...atStart, [stream]: ch.endsWith('\n') };
      }
      if (stream === 'stdout') io.out(s); else io.err(s);
    },
  };
}

interface RunResult { exitCode: number; podId?: string }

/** Everything `crius run` does once it has a daemon. */
export async function runManifest(client: CriClient, o: RunOptions, io: Io, signal: AbortSignal): Promise<RunResult> {
  const text = readManifestText(o.file);
  const m: ParsedManifest = parseManifest(text, o.file === '-' ? 'stdin' : o.file);
  for (const n of m.notes) io.err(`note: ${n}\n`);
  const sources = commandLineSources(o, m.sources);
  const lookupSource = (kind: DataSource['kind'], name: string): DataSource | undefined => sources.find((s) => s.kind === kind && s.name === name);
  const pod = m.pod;
  const ns = podNamespace(pod);
  const existing = (await listPods(client)).find((p) => p.metadata.name === pod.metadata.name && p.metadata.namespace === ns);
  if (existing) throw new Error(`pod ${ns}/${pod.metadata.name} already exists (${existing.id.slice(0, 13)}, ${existing.state}): crius rm ${pod.metadata.name} first`);

  const info = await client.call<{ info: Record<string, string> }>('runtime', 'Status', { verbose: true }, 10_000);
  const daemonConfig = JSON.parse(info.info['config'] ?? '{}') as { stateDir?: string };
  if (!daemonConfig.stateDir) throw new Error('the daemon did not report its state directory (Status verbose); is it a crius daemon?');
  const stateDir = daemonConfig.stateDir;

  const all = [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
  for (const image of [...new Set(all.map((c) => c.image))]) await ensureImage(client, all.find((c) => c.image === image)!, io);

  const podUid = pod.metadata.uid ?? randomUUID();
  // kubelet layout: /var/log/pods/<ns>_<name>_<uid>/<container>/<attempt>.log, here under the state dir.
  const logDirectory = join(stateDir, 'log', 'pods', podLogDirName(pod, podUid));
  mkdirSync(logDirectory, { recursive: true, mode: 0o755 });
  for (const c of all) mkdirSync(join(logDirectory, c.name), { recursive: true, mode: 0o755 });
  const sizeLimits = new Map<string, number>();
  for (const v of pod.spec.volumes ?? []) if (v.emptyDir?.sizeLimit !== undefined) sizeLimits.set(v.name, parseQuantity(v.emptyDir.sizeLimit, 'bytes'));
  const volumes: PreparedVolumes = await prepareVolumes({ stateDir, pod, podUid, lookup: lookupSource, sizeLimits });
  chmodSync(volumes.dir, 0o711);

  const config = sandboxConfig({
    pod, podUid, logDirectory,
    extraAnnotations: {
      [VOLUMES_DIR_ANNOTATION]: volumes.dir,
      [RUN_BY_ANNOTATION]: o.file === '-' ? 'stdin' : o.file,
      [INIT_CONTAINERS_ANNOTATION]: (pod.spec.initContainers ?? []).map((c) => c.name).join(','),
    },
  });
  let podId: string;
  try {
    podId = (await client.call<{ pod_sandbox_id: string }>('runtime', 'RunPodSandbox', { config, runtime_handler: runtimeHandler(pod) }, 120_000)).pod_sandbox_id;
  } catch (err) {
    await removeVolumes(volumes.dir).catch(() => undefined);
    throw new Error(`RunPodSandbox ${ns}/${pod.metadata.name}: ${errorMessage(err)}`);
  }
  const remove = async (): Promise<void> => {
    await client.call('runtime', 'StopPodSandbox', { pod_sandbox_id: podId }, 60_000).catch(() => undefined);
    await client.call('runtime', 'RemovePodSandbox', { pod_sandbox_id: podId }, 60_000).catch(() => undefined);
    await removeVolumes(volumes.dir).catch((e: unknown) => io.err(`warning: volumes of ${pod.metadata.name}: ${errorMessage(e)}\n`));
  };
  try {
    const ps = await client.call<{ status: { network: { ip: string } | null; linux: { namespaces: { options: { userns_options: { uids: { host_id: number; length: number }[] } | null } | null } | null } | null } }>(
      'runtime', 'PodSandboxStatus', { pod_sandbox_id: podId }, 10_000);
    const uids = ps.status.linux?.namespaces?.options?.userns_options?.uids ?? [];
    const range: HostRange | undefined = pod.spec.hostUsers === false && uids[0] ? { hostId: uids[0].host_id, length: uids[0].length } : undefined;
    io.err(`pod ${ns}/${pod.metadata.name} ${podId.slice(0, 13)}${range ? `: user namespace, host IDs ${range.hostId}-${range.hostId + range.length - 1} (container 0 = host ${range.hostId})` : ''}\n`);
    const create = async (c: Container): Promise<string> => {
      const cfg = containerConfig({
        pod, podUid, container: c, range, volumes: volumes.byName, terminationLog: volumes.terminationLog(c.name),
        lookup: (kind, name) => lookupSource(kind, name)?.data, podIP: ps.status.network?.ip ?? '', memoryCapacity: totalmem(),
      });
      const id = (await client.call<{ container_id: string }>('runtime', 'CreateContainer', { pod_sandbox_id: podId, config: cfg, sandbox_config: config }, 120_000)).container_id;
      await client.call('runtime', 'StartContainer', { container_id: id }, 60_000);
      return id;
    };
    const follow = async (ids: Map<string, string>, prefix: boolean, stopWhen: 'all'): Promise<Map<string, Status>> => {
      const tails = new Map<string, CriLogTail>();
      const done = new Map<string, Status>();
      while (!signal.aborted) {
        for (const [name, id] of ids) {
          if (done.has(name)) continue;
          const st = await status(client, id);
          if (!tails.has(name) && st.log_path) tails.set(name, new CriLogTail(st.log_path, prefixedSink(io, prefix ? `[${name}] ` : '')));
          tails.get(name)?.poll();
          if (st.state === 'CONTAINER_EXITED') { tails.get(name)?.poll(); done.set(name, st); }
        }
        if (stopWhen === 'all' && done.size === ids.size) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      return done;
    };
    // Init containers: one at a time, each must exit 0 before the next (and before the app containers).
    for (const c of pod.spec.initContainers ?? []) {
      const id = await create(c);
      const st = (await follow(new Map([[c.name, id]]), true, 'all')).get(c.name);
      if (signal.aborted) break;
      if (!st || st.exit_code !== 0) {
        io.err(`init container "${c.name}" exited with code ${st?.exit_code ?? '?'}${st?.reason ? ` (${st.reason})` : ''}: the app containers do not start\n`);
        if (!o.detach || o.rm) await remove();
        return { exitCode: st?.exit_code || 1, podId };
      }
    }
    const ids = new Map<string, string>();
    if (!signal.aborted) for (const c of pod.spec.containers) ids.set(c.name, await create(c));
    if (signal.aborted) {
      await remove();
      return { exitCode: 130, podId };
    }
    if (o.detach) {
      const ports = pod.spec.containers.flatMap((c) => (c.ports ?? []).filter((p) => p.hostPort).map((p) => `${p.hostIP || '0.0.0.0'}:${p.hostPort}->${p.containerPort}/${(p.protocol ?? 'TCP').toLowerCase()}`));
      io.out(`${podId}\n`);
      io.err(`started ${[...ids.keys()].join(', ')}${ports.length ? `; ports ${ports.join(', ')}` : ''}\nsee: crius logs -f ${pod.metadata.name}   crius inspect ${pod.metadata.name}   crius rm ${pod.metadata.name}\n`);
      return { exitCode: 0, podId };
    }
    const done = await follow(ids, ids.size > 1, 'all');
    if (signal.aborted) {
      io.err(`\ninterrupted: stopping and removing pod ${pod.metadata.name}\n`);
      await remove();
      return { exitCode: 130, podId };
    }
    const main = done.get(pod.spec.containers[0]!.name);
    const code = main?.exit_code ?? 1;
    for (const [name, st] of done) if (st.exit_code !== 0) io.err(`container "${name}" exited with code ${st.exit_code}${st.reason ? ` (${st.reason})` : ''}\n`);
    if (o.rm) await remove();
    else io.err(`pod ${pod.metadata.name} ended; crius rm ${pod.metadata.name} removes it\n`);
    return { exitCode: code, podId };
  } catch (err) {
    // A pod that never got going is of no use to anyone: take it apart (--detach leaves running pods only).
    await remove();
    throw err;
  }
}

// The floor a pod start is compared against: raw `crun run` (and `runc run`) of a busybox container
// running `true`, N times, plus what crius adds on top of it piece by piece: the same container created
// and started through conmon (OciRuntime) until its exit file appears, pinning a pod's net/ipc/uts
// namespaces (and removing them), and starting the crius-pause infra container (PID mode POD only).
// Run as root after `npm run build`:  node dist/bench/oci-floor.js [--n 20] [--json-only]
// ociFloor() is exported so the pod-start bench can measure the floor in the same run.
import { CRUN, RUNC } from '../test/helpers/host-binaries.js';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { run } from '../src/common/exec.js';
import {
  cgroupParentFor, containerCgroupsPath, detectCgroupBase, detectCgroupLayout, removeCgroup, runtimeHiddenMounts,
} from '../src/cgroup/mode.js';
import { createOciRuntime } from '../src/oci/runtime.js';
import { readExit } from '../src/oci/exit-files.js';
import { pinPodNamespaces, removePinnedNamespaces } from '../src/pod/namespaces.js';
import { preparePauseRootfs } from '../src/pod/infra-rootfs.js';
import { makeBusyboxRootfs } from '../test/helpers/busybox-rootfs.js';
import { minimalSpec } from '../test/helpers/minimal-spec.js';
import { bridgeNetwork, shippedNetwork } from '../test/helpers/cri-fixture.js';
import { stats, type Stat } from './stats.js';
import { nativeBuildPath } from '../src/common/install-root.js';

const WRAP = nativeBuildPath('crius-oci-wrap');
const PAUSE = nativeBuildPath('crius-pause');


/** The idle between runs of the "apart" floor: about the time between two pods' container creates. */
export const FLOOR_APART_MS = 150;

async function time(n: number, fn: (i: number) => Promise<void>, apartMs = 0): Promise<number[]> {
  const out: number[] = [];
  await fn(-1); // warm-up: page cache, binaries
  for (let i = 0; i < n; i++) {
    if (apartMs > 0) await new Promise((r) => setTimeout(r, apartMs));
    const t0 = process.hrtime.bigint();
    await fn(i);
    out.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return out;
}

/**
 * Median/p95 of raw `<runtime> run` of busybox `true` (through crius-oci-wrap where the host needs it).
 * apartMs idles between runs. Back to back, each run's move into its cgroup is cheap; a run that comes
 * after a pause, as a pod's container does, pays for it: on this cgroup v1 host a bare `crun create` took
 * 7.0 ms back to back and 21.9 ms 150 ms after the previous one (the kernel's cgroup v1 attach waits for
 * an RCU grace period unless another attach just had; cgroup v2 runtimes create into the cgroup instead).
 */
export async function ociFloor(n: number, runtimePath = CRUN, withCgroup = true, apartMs = 0): Promise<Stat> {
  const layout = await detectCgroupLayout();
  const hide = runtimeHiddenMounts(layout);
  const base = await detectCgroupBase(layout);
  const dir = await mkdtemp('/tmp/crius-floor-');
  const parent = cgroupParentFor(base, `floor${process.pid}`);
  try {
    const bundle = path.join(dir, 'b');
    await makeBusyboxRootfs(path.join(bundle, 'rootfs'));
    const name = path.basename(runtimePath);
    const xs = await time(n, async (i) => {
      const id = `floor-${name}-${i + 1}`;
      const spec = minimalSpec({ args: ['/bin/true'], ...(withCgroup ? { cgroupsPath: containerCgroupsPath(parent, id) } : {}) });
      await writeFile(path.join(bundle, 'config.json'), JSON.stringify(spec));
      const args = [`--root=${dir}/root`, ...(withCgroup ? [] : ['--cgroup-manager=disabled']), 'run', id];
      if (hide.length > 0) await run(WRAP, [...hide.flatMap((h) => ['--hide', h]), runtimePath, ...args], { cwd: bundle });
      else await run(runtimePath, args, { cwd: bundle });
    }, apartMs);
    return stats(`${name} run true${withCgroup ? '' : ' (no cgroup)'}${apartMs ? `, ${apartMs} ms apart` : ''}`, xs);
  } finally {
    await removeCgroup(layout, parent, base).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Median/p95 of a CNI ADD into a freshly pinned netns, run as a runtime would: the plugin binary with the
 * config on stdin (portmap is a no-op without port mappings and crius skips it). 'bridge': the network the
 * benches' own nodes get (a bridge, host-local, no masquerade), on its own bridge (cf-<pid>); 'shipped':
 * crius's default network (contrib/cni/10-crius.conflist: ptp, host-local, masquerade). Its own subnet
 * (10.108.0.0/16); each ADD is undone (DEL, unpin) outside the timing.
 */
export async function cniAddFloor(n: number, network: 'bridge' | 'shipped' = 'bridge', pluginDir = '/usr/lib/cni'): Promise<Stat> {
  const dir = await mkdtemp('/tmp/crius-floor-');
  const bridge = `cf${process.pid % 100000}`;
  const name = `floor${process.pid}`;
  const list = network === 'shipped'
    ? shippedNetwork(name, '10.108.0.0/16', path.join(dir, 'ipam'))
    : bridgeNetwork(name, bridge, '10.108.0.0/16', path.join(dir, 'ipam'));
  // The main plugin alone, as a runtime hands it to the plugin (portmap is idle without port mappings).
  const conf: Record<string, unknown> = { cniVersion: list.cniVersion, name, ...list.plugins[0]! };
  const plugin = String(conf['type']);
  const env = (cmd: string, id: string, netns: string): NodeJS.ProcessEnv => ({
    PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin', CNI_COMMAND: cmd, CNI_CONTAINERID: id, CNI_NETNS: netns, CNI_IFNAME: 'eth0', CNI_PATH: pluginDir,
  });
  try {
    const xs: number[] = [];
    for (let i = -1; i < n; i++) { // -1: warm-up (creates the bridge), not counted
      const id = `floor-cni-${i + 1}`;
      const ns = await pinPodNamespaces({ dir: path.join(dir, 'ns', id), net: true, ipc: false, uts: false });
      const t0 = process.hrtime.bigint();
      await run(path.join(pluginDir, plugin), [], { input: JSON.stringify(conf), env: env('ADD', id, ns.net!) });
      if (i >= 0) xs.push(Number(process.hrtime.bigint() - t0) / 1e6);
      await run(path.join(pluginDir, plugin), [], { input: JSON.stringify(conf), env: env('DEL', id, ns.net!) });
      await removePinnedNamespaces(ns);
    }
    return stats(`CNI ADD (${plugin} + host-local${network === 'shipped' ? ', crius default' : ''})`, xs);
  } finally {
    await run('/usr/sbin/ip', ['link', 'del', bridge], { okCodes: [0, 1] }).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

async function conmonRun(n: number, runtimePath: string): Promise<Stat[]> {
  const layout = await detectCgroupLayout();
  const base = await detectCgroupBase(layout);
  const dir = await mkdtemp('/tmp/crius-floor-');
  const parent = cgroupParentFor(base, `floorc${process.pid}`);
  const rt = createOciRuntime({
    name: path.basename(runtimePath), path: runtimePath, root: path.join(dir, 'root'), socketDir: path.join(dir, 's'),
    wrapperPath: WRAP, hideMounts: runtimeHiddenMounts(layout),
  });
  const createStart: number[] = [];
  const toExit: number[] = [];
  try {
    const rootfsTemplate = path.join(dir, 'rootfs');
    await makeBusyboxRootfs(rootfsTemplate);
    for (let i = -1; i < n; i++) {
      const id = `fc${i + 1}`;
      const bundle = path.join(dir, 'b', id);
      await mkdir(bundle, { recursive: true });
      await run('/bin/cp', ['-a', rootfsTemplate, path.join(bundle, 'rootfs')]);
      await writeFile(path.join(bundle, 'config.json'), JSON.stringify(minimalSpec({ args: ['/bin/true'], cgroupsPath: containerCgroupsPath(parent, id) })));
      const exitDir = path.join(dir, 'exits');
      const persistDir = path.join(dir, 'p', id);
      const t0 = process.hrtime.bigint();
      await rt.create(bundle, id, { logPath: path.join(dir, 'logs', `${id}.log`), exitDir, persistDir });
      await rt.start(id);
      const t1 = process.hrtime.bigint();
      while (!await readExit(id, { exitDir })) await new Promise((r) => setTimeout(r, 1));
      const t2 = process.hrtime.bigint();
      await rt.delete(id, { force: true });
      if (i >= 0) {
        createStart.push(Number(t1 - t0) / 1e6);
        toExit.push(Number(t2 - t0) / 1e6);
      }
    }
    const name = path.basename(runtimePath);
    return [stats(`conmon+${name} create+start`, createStart), stats(`conmon+${name} create..exit file`, toExit)];
  } finally {
    await removeCgroup(layout, parent, base).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

async function namespacesAndPause(n: number): Promise<Stat[]> {
  const dir = await mkdtemp('/tmp/crius-floor-');
  const out: Stat[] = [];
  try {
    const pin: number[] = [];
    const unpin: number[] = [];
    for (let i = -1; i < n; i++) {
      const t0 = process.hrtime.bigint();
      const ns = await pinPodNamespaces({ dir: path.join(dir, 'ns', String(i + 1)), net: true, ipc: true, uts: true, hostname: 'bench', sysctls: { 'net.ipv4.ping_group_range': '0 0' } });
      const t1 = process.hrtime.bigint();
      await removePinnedNamespaces(ns);
      const t2 = process.hrtime.bigint();
      if (i >= 0) {
        pin.push(Number(t1 - t0) / 1e6);
        unpin.push(Number(t2 - t1) / 1e6);
      }
    }
    out.push(stats('pin net/ipc/uts + hostname + sysctl', pin));
    out.push(stats('unpin net/ipc/uts', unpin));
    out.push(stats('spawn /bin/true (process floor)', await time(n, async () => { await run('/bin/true', []); })));
    if (existsSync(PAUSE)) {
      const layout = await detectCgroupLayout();
      const base = await detectCgroupBase(layout);
      const parent = cgroupParentFor(base, `floorp${process.pid}`);
      const rt = createOciRuntime({
        name: 'crun', path: CRUN, root: path.join(dir, 'root'), socketDir: path.join(dir, 's'),
        wrapperPath: WRAP, hideMounts: runtimeHiddenMounts(layout),
      });
      try {
        const xs = await time(n, async (i) => {
          const id = `pause${i + 1}`;
          const bundle = path.join(dir, 'pb', id);
          await preparePauseRootfs(bundle, PAUSE);
          await writeFile(path.join(bundle, 'config.json'), JSON.stringify(minimalSpec({ args: ['/pause'], cgroupsPath: containerCgroupsPath(parent, id) })));
          await rt.create(bundle, id, { logPath: path.join(dir, 'logs', `${id}.log`), exitDir: path.join(dir, 'exits'), persistDir: path.join(dir, 'p', id) });
          await rt.start(id);
          await rt.delete(id, { force: true });
        });
        out.push(stats('pause infra create+start+delete (PID mode POD only)', xs));
      } finally {
        await removeCgroup(layout, parent, base).catch(() => undefined);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return out;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const nIdx = argv.indexOf('--n');
  const n = nIdx >= 0 ? Number(argv[nIdx + 1]) : 20;
  const results: Stat[] = [];
  results.push(await ociFloor(n, CRUN, true));
  results.push(await ociFloor(n, CRUN, true, FLOOR_APART_MS));
  results.push(await ociFloor(n, CRUN, false));
  if (existsSync(RUNC)) results.push(await ociFloor(n, RUNC, true));
  results.push(...await conmonRun(n, CRUN));
  if (existsSync(RUNC)) results.push(...await conmonRun(n, RUNC));
  results.push(...await namespacesAndPause(n));
  results.push(await cniAddFloor(n));
  results.push(await cniAddFloor(n, 'shipped'));
  const layout = await detectCgroupLayout();
  const report = { bench: 'oci-floor', n, cgroupMode: layout.mode, wrapped: runtimeHiddenMounts(layout).length > 0, results };
  console.log(JSON.stringify(report));
  if (!argv.includes('--json-only')) {
    console.log(`\n${'measurement'.padEnd(52)} ${'median ms'.padStart(10)} ${'p95 ms'.padStart(10)} ${'min ms'.padStart(10)}`);
    for (const r of results) {
      console.log(`${r.name.padEnd(52)} ${String(r.medianMs).padStart(10)} ${String(r.p95Ms).padStart(10)} ${String(r.minMs).padStart(10)}`);
    }
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}

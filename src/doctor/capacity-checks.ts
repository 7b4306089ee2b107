// Host limits that stop a node well short of 1,000 pods, each named by the sysctl that sets it. Measured
// with bench/density.ts (1,000 user-namespaced pods): which of them crius itself needs, and which the
// pods' processes need. Nothing here blocks a single pod, so none is neededForUserns.
import { ok, warn, type CheckResult } from './check.js';

/** Pods a node should be able to hold (the bench's figure; the kubelet's maxPods is 110 by default). */
const PODS_TARGET = 1000;

export interface CapacityFacts {
  /** /proc/sys/... values; undefined when unreadable. */
  pidMax?: number;
  threadsMax?: number;
  inotifyMaxUserInstances?: number;
  inotifyMaxUserWatches?: number;
  keysMaxKeys?: number;
  keysMaxBytes?: number;
  maxUserNamespaces?: number;
  neighGcThresh3?: number;
  /** Containers' OOM kills are watched with inotify (one instance per conmon) on cgroup v2. */
  cgroupV2: boolean;
  /** The default CNI network's first plugin is `bridge` (a Linux bridge holds at most 1023 ports). */
  bridgeNetwork?: string;
  /** RLIMIT_NOFILE (node raises its soft limit to the hard one at start). */
  openFilesHard?: number;
}

const set = (name: string, value: number): string => `sysctl -w ${name}=${value} (persist it in /etc/sysctl.d/)`;

export function checkCapacity(f: CapacityFacts): CheckResult[] {
  const out: CheckResult[] = [];
  const n = PODS_TARGET;
  // Each pod: conmon, the container's processes and their threads, and the short-lived runtime calls.
  if (f.pidMax !== undefined) {
    const want = 65536;
    out.push(f.pidMax >= want
      ? ok('pids for many pods', `kernel.pid_max = ${f.pidMax}`)
      : warn('pids for many pods', `kernel.pid_max = ${f.pidMax}: every process and thread of every pod and its conmon takes a PID; ${n} pods with a few dozen threads each exhaust it (fork fails with EAGAIN)`,
        set('kernel.pid_max', 4194304)));
  }
  if (f.inotifyMaxUserInstances !== undefined) {
    const want = 8192;
    const why = f.cgroupV2
      ? `conmon watches each container's memory.events with an inotify instance of its own (all owned by root), so the containers past the limit lose OOM detection ("Failed to create inotify fd") and the kubelet's own watches compete for the rest`
      : `the kubelet, and containers that watch files (inotify instances are counted per user), compete for them`;
    out.push(f.inotifyMaxUserInstances >= want
      ? ok('inotify instances', `fs.inotify.max_user_instances = ${f.inotifyMaxUserInstances}`)
      : warn('inotify instances', `fs.inotify.max_user_instances = ${f.inotifyMaxUserInstances}: ${why}`, set('fs.inotify.max_user_instances', want)));
  }
  if (f.inotifyMaxUserWatches !== undefined && f.inotifyMaxUserWatches < 524288) {
    out.push(warn('inotify watches', `fs.inotify.max_user_watches = ${f.inotifyMaxUserWatches}: the kubelet watches every pod's volumes and logs`, set('fs.inotify.max_user_watches', 524288)));
  }
  if (f.keysMaxKeys !== undefined) {
    // crun gives every container a session keyring, charged to the container's host uid: user-namespaced
    // pods each have their own host IDs, but pods without one that run as the same non-root uid share it.
    out.push(f.keysMaxKeys >= n
      ? ok('session keyrings', `kernel.keys.maxkeys = ${f.keysMaxKeys}`)
      : warn('session keyrings', `kernel.keys.maxkeys = ${f.keysMaxKeys} (maxbytes ${f.keysMaxBytes ?? '?'}): the OCI runtime gives every container a session keyring charged to its host uid; ` +
        `more than ${f.keysMaxKeys} containers running as one non-root uid without a user namespace fail to start ("Disk quota exceeded"); user-namespaced pods have host uids of their own`,
        `${set('kernel.keys.maxkeys', 20000)}; ${set('kernel.keys.maxbytes', 400000)}`));
  }
  if (f.maxUserNamespaces !== undefined && f.maxUserNamespaces > 0 && f.maxUserNamespaces < 2 * n) {
    out.push(warn('user namespaces for many pods', `user.max_user_namespaces = ${f.maxUserNamespaces}: every user-namespaced pod holds one`,
      set('user.max_user_namespaces', 65536)));
  }
  if (f.neighGcThresh3 !== undefined && f.neighGcThresh3 < 2 * n) {
    out.push(warn('neighbour table', `net.ipv4.neigh.default.gc_thresh3 = ${f.neighGcThresh3}: the host keeps an ARP entry per pod it talks to; past it the kernel logs "neighbour table overflow" and drops packets`,
      `${set('net.ipv4.neigh.default.gc_thresh3', 8192)} (and gc_thresh2 to 4096)`));
  }
  if (f.bridgeNetwork) {
    out.push(warn('pods per bridge', `the default network "${f.bridgeNetwork}" is a Linux bridge: the kernel attaches at most 1023 ports to one (BR_MAX_PORTS), so at most ~1020 pods run on it (the next pod's veth cannot join it and its RunPodSandbox fails)`,
      'for more pods per node use a network without a bridge, e.g. crius\'s default contrib/cni/10-crius.conflist (ptp, a routed veth per pod)'));
  }
  if (f.openFilesHard !== undefined && f.openFilesHard < 65536) {
    out.push(warn('open files', `RLIMIT_NOFILE hard limit ${f.openFilesHard}: crius holds descriptors per container being created, attached, exec'd into or followed`,
      'raise it where crius is started (LimitNOFILE=1048576 in its systemd unit)'));
  }
  return out;
}

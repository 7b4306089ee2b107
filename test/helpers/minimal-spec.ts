// A hand-written minimal OCI runtime spec for oci/ and pod/ tests (spec/ builds the real ones): busybox
// rootfs, the usual pseudo filesystems, optional pinned namespaces, cgroupsPath and a memory limit.
export interface MinimalSpecOptions {
  args: string[];
  cgroupsPath?: string;
  /** Pinned namespace files to join (net, ipc, uts, pid); the others are created fresh. */
  join?: { net?: string; ipc?: string; uts?: string; pid?: string };
  hostname?: string;
  memoryLimit?: number;
  terminal?: boolean;
  env?: string[];
  oomScoreAdj?: number;
  readonlyRootfs?: boolean;
}

export function minimalSpec(o: MinimalSpecOptions): Record<string, unknown> {
  const nsTypes = ['pid', 'network', 'ipc', 'uts', 'mount'] as const;
  const joinKey: Record<string, 'net' | 'ipc' | 'uts' | 'pid' | undefined> = { pid: 'pid', network: 'net', ipc: 'ipc', uts: 'uts', mount: undefined };
  const namespaces = nsTypes.map((type) => {
    const k = joinKey[type];
    const p = k ? o.join?.[k] : undefined;
    return p ? { type, path: p } : { type };
  });
  const caps = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID', 'CAP_NET_BIND_SERVICE', 'CAP_NET_RAW'];
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: o.terminal ?? false,
      user: { uid: 0, gid: 0 },
      args: o.args,
      env: o.env ?? ['PATH=/bin', 'HOME=/root'],
      cwd: '/',
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      noNewPrivileges: true,
      ...(o.oomScoreAdj !== undefined ? { oomScoreAdj: o.oomScoreAdj } : {}),
    },
    root: { path: 'rootfs', readonly: o.readonlyRootfs ?? false },
    // A spec hostname is applied even in a joined UTS namespace (crun and runc both sethostname()), so a
    // container joining the pod's would overwrite the pod hostname: only set one for a fresh UTS ns.
    ...(o.hostname !== undefined ? { hostname: o.hostname } : o.join?.uts ? {} : { hostname: 'c' }),
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    ],
    linux: {
      namespaces,
      ...(o.cgroupsPath ? { cgroupsPath: o.cgroupsPath } : {}),
      resources: {
        devices: [{ allow: false, access: 'rwm' }],
        ...(o.memoryLimit ? { memory: { limit: o.memoryLimit, swap: o.memoryLimit } } : {}),
      },
      maskedPaths: ['/proc/kcore', '/proc/keys', '/proc/timer_list', '/sys/firmware'],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}

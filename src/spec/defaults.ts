// The default container spec before any option runs: containerd's populateDefaultUnixSpec minus its
// /run tmpfs (the CRI plugin drops it too: images expect /run from their own rootfs).
import type { LinuxDeviceCgroup, Mount, Spec } from './oci-types.js';

/** runtime-spec version written into config.json; crun 1.21 and runc 1.3 both accept it. */
const OCI_VERSION = '1.2.0';

/** PATH when the image sets none (containerd oci.defaultUnixEnv). */
export const DEFAULT_PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The containerd / Docker default capability set (containerd oci.defaultUnixCaps, moby
 * caps.DefaultCapabilities). Inheritable stays empty on purpose (CVE-2022-24769).
 */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

/** Every capability Linux 6.x knows, in kernel number order (capability.h, CAP_CHOWN = 0 .. CAP_CHECKPOINT_RESTORE = 40). */
export const ALL_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL',
  'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT',
  'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE',
  'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG',
  'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

/**
 * Capability names from a /proc/<pid>/status mask ("CapBnd:\t000001fffeffffff"), for
 * RuntimeContext.ownCapabilities: a privileged container can only get what crius itself holds (this
 * host lacks CAP_SYS_RESOURCE, and both crun and runc fail with "capset: Operation not permitted" when
 * asked for it). Bits above CAP_CHECKPOINT_RESTORE are ignored.
 */
export function capabilitiesFromMask(hex: string): string[] {
  const mask = BigInt(`0x${hex.trim() || '0'}`);
  return ALL_CAPABILITIES.filter((_, bit) => (mask >> BigInt(bit)) & 1n);
}

/** containerd oci.defaultUnixSpec maskedPaths (2.x, with /proc/interrupts from 2.1). */
export const DEFAULT_MASKED_PATHS: readonly string[] = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/interrupts',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];

export const DEFAULT_READONLY_PATHS: readonly string[] = [
  '/proc/bus',
  '/proc/fs',
  '/proc/irq',
  '/proc/sys',
  '/proc/sysrq-trigger',
];

/**
 * The mounts every container gets. /dev/shm here is a private tmpfs; withSandboxFiles replaces it with
 * the pod's shared one. nosuid,nodev,noexec matter under a user namespace: mount flags set by a more
 * privileged namespace are locked, and a remount that drops them fails with EPERM.
 */
function defaultMounts(): Mount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
  ];
}

/**
 * Device cgroup: deny everything, then allow the nodes every OCI runtime creates in /dev
 * (runtime-spec config-linux.md "Default Devices") plus pts and ptmx (containerd oci.defaultUnixSpec).
 */
export function defaultDeviceRules(): LinuxDeviceCgroup[] {
  const c = (major: number, minor: number | undefined, access: string): LinuxDeviceCgroup =>
    minor === undefined ? { allow: true, type: 'c', major, access } : { allow: true, type: 'c', major, minor, access };
  return [
    { allow: false, access: 'rwm' },
    c(1, 3, 'rwm'), // /dev/null
    c(1, 5, 'rwm'), // /dev/zero
    c(1, 7, 'rwm'), // /dev/full
    c(1, 8, 'rwm'), // /dev/random
    c(1, 9, 'rwm'), // /dev/urandom
    c(5, 0, 'rwm'), // /dev/tty
    c(5, 1, 'rwm'), // /dev/console
    c(5, 2, 'rwm'), // /dev/ptmx
    c(136, undefined, 'rwm'), // /dev/pts/*
  ];
}

export function defaultSpec(): Spec {
  return {
    ociVersion: OCI_VERSION,
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: [],
      env: [],
      cwd: '/',
      capabilities: {
        bounding: [...DEFAULT_CAPABILITIES],
        effective: [...DEFAULT_CAPABILITIES],
        permitted: [...DEFAULT_CAPABILITIES],
      },
      noNewPrivileges: false,
    },
    root: { path: 'rootfs', readonly: false },
    mounts: defaultMounts(),
    linux: {
      resources: { devices: defaultDeviceRules() },
      namespaces: [{ type: 'mount' }],
      maskedPaths: [...DEFAULT_MASKED_PATHS],
      readonlyPaths: [...DEFAULT_READONLY_PATHS],
    },
  };
}

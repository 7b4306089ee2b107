// `features` outputs of real OCI runtimes, trimmed to the fields crius reads, for unit tests.
// crun 1.21 and runc 1.3.6 are this host's (Debian); runc 1.1.15 is the shape runc 1.1 prints
// (`runc features` since 1.1.0): "user" in linux.namespaces, but no linux.mountExtensions at all.
import type { RuntimeFeatures } from '../../src/oci/features-types.js';

const NAMESPACES = ['cgroup', 'ipc', 'mount', 'network', 'pid', 'user', 'uts'];
const HOOKS = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'];

export const crun121Features: RuntimeFeatures = {
  ociVersionMin: '1.0.0',
  ociVersionMax: '1.1.0+dev',
  hooks: HOOKS,
  mountOptions: ['rw', 'rrw', 'ro', 'rro', 'rbind', 'bind', 'rprivate', 'rslave', 'rshared', 'idmap', 'nosuid', 'nodev', 'noexec', 'tmpcopyup'],
  linux: {
    namespaces: NAMESPACES,
    cgroup: { v1: true, v2: true, systemd: true, systemdUser: true },
    seccomp: { enabled: true },
    apparmor: { enabled: true },
    selinux: { enabled: true },
    mountExtensions: { idmap: { enabled: true } },
  },
  annotations: { 'run.oci.crun.version': '1.21', 'io.github.seccomp.libseccomp.version': '2.5.4' },
};

export const runc136Features: RuntimeFeatures = {
  ociVersionMin: '1.0.0',
  ociVersionMax: '1.2.1',
  hooks: HOOKS,
  mountOptions: ['rw', 'rrw', 'ro', 'rro', 'rbind', 'bind', 'rprivate', 'rslave', 'rshared', 'nosuid', 'nodev', 'noexec', 'tmpcopyup'],
  linux: {
    namespaces: [...NAMESPACES, 'time'].sort(),
    cgroup: { v1: true, v2: true, systemd: true, systemdUser: true, rdma: true },
    seccomp: { enabled: true },
    apparmor: { enabled: true },
    selinux: { enabled: true },
    mountExtensions: { idmap: { enabled: true } },
  },
  annotations: { 'org.opencontainers.runc.version': '1.3.6+ds1', 'org.opencontainers.runc.commit': '1.3.6+ds1-1' },
};

export const runc115Features: RuntimeFeatures = {
  ociVersionMin: '1.0.0',
  ociVersionMax: '1.1.0+dev',
  hooks: HOOKS,
  mountOptions: ['rw', 'rrw', 'ro', 'rro', 'rbind', 'bind', 'rprivate', 'rslave', 'rshared', 'nosuid', 'nodev', 'noexec', 'tmpcopyup'],
  linux: {
    namespaces: NAMESPACES,
    cgroup: { v1: true, v2: true, systemd: true, systemdUser: true },
    seccomp: { enabled: true },
    apparmor: { enabled: true },
    selinux: { enabled: true },
  },
  annotations: { 'org.opencontainers.runc.version': '1.1.15', 'org.opencontainers.runc.commit': 'v1.1.15-0-gbc20cb44', 'org.opencontainers.runc.checkpoint.enabled': 'true' },
};

// The parts of an OCI runtime's `features` JSON (runtime-spec features.md) that crius decides on.
// Capabilities come from the runtime's own report, never from its version string.
export interface RuntimeFeatures {
  ociVersionMin?: string;
  ociVersionMax?: string;
  hooks?: string[];
  mountOptions?: string[];
  linux?: {
    namespaces?: string[];
    capabilities?: string[];
    cgroup?: { v1?: boolean; v2?: boolean; systemd?: boolean; systemdUser?: boolean; rdma?: boolean };
    seccomp?: { enabled?: boolean; actions?: string[]; operators?: string[]; archs?: string[] };
    apparmor?: { enabled?: boolean };
    selinux?: { enabled?: boolean };
    mountExtensions?: { idmap?: { enabled?: boolean } };
  };
  annotations?: Record<string, string>;
}

// crius's own RuntimeDefault seccomp profile.
//
// Choice: allow by default, deny a short list of dangerous syscalls with EPERM. Why not an allowlist
// like Docker's (~370 names, default SCMP_ACT_ERRNO)? An allowlist must track every new syscall on
// every architecture; when it lags, new libc code breaks in containers (glibc's clone3 and
// faccessat2 did, until profiles special-cased them). The capability bounding set already stops most
// privileged syscalls inside the kernel, so the useful job of the filter is to remove kernel attack
// surface that capabilities do NOT guard, or guard against the wrong namespace:
//   - namespace creation (clone/unshare with CLONE_NEW*, setns) and the new mount API: unprivileged
//     user namespaces open large parts of the kernel to the container;
//   - keyrings (add_key, keyctl, request_key): not namespaced;
//   - bpf, perf_event_open, userfaultfd, io_uring_*: frequent sources of kernel exploits;
//   - ptrace, process_vm_*, kcmp, pidfd_getfd: cross-process inspection;
//   - module loading, reboot/kexec, clock setting, acct, iopl/ioperm, syslog, swap, quotas,
//     open_by_handle_at (the "shocker" breakout);
//   - obsolete syscalls no program needs (uselib, ustat, sysfs, vm86, create_module, ...).
// Each group is lifted when the container is granted the capability that legitimately needs it
// (the same gating as moby's profile), so adding CAP_SYS_ADMIN or CAP_SYS_PTRACE keeps working.
// clone3 answers ENOSYS, not EPERM, so libc falls back to clone(2), whose flags can be filtered
// (clone3 passes them in memory, out of seccomp's reach).
import type { LinuxSeccomp, LinuxSyscall } from './oci-types.js';

const EPERM = 1;
const ENOSYS = 38; // same number on x86_64 and arm64 (asm-generic)

/** Syscall groups and the capabilities that lift them (any one of them); [] = never lifted. */
const GATED: ReadonlyArray<{ caps: readonly string[]; names: readonly string[] }> = [
  { caps: [], names: ['add_key', 'keyctl', 'request_key'] },
  { caps: [], names: ['io_uring_setup', 'io_uring_enter', 'io_uring_register'] },
  { caps: [], names: ['create_module', 'get_kernel_syms', 'query_module', 'nfsservctl', 'uselib', 'ustat', 'sysfs', 'vm86', 'vm86old', '_sysctl'] },
  {
    caps: ['CAP_SYS_ADMIN'],
    names: [
      'mount', 'umount', 'umount2', 'pivot_root', 'setns', 'fsopen', 'fsconfig', 'fsmount', 'fspick',
      'open_tree', 'move_mount', 'mount_setattr', 'quotactl', 'quotactl_fd', 'swapon', 'swapoff',
      'lookup_dcookie', 'fanotify_init',
    ],
  },
  { caps: ['CAP_SYS_ADMIN', 'CAP_BPF'], names: ['bpf'] },
  { caps: ['CAP_SYS_ADMIN', 'CAP_PERFMON'], names: ['perf_event_open'] },
  { caps: ['CAP_SYS_PTRACE'], names: ['ptrace', 'process_vm_readv', 'process_vm_writev', 'kcmp', 'pidfd_getfd', 'process_madvise', 'userfaultfd'] },
  { caps: ['CAP_SYS_MODULE'], names: ['init_module', 'finit_module', 'delete_module'] },
  { caps: ['CAP_SYS_BOOT'], names: ['reboot', 'kexec_load', 'kexec_file_load'] },
  { caps: ['CAP_SYS_TIME'], names: ['settimeofday', 'stime', 'clock_settime', 'clock_settime64', 'clock_adjtime', 'clock_adjtime64'] },
  { caps: ['CAP_SYS_PACCT'], names: ['acct'] },
  { caps: ['CAP_SYS_RAWIO'], names: ['iopl', 'ioperm'] },
  { caps: ['CAP_SYSLOG'], names: ['syslog'] },
  { caps: ['CAP_SYS_TTY_CONFIG'], names: ['vhangup'] },
  { caps: ['CAP_DAC_READ_SEARCH'], names: ['open_by_handle_at', 'name_to_handle_at'] },
];

/** CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET (sched.h). */
export const CLONE_NAMESPACE_FLAGS: readonly number[] = [0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000];

/** libseccomp architecture names for a Node process.arch; the native one first. */
export function seccompArchitectures(arch: string): string[] {
  switch (arch) {
    case 'arm64':
      return ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'];
    case 'x64':
      return ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'];
    default:
      // Unknown: let the runtime use the native architecture only; other ABIs then hit the bad-arch
      // action (kill), which is safe.
      return [];
  }
}

/**
 * The RuntimeDefault profile for a container with these (effective/bounding) capabilities.
 * `arch` is process.arch of the host.
 */
export function runtimeDefaultSeccomp(capabilities: readonly string[], arch: string): LinuxSeccomp {
  const has = new Set(capabilities);
  const denied: string[] = [];
  for (const g of GATED) {
    if (g.caps.some((c) => has.has(c))) continue;
    denied.push(...g.names);
  }
  const syscalls: LinuxSyscall[] = [{ names: denied, action: 'SCMP_ACT_ERRNO', errnoRet: EPERM }];
  if (!has.has('CAP_SYS_ADMIN')) {
    // One rule per flag: conditions inside one rule are ANDed, separate rules for a syscall are ORed,
    // and MASKED_EQ(value=mask, valueTwo=expected) matches when that flag bit is set.
    for (const flag of CLONE_NAMESPACE_FLAGS) {
      for (const name of ['clone', 'unshare']) {
        syscalls.push({ names: [name], action: 'SCMP_ACT_ERRNO', errnoRet: EPERM, args: [{ index: 0, value: flag, valueTwo: flag, op: 'SCMP_CMP_MASKED_EQ' }] });
      }
    }
    syscalls.push({ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS });
  }
  const profile: LinuxSeccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls };
  const archs = seccompArchitectures(arch);
  if (archs.length > 0) profile.architectures = archs;
  return profile;
}

// Where the host's OCI runtimes and conmon live. Debian 13 ships crun, runc and conmon in /usr/bin and
// /usr/sbin; on Debian 12 scripts/setup.sh builds them from Debian's source packages into /usr/local/bin
// (the packaged crun 1.8 and runc 1.1 cannot idmap, and installing the newer suite's binaries would
// upgrade libc). /usr/local comes first, as on every PATH, so a locally built runtime wins over an
// older packaged one. A name found nowhere resolves to its packaged path, so errors name a real place.
import { existsSync } from 'node:fs';

const SEARCH_DIRS = ['/usr/local/bin', '/usr/local/sbin', '/usr/bin', '/usr/sbin'] as const;

/** Packaged locations, used when the binary is found nowhere (the error then names where Debian puts it). */
const PACKAGED: Record<HostBinary, string> = {
  crun: '/usr/bin/crun',
  runc: '/usr/sbin/runc',
  conmon: '/usr/bin/conmon',
};

type HostBinary = 'crun' | 'runc' | 'conmon';

/** The first of /usr/local/bin, /usr/local/sbin, /usr/bin, /usr/sbin that holds `name`. */
export function locateHostBinary(name: HostBinary, exists: (p: string) => boolean = existsSync): string {
  for (const dir of SEARCH_DIRS) {
    const candidate = `${dir}/${name}`;
    if (exists(candidate)) return candidate;
  }
  return PACKAGED[name];
}

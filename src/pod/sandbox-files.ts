// The per-pod files every container bind-mounts: /etc/hostname, /etc/hosts, /etc/resolv.conf. Content is
// built by pure functions; writeSandboxFiles is the I/O edge.
import { mkdir, writeFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';

interface DnsConfig {
  servers?: string[];
  searches?: string[];
  options?: string[];
}

/** resolv.conf from the CRI DNSConfig; with none, the host's (as the kubelet's "Default" policy expects). */
function resolvConfContent(dns: DnsConfig | null | undefined, hostResolvConf: string): string {
  const servers = dns?.servers ?? [];
  const searches = dns?.searches ?? [];
  const options = dns?.options ?? [];
  if (servers.length === 0 && searches.length === 0 && options.length === 0) return hostResolvConf;
  const lines: string[] = [];
  if (searches.length > 0) lines.push(`search ${searches.join(' ')}`);
  for (const s of servers) lines.push(`nameserver ${s}`);
  if (options.length > 0) lines.push(`options ${options.join(' ')}`);
  return lines.join('\n') + '\n';
}

/**
 * The hostname of a pod whose config gives none: its name, made an RFC 1123 hostname. Characters other
 * than letters, digits, "-" and "." become "-", labels lose leading and trailing "-", and the whole is cut
 * to 63 characters as the kubelet cuts pod hostnames (the kernel would silently cut at 64 otherwise, and
 * /etc/hostname and /etc/hosts would disagree with it).
 */
export function hostnameFromPodName(name: string): string {
  const labels = name.replace(/[^A-Za-z0-9.-]/g, '-').split('.').map((l) => l.replace(/^-+|-+$/g, '')).filter(Boolean);
  const h = labels.join('.').slice(0, 63).replace(/[-.]+$/, '');
  return h || 'pod';
}

function hostsContent(hostname: string, ip?: string): string {
  const lines = [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'fe00::0\tip6-mcastprefix',
    'fe00::1\tip6-allnodes',
    'fe00::2\tip6-allrouters',
  ];
  if (ip) lines.push(`${ip}\t${hostname}`);
  return lines.join('\n') + '\n';
}

interface SandboxFilePaths {
  hostname: string;
  hosts: string;
  resolvConf: string;
}

/**
 * Writes the files into runDir, owned by 0:0 on disk: in a user-namespaced pod they are bind-mounted with
 * the pod's mapping (idmapped), through which on-disk 0 reads as the pod's root.
 */
export async function writeSandboxFiles(runDir: string, o: { hostname: string; dns?: DnsConfig | null; ip?: string }): Promise<SandboxFilePaths> {
  await mkdir(runDir, { recursive: true, mode: 0o711 });
  const paths = { hostname: join(runDir, 'hostname'), hosts: join(runDir, 'hosts'), resolvConf: join(runDir, 'resolv.conf') };
  let hostResolv = '';
  try {
    hostResolv = await readFile('/etc/resolv.conf', 'utf8');
  } catch { /* a host without resolv.conf: the pod gets an empty one */ }
  await writeFile(paths.hostname, o.hostname + '\n', { mode: 0o644 });
  await writeFile(paths.hosts, hostsContent(o.hostname, o.ip), { mode: 0o644 });
  await writeFile(paths.resolvConf, resolvConfContent(o.dns, hostResolv), { mode: 0o644 });
  return paths;
}

/** Rewrites /etc/hosts once the pod IP is known (CNI runs after the files exist). */
export async function updateHosts(path: string, hostname: string, ip: string | undefined): Promise<void> {
  await writeFile(path, hostsContent(hostname, ip));
}

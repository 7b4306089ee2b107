// The pod's hostname and DNS config become lines of /etc/hostname, /etc/hosts and /etc/resolv.conf, and
// the UTS namespace's hostname: one newline would add a line of the client's choosing to each file.
import { isIP } from 'node:net';
import { invalidArgument } from '../../common/errors.js';
import { noControlChars, shown } from './text.js';

/** HOST_NAME_MAX: sethostname(2) refuses longer names (and /etc/hostname readers truncate). */
const MAX_HOSTNAME_BYTES = 64;
/** RFC 1035 / RFC 1123: a label is at most 63 octets. */
const MAX_LABEL_BYTES = 63;
/** Kubernetes pod validation: MaxDNSSearchPaths and MaxDNSSearchListChars (the kubelet trims to these). */
const MAX_DNS_SEARCHES = 32;
const MAX_DNS_SEARCH_CHARS = 2048;
/** A resolv.conf option ("ndots:5", "timeout:2", "edns0", "single-request-reopen"). */
const OPTION = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,254}$/;
const HOST_LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$/;
// Search domains may carry underscores, and "." alone is the root: what Kubernetes accepts with
// RelaxedDNSSearchValidation (KEP-4427), so the kubelet may send them.
const DOMAIN_LABEL = /^[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?$/;

/** An RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens, <= 63 each, <= 64 in all. */
export function checkHostname(h: string, field: string): void {
  noControlChars(h, field);
  if (h.length === 0) throw invalidArgument(`${field} is empty`);
  if (Buffer.byteLength(h) > MAX_HOSTNAME_BYTES) throw invalidArgument(`${field} ${shown(h)} is ${Buffer.byteLength(h)} bytes; a hostname is at most ${MAX_HOSTNAME_BYTES} (the kernel's HOST_NAME_MAX)`);
  for (const label of h.split('.')) {
    if (label.length > MAX_LABEL_BYTES) throw invalidArgument(`${field} ${shown(h)} has a label of ${label.length} characters; RFC 1123 allows ${MAX_LABEL_BYTES}`);
    if (!HOST_LABEL.test(label)) {
      throw invalidArgument(`${field} ${shown(h)} is not an RFC 1123 hostname: each dot-separated label is letters, digits and inner hyphens`);
    }
  }
}

export interface DnsConfigInput {
  servers?: readonly string[] | null;
  searches?: readonly string[] | null;
  options?: readonly string[] | null;
}

/** servers are IP addresses; searches are DNS names (a trailing dot allowed); options are single words. */
export function checkDnsConfig(dns: DnsConfigInput | null | undefined, field: string): void {
  if (!dns) return;
  (dns.servers ?? []).forEach((s, i) => {
    const f = `${field}.servers[${i}]`;
    noControlChars(s, f);
    if (isIP(s) === 0) throw invalidArgument(`${f} ${shown(s)} is not an IP address; DNS servers are given as IPv4 or IPv6 addresses`);
  });
  const searches = dns.searches ?? [];
  if (searches.length > MAX_DNS_SEARCHES) throw invalidArgument(`${field}.searches has ${searches.length} entries; at most ${MAX_DNS_SEARCHES}`);
  let chars = 0;
  searches.forEach((s, i) => {
    const f = `${field}.searches[${i}]`;
    noControlChars(s, f);
    chars += s.length;
    if (s === '.') return; // the root domain (KEP-4427)
    const name = s.endsWith('.') ? s.slice(0, -1) : s;
    if (name.length === 0 || name.length > 253) throw invalidArgument(`${f} ${shown(s)} is not a DNS name of 1 to 253 characters`);
    for (const label of name.split('.')) {
      if (label.length > MAX_LABEL_BYTES || !DOMAIN_LABEL.test(label)) {
        throw invalidArgument(`${f} ${shown(s)} is not a DNS name: each label is 1 to ${MAX_LABEL_BYTES} letters, digits, hyphens or underscores`);
      }
    }
  });
  if (chars > MAX_DNS_SEARCH_CHARS) throw invalidArgument(`${field}.searches total ${chars} characters; at most ${MAX_DNS_SEARCH_CHARS}`);
  (dns.options ?? []).forEach((o, i) => {
    const f = `${field}.options[${i}]`;
    noControlChars(o, f);
    if (!OPTION.test(o)) throw invalidArgument(`${f} ${shown(o)} is not a resolv.conf option such as "ndots:5": one word of letters, digits, ".", "_", ":" or "-"`);
  });
}

// The node's pod CIDR, as the kubelet sends it in UpdateRuntimeConfig (node.spec.podCIDRs joined by ","
// for dual stack). The kubelet calls it whenever the node's pod CIDR changes and treats an error as
// "not updated", logging it at every node status sync; so it is validated, kept and reported, and never
// refused for being unused. crius's pod addresses come from the CNI configuration (its IPAM ranges), as
// with CRI-O: the value is shown in verbose Status and logged, not written into the CNI config.
import { isIPv4, isIPv6 } from 'node:net';
import { invalidArgument } from '../common/errors.js';

/** Splits and checks "a.b.c.d/n[,x::/m]"; an empty string means "no pod CIDR". Pure. */
export function parsePodCidrs(value: string): string[] {
  if (value.trim() === '') return [];
  const cidrs = value.split(',').map((s) => s.trim());
  if (cidrs.length > 2) throw invalidArgument(`runtime_config.network_config.pod_cidr: at most two CIDRs (one per IP family), got ${cidrs.length}`);
  const bitsOf = cidrs.map((cidr) => {
    const m = /^([^/]+)\/(\d{1,3})$/.exec(cidr);
    const bits = m && isIPv4(m[1]!) ? 32 : m && isIPv6(m[1]!) ? 128 : undefined;
    if (!m || bits === undefined || Number(m[2]) > bits) {
      throw invalidArgument(`runtime_config.network_config.pod_cidr: ${JSON.stringify(cidr.slice(0, 64))} is not an IPv4 or IPv6 CIDR (address/prefix length)`);
    }
    return bits;
  });
  if (bitsOf.length === 2 && bitsOf[0] === bitsOf[1]) {
    throw invalidArgument('runtime_config.network_config.pod_cidr: two CIDRs must be one IPv4 and one IPv6');
  }
  return cidrs;
}

// The networks crius ships must hold a dense node: host-local hands out one address per pod from its
// ranges, and the default (10-crius.conflist, which scripts/setup.sh installs) has no bridge, which the
// kernel would cap at 1023 ports whatever the range: it is ptp, a routed veth per pod (bench/density.ts
// --network ptp ran 1,100 pods on it). 10-crius-bridge.conflist is the bridge form, for up to ~1020 pods.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../helpers/daemon.js';
import { parseNetworkConfig } from '../../../src/network/cni.js';

/** Usable host addresses of an IPv4 CIDR, less the gateway host-local reserves (network, broadcast, .1). */
function podAddresses(cidr: string): number {
  const bits = Number(cidr.split('/')[1]);
  return 2 ** (32 - bits) - 3;
}

test('the default network has no bridge (a bridge takes at most 1023 pods)', () => {
  const file = join(PROJECT_ROOT, 'contrib', 'cni', '10-crius.conflist');
  const list = parseNetworkConfig(readFileSync(file, 'utf8'), file);
  assert.deepEqual(list.plugins.map((p) => p.type), ['ptp', 'portmap']);
});

for (const name of ['10-crius.conflist', '10-crius-bridge.conflist']) test(`${name} has addresses for at least 4,000 pods`, () => {
  const file = join(PROJECT_ROOT, 'contrib', 'cni', name);
  const list = parseNetworkConfig(readFileSync(file, 'utf8'), file);
  const ipam = list.plugins.find((p) => p.type === 'bridge' || p.type === 'ptp')?.['ipam'] as { type: string; ranges: { subnet: string }[][] };
  assert.equal(ipam.type, 'host-local');
  // host-local takes each range set as one pool for one address family; the pods' IPv4 addresses come from
  // the IPv4 sets together.
  const v4 = ipam.ranges.flat().filter((r) => !r.subnet.includes(':'));
  const total = v4.reduce((a, r) => a + podAddresses(r.subnet), 0);
  assert.ok(total >= 4000, `${total} addresses in ${v4.map((r) => r.subnet).join(', ')}`);
});

// UpdatePodSandboxResources refuses kernel-refused CPU values naming the field, before touching the cgroup.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CriusError } from '../../../src/common/errors.js';
import { makePodResourcesHandlers } from '../../../src/cri/pod-resources.js';
import type { PodId } from '../../../src/common/ids.js';

const pod = { id: 'p1' as PodId, name: 'web', namespace: 'default', state: 'ready' as const, runtime: { cgroupParent: '/crius/p1' } };

test('cpu_period 1, cpu_quota -2 and a cpuset beyond the node are INVALID_ARGUMENT; the cgroup is never written', async () => {
  const applied: unknown[] = [];
  const h = makePodResourcesHandlers({ pods: { get: () => pod }, apply: async (_cg, l) => { applied.push(l); }, host: { maxCpu: 3, maxMem: 0 } });
  const bad: [object, RegExp][] = [
    [{ resources: { cpu_period: '1' } }, /^resources\.cpu_period 1 is outside 1000\.\.1000000/],
    [{ overhead: { cpu_quota: '-2' } }, /^overhead\.cpu_quota -2 must be -1/],
    [{ resources: { cpuset_cpus: '0-99999' } }, /^resources\.cpuset_cpus "0-99999" names 99999, but this node's highest is 3/],
  ];
  for (const [req, pattern] of bad) {
    await assert.rejects(h.UpdatePodSandboxResources({ pod_sandbox_id: 'p1', ...req }), (err: unknown) => {
      assert.ok(err instanceof CriusError);
      assert.equal(err.code, 'INVALID_ARGUMENT');
      assert.match(err.message, pattern);
      return true;
    });
  }
  assert.deepEqual(applied, []);
  await h.UpdatePodSandboxResources({ pod_sandbox_id: 'p1', resources: { cpu_period: '100000', cpu_quota: '50000', cpu_shares: '512' } as never });
  assert.equal(applied.length, 1);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkCapacity } from '../../../src/doctor/capacity-checks.js';

const byName = (f: Parameters<typeof checkCapacity>[0]) => new Map(checkCapacity(f).map((c) => [c.name, c]));

test('a host with Debian\'s defaults: each limit that stops 1,000 pods is a warning naming its sysctl', () => {
  const c = byName({
    pidMax: 32768, inotifyMaxUserInstances: 128, inotifyMaxUserWatches: 192530, keysMaxKeys: 200, keysMaxBytes: 20000,
    maxUserNamespaces: 96363, neighGcThresh3: 1024, cgroupV2: true, bridgeNetwork: 'crius', openFilesHard: 20000,
  });
  for (const [name, sysctl] of [
    ['pids for many pods', 'kernel.pid_max'], ['inotify instances', 'fs.inotify.max_user_instances'], ['inotify watches', 'fs.inotify.max_user_watches'],
    ['session keyrings', 'kernel.keys.maxkeys'], ['neighbour table', 'net.ipv4.neigh.default.gc_thresh3'],
  ] as const) {
    const r = c.get(name);
    assert.equal(r?.status, 'warn', name);
    assert.match(r!.detail, new RegExp(sysctl.replace(/\./g, '\\.')), name);
    assert.match(r!.fix, new RegExp(`sysctl -w ${sysctl.replace(/\./g, '\\.')}=`), name);
    assert.equal(r!.neededForUserns, false, 'no capacity limit blocks a single pod');
  }
  assert.match(c.get('inotify instances')!.detail, /conmon watches each container's memory\.events/);
  assert.match(c.get('pods per bridge')!.detail, /1023 ports/);
  assert.equal(c.get('open files')?.status, 'warn');
  assert.equal(c.has('user namespaces for many pods'), false, '96363 user namespaces are plenty');
});

test('a host tuned for many pods: no warnings; cgroup v1 explains inotify without conmon', () => {
  const c = checkCapacity({
    pidMax: 4194304, inotifyMaxUserInstances: 8192, inotifyMaxUserWatches: 1048576, keysMaxKeys: 20000, keysMaxBytes: 400000,
    maxUserNamespaces: 65536, neighGcThresh3: 8192, cgroupV2: false, openFilesHard: 1048576,
  });
  assert.deepEqual(c.filter((r) => r.status !== 'ok').map((r) => r.detail), []);
  const low = byName({ inotifyMaxUserInstances: 128, cgroupV2: false, maxUserNamespaces: 100 });
  assert.doesNotMatch(low.get('inotify instances')!.detail, /conmon/);
  assert.match(low.get('user namespaces for many pods')!.detail, /user\.max_user_namespaces = 100/);
});

test('unreadable sysctls are left out rather than guessed', () => {
  assert.deepEqual(checkCapacity({ cgroupV2: true }), []);
});

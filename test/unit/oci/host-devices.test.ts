import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deviceNode, hostDevices, majorMinor } from '../../../src/oci/host-devices.js';

test('dev_t splits into major and minor as glibc does (large minors included)', () => {
  assert.deepEqual(majorMinor(0x0103n), { major: 1, minor: 3 });
  assert.deepEqual(majorMinor(0x0ae5n), { major: 10, minor: 229 });
  // makedev(259, 0x12345): minor bits above 8 live in bits 20..
  const dev = (259n << 8n) | (0x45n) | (0x123n << 20n);
  assert.deepEqual(majorMinor(dev), { major: 259, minor: 0x12345 });
});

test('the host\'s /dev/null is char 1:3; a regular file or a missing path is no device', async () => {
  assert.deepEqual(await deviceNode('/dev/null'), { type: 'c', major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 });
  assert.equal(await deviceNode('/etc/hostname'), undefined);
  assert.equal(await deviceNode('/nonexistent/dev'), undefined);
});

test('every host device under /dev, without pts, shm, mqueue or console', async () => {
  const all = await hostDevices('/dev');
  assert.deepEqual(all['/dev/null'], { type: 'c', major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 });
  assert.equal(all['/dev/console'], undefined);
  assert.ok(!Object.keys(all).some((p) => p.startsWith('/dev/pts/') || p.startsWith('/dev/shm/') || p.startsWith('/dev/mqueue/')));
  for (const d of Object.values(all)) assert.ok(d.type === 'c' || d.type === 'b');
});

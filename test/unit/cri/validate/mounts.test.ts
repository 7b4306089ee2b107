import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkDevices, checkMounts, unsafeMountDestination } from '../../../../src/cri/validate/mounts.js';
import { invalid } from './helpers.js';

const m = (container_path: string, host_path = '/srv/data') => ({ container_path, host_path });

test('what the kubelet sends stays allowed: termination log, hosts, shm and hugepages volumes, lxcfs, cgroupfs, host /sys', () => {
  checkMounts([
    m('/dev/termination-log', '/var/lib/kubelet/pods/x/containers/c/abc'), m('/etc/hosts', '/var/lib/kubelet/pods/x/etc-hosts'),
    m('/dev/shm', '/var/lib/kubelet/pods/x/volumes/kubernetes.io~empty-dir/dshm'), m('/dev/hugepages'), m('/proc/meminfo', '/var/lib/lxcfs/proc/meminfo'),
    m('/sys/fs/cgroup', '/sys/fs/cgroup'), m('/sys', '/sys'), m('/data'), m('/var/run/secrets/kubernetes.io/serviceaccount'),
  ], 'config.mounts');
});

test('binds over /proc, /dev, /sys, devpts, mqueue, procfs files or / are refused naming the field', () => {
  invalid(() => checkMounts([m('/data'), m('/proc')], 'config.mounts'), /config\.mounts\[1\]\.container_path "\/proc": \/proc is a filesystem the runtime mounts itself/);
  invalid(() => checkMounts([m('/dev')], 'config.mounts'), /config\.mounts\[0\]\.container_path "\/dev"/);
  invalid(() => checkMounts([m('/dev/')], 'config.mounts'), /\/dev is a filesystem the runtime mounts/);
  invalid(() => checkMounts([m('/x/../proc')], 'config.mounts'), /\/proc is a filesystem/);
  invalid(() => checkMounts([m('/sys')], 'config.mounts'), /sysfs; only the host's \/sys may replace it/);
  invalid(() => checkMounts([m('/dev/pts')], 'config.mounts'), /\/dev\/pts is a filesystem/);
  invalid(() => checkMounts([m('/dev/mqueue/x')], 'config.mounts'), /config\.mounts\[0\]\.container_path/);
  invalid(() => checkMounts([m('/proc/sys')], 'config.mounts'), /\/proc\/sys is inside procfs; only \/proc\/cpuinfo/);
  invalid(() => checkMounts([m('/')], 'config.mounts'), /the root filesystem/);
  assert.equal(unsafeMountDestination('/proc/uptime', '/var/lib/lxcfs/proc/uptime'), undefined);
});

test('container_path and host_path: present, absolute, no control characters', () => {
  invalid(() => checkMounts([m('data')], 'config.mounts'), /config\.mounts\[0\]\.container_path "data" is not an absolute path/);
  invalid(() => checkMounts([{ container_path: '/data', host_path: '' }], 'config.mounts'), /config\.mounts\[0\]\.host_path is empty/);
  invalid(() => checkMounts([m('/data', 'srv/data')], 'config.mounts'), /config\.mounts\[0\]\.host_path "srv\/data" is not an absolute path/);
  invalid(() => checkMounts([m('/data\nx')], 'config.mounts'), /container_path .*newline/);
  // An image volume has no host path; it is refused later as unsupported, not here.
  checkMounts([{ container_path: '/img', host_path: '', image: { image: 'busybox' } }], 'config.mounts');
});

test('devices: absolute host path; the node may not go over /dev itself, procfs or sysfs', () => {
  checkDevices([{ host_path: '/dev/null', container_path: '/dev/mynull' }, { host_path: '/dev/fuse', container_path: '' }], 'config.devices');
  invalid(() => checkDevices([{ host_path: 'null', container_path: '/dev/x' }], 'config.devices'), /config\.devices\[0\]\.host_path "null" is not an absolute path/);
  invalid(() => checkDevices([{ host_path: '/dev/null', container_path: '/dev' }], 'config.devices'), /config\.devices\[0\]\.container_path "\/dev": a device node cannot be created at \/dev/);
  invalid(() => checkDevices([{ host_path: '/dev/null', container_path: '/proc/x' }], 'config.devices'), /cannot be created at \/proc\/x/);
});

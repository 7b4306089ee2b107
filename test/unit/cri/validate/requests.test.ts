import { test } from 'node:test';
import { checkContainerConfig, checkPodSandboxConfig } from '../../../../src/cri/validate/requests.js';
import { invalid } from './helpers.js';

const limits = { labelsAnnotationsBytes: 1024, host: { maxCpu: 1, maxMem: 0 } };
const pod = { metadata: { name: 'web', namespace: 'default', uid: 'u1' }, hostname: 'web', log_directory: '/var/log/pods/default_web_u1' };

test('a kubelet-shaped pod and container pass', () => {
  checkPodSandboxConfig({ ...pod, dns_config: { servers: ['10.96.0.10'], searches: ['default.svc.cluster.local'], options: ['ndots:5'] }, labels: { app: 'web' } }, limits);
  checkContainerConfig({ metadata: { name: 'app' }, log_path: 'app/0.log', mounts: [{ container_path: '/dev/termination-log', host_path: '/var/lib/kubelet/x' }], linux: { resources: { cpu_period: '100000', cpu_quota: '20000' } } }, limits);
});

test('each pod field is checked, with its name in the message', () => {
  invalid(() => checkPodSandboxConfig({ ...pod, hostname: 'a\nb' }, limits), /^config\.hostname/);
  // No hostname: the name need not be one (pod/ derives the hostname from it), as critest's long names.
  checkPodSandboxConfig({ ...pod, hostname: '', metadata: { ...pod.metadata, name: 'PodSandbox-for-create-test-0b9f6a52-3cbe-4d2c-9d5c-1f0e1d2c3b4a' } }, limits);
  invalid(() => checkPodSandboxConfig({ ...pod, dns_config: { options: ['a\nb'] } }, limits), /config\.dns_config\.options\[0\]/);
  invalid(() => checkPodSandboxConfig({ ...pod, log_directory: 'rel' }, limits), /config\.log_directory/);
  invalid(() => checkPodSandboxConfig({ ...pod, annotations: { a: 'x'.repeat(2000) } }, limits), /config\.labels and config\.annotations hold 2001 bytes/);
  invalid(() => checkPodSandboxConfig({ ...pod, linux: { resources: { cpu_quota: '-2' } } }, limits), /config\.linux\.resources\.cpu_quota/);
});

test('each container field is checked, with its name in the message', () => {
  invalid(() => checkContainerConfig({ metadata: { name: 'a\0' } }, limits), /config\.metadata\.name/);
  invalid(() => checkContainerConfig({ metadata: { name: 'a' }, log_path: '../x.log' }, limits), /config\.log_path/);
  invalid(() => checkContainerConfig({ metadata: { name: 'a' }, mounts: [{ container_path: '/proc', host_path: '/tmp' }] }, limits), /config\.mounts\[0\]\.container_path/);
  invalid(() => checkContainerConfig({ metadata: { name: 'a' }, devices: [{ host_path: 'x' }] }, limits), /config\.devices\[0\]\.host_path/);
  invalid(() => checkContainerConfig({ metadata: { name: 'a' }, linux: { resources: { cpuset_cpus: '0-99999' } } }, limits), /config\.linux\.resources\.cpuset_cpus/);
  invalid(() => checkContainerConfig({ metadata: { name: 'a' }, labels: { k: 'v'.repeat(1024) } }, limits), /config\.labels and config\.annotations/);
});

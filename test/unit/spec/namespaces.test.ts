import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CriusError } from '../../../src/common/errors.js';
import { defaultSpec } from '../../../src/spec/defaults.js';
import { withHostname, withNamespaces } from '../../../src/spec/namespaces.js';
import type { NamespaceOption, NamespacePaths } from '../../../src/spec/types.js';
import { ctxOf } from '../../helpers/spec-context.js';

function ns(o: NamespaceOption, kind: 'container' | 'sandbox' = 'container', paths?: NamespacePaths) {
  const s = defaultSpec();
  const ctx = ctxOf({ kind, container: { metadata: { name: 'c1' }, linux: { security_context: { namespace_options: o } } }, runtime: paths ? { namespaces: paths } : {} });
  withNamespaces(s, ctx);
  withHostname(s, ctx);
  return { list: s.linux!.namespaces!, hostname: s.hostname };
}

test('POD modes join the pinned paths; PID POD joins the pause PID namespace', () => {
  const { list, hostname } = ns({});
  assert.deepEqual(list, [
    { type: 'mount' },
    { type: 'network', path: '/run/crius/ns/p1/net' },
    { type: 'ipc', path: '/run/crius/ns/p1/ipc' },
    { type: 'uts', path: '/run/crius/ns/p1/uts' },
    { type: 'pid', path: '/proc/42/ns/pid' },
  ]);
  assert.equal(hostname, undefined, 'hostname is set by whoever made the pinned UTS namespace');
});

test('NODE modes leave the namespace out; host network also means host UTS', () => {
  const { list } = ns({ network: 'NODE', ipc: 'NODE', pid: 'NODE' });
  assert.deepEqual(list, [{ type: 'mount' }]);
});

test('PID CONTAINER is a new namespace; TARGET joins the given path or fails', () => {
  assert.deepEqual(ns({ pid: 'CONTAINER' }).list.find((n) => n.type === 'pid'), { type: 'pid' });
  assert.deepEqual(ns({ pid: 'TARGET', target_id: 'abc' }).list.find((n) => n.type === 'pid'), { type: 'pid', path: '/proc/42/ns/pid' });
  assert.throws(() => ns({ pid: 'TARGET', target_id: 'abc' }, 'container', { net: '/n', ipc: '/i', uts: '/u' }), (e: unknown) => e instanceof CriusError && e.code === 'INVALID_ARGUMENT' && /"abc"/.test(e.message));
});

test('a container asking for a pod namespace its pod does not have is INVALID_ARGUMENT; a sandbox creates the namespace and sets the hostname', () => {
  assert.throws(() => ns({}, 'container', {}), (e: unknown) => e instanceof CriusError && e.code === 'INVALID_ARGUMENT' && /network namespace mode is POD, but its pod has no network namespace/.test(e.message));
  assert.throws(() => ns({}, 'container', { net: '/n', ipc: '/i', uts: '/u' }), (e: unknown) => e instanceof CriusError && e.code === 'INVALID_ARGUMENT' && /PID mode is POD \(the default\), but its pod shares no PID namespace/.test(e.message));
  const { list, hostname } = ns({}, 'sandbox', {});
  assert.deepEqual(list, [{ type: 'mount' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'pid' }]);
  assert.equal(hostname, 'p1-host');
});

test('CONTAINER mode for network/ipc is refused', () => {
  assert.throws(() => ns({ network: 'CONTAINER' }), /network namespace mode CONTAINER is not supported/);
});

test('cgroup namespace only on request', () => {
  const s = defaultSpec();
  withNamespaces(s, ctxOf({ runtime: { cgroupNamespace: true } }));
  assert.ok(s.linux!.namespaces!.some((n) => n.type === 'cgroup'));
});

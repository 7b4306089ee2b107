import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CriusError } from '../../../src/common/errors.js';
import {
  checkHostNamespacesWithUserns, containerIdFor, describeUserns, hostIdFor, hostRoot, parseUserNamespace, sameUserns,
  type UserNamespaceInput,
} from '../../../src/userns/mapping-rules.js';

const line = (container_id: number, host_id: number, length: number) => ({ container_id, host_id, length });

function rejects(input: UserNamespaceInput, pattern: RegExp): void {
  assert.throws(() => parseUserNamespace(input), (err: unknown) => {
    assert.ok(err instanceof CriusError);
    assert.equal(err.code, 'INVALID_ARGUMENT');
    assert.match(err.message, pattern);
    return true;
  });
}

describe('parseUserNamespace', () => {
  it('refuses any mapping whose host range includes host ID 0, saying the pod root would be host root', () => {
    rejects({ mode: 'POD', uids: [line(0, 0, 65536)], gids: [line(0, 100000, 65536)] }, /uids\[0\]\.host_id is 0: .*host ID 0.*host's root/);
    rejects({ mode: 'POD', uids: [line(0, 100000, 65536)], gids: [line(0, 0, 1)] }, /gids\[0\]\.host_id is 0/);
    // The lowest range that leaves host 0 out is fine.
    assert.equal(parseUserNamespace({ mode: 'POD', uids: [line(0, 1, 65536)], gids: [line(0, 1, 65536)] }).kind, 'pod');
  });

  it('absent options mean the host user namespace', () => {
    assert.deepEqual(parseUserNamespace(undefined), { kind: 'host' });
    assert.deepEqual(parseUserNamespace(null), { kind: 'host' });
  });

  it('NODE without mappings (what the kubelet sends for hostUsers unset) is the host', () => {
    assert.deepEqual(parseUserNamespace({ mode: 'NODE', uids: [], gids: [] }), { kind: 'host' });
    assert.deepEqual(parseUserNamespace({ mode: 2 }), { kind: 'host' });
  });

  it('NODE with mappings is rejected with the counts', () => {
    rejects({ mode: 'NODE', uids: [line(0, 1000, 10)], gids: [] }, /NODE .*1 uid and 0 gid mappings/);
  });

  it('POD with the kubelet mapping', () => {
    const cfg = parseUserNamespace({ mode: 'POD', uids: [line(0, 65536, 65536)], gids: [line(0, 65536, 65536)] });
    assert.deepEqual(cfg, {
      kind: 'pod', uid: { containerId: 0, hostId: 65536, length: 65536 }, gid: { containerId: 0, hostId: 65536, length: 65536 },
    });
  });

  it('an unset mode is POD (enum value 0)', () => {
    const cfg = parseUserNamespace({ uids: [line(0, 1000, 100000)], gids: [line(0, 1000, 100000)] });
    assert.equal(cfg.kind, 'pod');
  });

  it('accepts critest\'s unaligned 0/1000/100000', () => {
    const cfg = parseUserNamespace({ mode: 'POD', uids: [line(0, 1000, 100000)], gids: [line(0, 1000, 100000)] });
    assert.equal(describeUserns(cfg), 'POD uids 0:1000:100000 gids 0:1000:100000');
  });

  it('POD needs exactly one uid and one gid mapping, and says how many were given', () => {
    rejects({ mode: 'POD', uids: [line(0, 1000, 100000), line(0, 2000, 100000)], gids: [line(0, 1000, 100000)] },
      /exactly one uid and one gid mapping, but 2 uid and 1 gid/);
    rejects({ mode: 'POD', uids: [line(0, 1000, 10)], gids: [] }, /1 uid and 0 gid/);
    rejects({ mode: 'POD' }, /0 uid and 0 gid/);
  });

  it('length must be at least 1', () => {
    rejects({ mode: 'POD', uids: [line(0, 1000, 0)], gids: [line(0, 1000, 10)] }, /uids\[0\]\.length is 0/);
  });

  it('container ID 0 must be mapped (critest {1,1000,100000})', () => {
    rejects({ mode: 'POD', uids: [line(1, 1000, 100000)], gids: [line(1, 1000, 100000)] },
      /uids\[0\]\.container_id is 1: container ID 0 \(root\) must be mapped/);
    rejects({ mode: 'POD', uids: [line(0, 1000, 10)], gids: [line(5, 1000, 10)] }, /gids\[0\]\.container_id is 5/);
  });

  it('the range may not reach host ID 4294967295', () => {
    rejects({ mode: 'POD', uids: [line(0, 4294901760, 65536)], gids: [line(0, 4294901760, 65536)] },
      /4294901760\.\.4294967295.*at most 4294967294/);
    // Ending at 4294967294 is fine.
    const cfg = parseUserNamespace({ mode: 'POD', uids: [line(0, 4294901759, 65536)], gids: [line(0, 4294901759, 65536)] });
    assert.equal(cfg.kind, 'pod');
  });

  it('IDs must be uint32 integers', () => {
    rejects({ mode: 'POD', uids: [line(0, -1, 10)], gids: [line(0, 1, 10)] }, /uids\[0\]\.host_id is -1/);
    rejects({ mode: 'POD', uids: [line(0, 1.5, 10)], gids: [line(0, 1, 10)] }, /host_id is 1\.5/);
  });

  it('a null mapping element is rejected', () => {
    rejects({ mode: 'POD', uids: [null], gids: [line(0, 1, 10)] }, /uids\[0\] is empty/);
  });

  it('CONTAINER and TARGET are unsupported; unknown modes are named', () => {
    rejects({ mode: 'CONTAINER', uids: [line(0, 1000, 10)], gids: [line(0, 1000, 10)] }, /mode CONTAINER is not supported/);
    rejects({ mode: 'TARGET' }, /mode TARGET is not supported/);
    rejects({ mode: 3 }, /mode TARGET is not supported/);
    rejects({ mode: 'BOGUS' }, /"BOGUS" is not a known NamespaceMode/);
    rejects({ mode: 9 }, /mode 9 is not a known NamespaceMode/);
  });

  it('names the field given by the caller', () => {
    assert.throws(() => parseUserNamespace({ mode: 'TARGET' }, 'config.linux.security_context.namespace_options.userns_options'),
      /config\.linux\.security_context\.namespace_options\.userns_options\.mode TARGET/);
  });
});

describe('sameUserns', () => {
  const a = parseUserNamespace({ mode: 'POD', uids: [line(0, 100000, 65536)], gids: [line(0, 100000, 65536)] });
  const b = parseUserNamespace({ mode: 'POD', uids: [line(0, 100000, 65536)], gids: [line(0, 200000, 65536)] });
  const host = parseUserNamespace(undefined);

  it('accepts equal settings', () => {
    sameUserns(a, { ...a });
    sameUserns(host, parseUserNamespace({ mode: 'NODE' }));
  });

  it('rejects different mappings or kinds, showing both', () => {
    assert.throws(() => sameUserns(a, b), (err: unknown) => {
      assert.ok(err instanceof CriusError);
      assert.equal(err.code, 'INVALID_ARGUMENT');
      assert.match(err.message, /sandbox POD uids 0:100000:65536 gids 0:100000:65536, container POD uids 0:100000:65536 gids 0:200000:65536/);
      return true;
    });
    assert.throws(() => sameUserns(a, host), /sandbox POD .*container host/);
    assert.throws(() => sameUserns(host, a), /sandbox host .*container POD/);
  });
});

describe('ID translation', () => {
  const r = { containerId: 0, hostId: 100000, length: 65536 };
  it('maps inside the range and refuses outside', () => {
    assert.equal(hostIdFor(r, 0), 100000);
    assert.equal(hostIdFor(r, 1000), 101000);
    assert.equal(hostIdFor(r, 65535), 165535);
    assert.equal(hostIdFor(r, 65536), undefined);
    assert.equal(hostIdFor(r, -1), undefined);
    assert.equal(containerIdFor(r, 101000), 1000);
    assert.equal(containerIdFor(r, 99999), undefined);
  });
  it('hostRoot is the host pair of container 0:0', () => {
    const cfg = parseUserNamespace({ mode: 'POD', uids: [line(0, 1000, 100000)], gids: [line(0, 2000, 100000)] });
    assert.deepEqual(hostRoot(cfg), { uid: 1000, gid: 2000 });
    assert.deepEqual(hostRoot({ kind: 'host' }), { uid: 0, gid: 0 });
  });
});

describe('checkHostNamespacesWithUserns', () => {
  const pod = parseUserNamespace({ mode: 'POD', uids: [line(0, 100000, 65536)], gids: [line(0, 100000, 65536)] });
  it('allows host namespaces without a user namespace', () => {
    checkHostNamespacesWithUserns({ kind: 'host' }, { network: true, pid: true, ipc: true }, false);
  });
  it('rejects host pid/ipc always and host network unless allowed', () => {
    assert.throws(() => checkHostNamespacesWithUserns(pod, { network: false, pid: true, ipc: true }, true), /host pid, ipc namespace/);
    assert.throws(() => checkHostNamespacesWithUserns(pod, { network: true, pid: false, ipc: false }, false), /host network/);
    checkHostNamespacesWithUserns(pod, { network: true, pid: false, ipc: false }, true);
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseManifest } from '../../../src/cli/manifest/parse.js';
import { parseQuantity } from '../../../src/cli/manifest/quantity.js';
import { containerConfig, expandVars, oomScoreAdj, podQos, pullPolicy, sandboxConfig, USERNS_AUTO_ANNOTATION } from '../../../src/cli/manifest/translate.js';

const POD = `
apiVersion: v1
kind: ConfigMap
metadata: {name: site}
data:
  index.html: "<h1>hi</h1>"
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
data: {token: c2VjcmV0}
stringData: {user: admin}
---
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  hostUsers: false
  initContainers:
  - name: init
    image: busybox
    command: [sh, -c, "echo init"]
  containers:
  - name: httpd
    image: registry.local/busybox:1.36
    command: [httpd, -f, -p, "$(PORT)"]
    env:
    - {name: PORT, value: "8080"}
    - {name: URL, value: "http://x:$(PORT)/$$(PORT)"}
    - name: TOKEN
      valueFrom: {secretKeyRef: {name: creds, key: token}}
    - name: POD
      valueFrom: {fieldRef: {fieldPath: metadata.name}}
    ports: [{containerPort: 8080, hostPort: 18080, hostIP: 127.0.0.1}]
    resources:
      limits: {cpu: 500m, memory: 64Mi}
      requests: {memory: 32Mi}
    volumeMounts:
    - {name: site, mountPath: /www, readOnly: true}
    - {name: data, mountPath: /data, subPath: sub}
    securityContext:
      allowPrivilegeEscalation: false
      capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}
  volumes:
  - name: site
    configMap: {name: site}
  - name: data
    hostPath: {path: /srv/data, type: DirectoryOrCreate}
`;

describe('manifest parsing and validation', () => {
  it('reads a Pod with its ConfigMap and Secret from one stream', () => {
    const m = parseManifest(POD);
    assert.equal(m.pod.metadata.name, 'web');
    assert.equal(m.sources.length, 2);
    const secret = m.sources.find((s) => s.kind === 'Secret')!;
    assert.equal(secret.data.get('token')!.toString(), 'secret');
    assert.equal(secret.data.get('user')!.toString(), 'admin');
    assert.equal(m.sources.find((s) => s.kind === 'ConfigMap')!.data.get('index.html')!.toString(), '<h1>hi</h1>');
  });

  it('names the field path of every problem, all at once', () => {
    const bad = `apiVersion: v1
kind: Pod
metadata: {name: Bad_Name}
spec:
  hostUsers: false
  hostNetwork: true
  containers:
  - name: a
    ports: [{containerPort: 70000}]
    volumeMounts: [{name: nope, mountPath: rel}]
  - {name: a, image: x}
  volumes:
  - {name: v, nfs: {server: x}}
`;
    assert.throws(() => parseManifest(bad, 'bad.yaml'), (err: Error) => {
      for (const want of [
        'metadata.name: "Bad_Name" must be a DNS-1123 subdomain',
        'spec.hostNetwork: may not be true when spec.hostUsers is false',
        'spec.containers[0].image: required',
        'spec.containers[0].ports[0].containerPort: must be an integer from 1 to 65535, got 70000',
        'spec.containers[0].volumeMounts[0].name: no volume named "nope"',
        'spec.containers[0].volumeMounts[0].mountPath: must be an absolute path',
        'spec.containers[1].name: "a" is used by another container',
        'spec.volumes[0].nfs: volume type not supported',
      ]) assert.ok(err.message.includes(want), `missing "${want}" in:\n${err.message}`);
      assert.match(err.message, /^bad\.yaml: invalid manifest/);
      return true;
    });
  });

  it('rejects a pod without containers, a number where a string belongs, and bad YAML', () => {
    assert.throws(() => parseManifest('apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: []}\n'), /spec\.containers: needs at least one container/);
    assert.throws(() => parseManifest('apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: i, env: [{name: N, value: 3}]}]\n'), /spec\.containers\[0\]\.env\[0\]\.value: must be a string, got number \(quote it\)/);
    assert.throws(() => parseManifest('kind: Pod\n  bad: [\n'), /not valid YAML/);
    assert.throws(() => parseManifest('apiVersion: v1\nkind: Service\nmetadata: {name: s}\n'), /kind: "Service" is not something crius run can run/);
  });

  it('reads YAML 1.1 like Kubernetes: defaultMode 0400 is octal', () => {
    const m = parseManifest('apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: i}]\n  volumes: [{name: s, secret: {secretName: s, defaultMode: 0400}}]\n');
    assert.equal(m.pod.spec.volumes![0]!.secret!.defaultMode, 0o400);
  });

  it('runs the first pod template of a Deployment, with a note', () => {
    const m = parseManifest(`apiVersion: apps/v1
kind: Deployment
metadata: {name: dep}
spec:
  replicas: 3
  template:
    metadata: {labels: {app: a}}
    spec:
      containers: [{name: c, image: i}]
`);
    assert.equal(m.pod.metadata.name, 'dep');
    assert.match(m.notes[0]!, /Deployment "dep": running its pod template once \(replicas: 3 ignored\)/);
  });

  it('reports template errors with the workload named', () => {
    assert.throws(() => parseManifest('apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n    spec:\n      containers: [{name: c}]\n'), /\(Deployment d spec\.template\) spec\.containers\[0\]\.image: required/);
  });
});

describe('translation into CRI requests', () => {
  const m = parseManifest(POD);
  const pod = m.pod;
  const lookup = (kind: 'ConfigMap' | 'Secret', name: string) => m.sources.find((s) => s.kind === kind && s.name === name)?.data;

  it('RunPodSandbox: metadata, kubelet log dir, hostPort, PID CONTAINER, userns POD asking the daemon for a range', () => {
    const c = sandboxConfig({ pod, podUid: 'u1', logDirectory: '/logs/default_web_u1' }) as any;
    assert.deepEqual(c.metadata, { name: 'web', namespace: 'default', uid: 'u1', attempt: 0 });
    assert.equal(c.hostname, 'web');
    assert.equal(c.log_directory, '/logs/default_web_u1');
    assert.deepEqual(c.port_mappings, [{ protocol: 'TCP', container_port: 8080, host_port: 18080, host_ip: '127.0.0.1' }]);
    assert.deepEqual(c.linux.security_context.namespace_options, { network: 'POD', pid: 'CONTAINER', ipc: 'POD', userns_options: { mode: 'POD', uids: [], gids: [] } });
    assert.equal(c.annotations[USERNS_AUTO_ANNOTATION], 'true');
    assert.equal(c.labels['io.kubernetes.pod.uid'], 'u1');
    assert.equal(c.labels['app'], 'web');
  });

  it('hostUsers unset: userns mode NODE (as the kubelet sends it), no annotation; shareProcessNamespace gives PID POD', () => {
    const p = parseManifest('apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  shareProcessNamespace: true\n  containers: [{name: c, image: i}]\n').pod;
    const c = sandboxConfig({ pod: p, podUid: 'u', logDirectory: '/l' }) as any;
    assert.deepEqual(c.linux.security_context.namespace_options, { network: 'POD', pid: 'POD', ipc: 'POD', userns_options: { mode: 'NODE', uids: [], gids: [] } });
    assert.equal(c.annotations[USERNS_AUTO_ANNOTATION], undefined);
  });

  it('CreateContainer: env, $(VAR), mounts all idmapped with the pod range (termination log included), resources', () => {
    const c = containerConfig({
      pod, podUid: 'u1', container: pod.spec.containers[0]!, range: { hostId: 2147483648, length: 65536 },
      volumes: new Map([['site', '/v/site'], ['data', '/srv/data']]), terminationLog: '/v/term/httpd', lookup, memoryCapacity: 2 ** 30,
    }) as any;
    assert.deepEqual(c.command, ['httpd', '-f', '-p', '8080']);
    const env = Object.fromEntries(c.envs.map((e: { key: string; value: Buffer }) => [e.key, e.value.toString()]));
    assert.deepEqual(env, { PORT: '8080', URL: 'http://x:8080/$(PORT)', TOKEN: 'secret', POD: 'web' });
    const map = [{ container_id: 0, host_id: 2147483648, length: 65536 }];
    assert.equal(c.mounts.length, 3);
    for (const mt of c.mounts) { assert.deepEqual(mt.uidMappings, map); assert.deepEqual(mt.gidMappings, map); }
    assert.deepEqual(c.mounts.map((x: any) => [x.container_path, x.host_path, x.readonly]), [['/www', '/v/site', true], ['/data', '/srv/data/sub', false], ['/dev/termination-log', '/v/term/httpd', false]]);
    assert.equal(c.log_path, 'httpd/0.log');
    assert.deepEqual(c.linux.security_context.namespace_options.userns_options, { mode: 'POD', uids: map, gids: map });
    assert.equal(c.linux.security_context.no_new_privs, true);
    assert.deepEqual(c.linux.security_context.capabilities, { add_capabilities: ['NET_BIND_SERVICE'], drop_capabilities: ['ALL'] });
    assert.equal(c.linux.resources.cpu_quota, '50000');
    assert.equal(c.linux.resources.cpu_period, '100000');
    assert.equal(c.linux.resources.cpu_shares, '512');
    assert.equal(c.linux.resources.memory_limit_in_bytes, String(64 * 2 ** 20));
    assert.equal(c.linux.resources.oom_score_adj, String(1000 - Math.floor(1000 * 32 / 1024)));
  });

  it('a missing secret key is an error naming it', () => {
    assert.throws(() => containerConfig({ pod, podUid: 'u', container: pod.spec.containers[0]!, volumes: new Map([['site', '/a'], ['data', '/b']]), lookup: () => undefined, memoryCapacity: 1 }), /key "token" of Secret "creds" not found/);
  });

  it('QoS and oom_score_adj as the kubelet computes them', () => {
    const g = parseManifest('apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: i, resources: {limits: {cpu: "1", memory: 1Gi}}}]\n').pod;
    assert.equal(podQos(g), 'Guaranteed');
    assert.equal(oomScoreAdj(g, g.spec.containers[0]!, 2 ** 32), -997);
    const b = parseManifest('apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: i}]\n').pod;
    assert.equal(podQos(b), 'BestEffort');
    assert.equal(oomScoreAdj(b, b.spec.containers[0]!, 2 ** 32), 1000);
  });

  it('quantities, $(VAR) expansion and pull policy', () => {
    assert.equal(parseQuantity('500m', 'cpu'), 500);
    assert.equal(parseQuantity(2, 'cpu'), 2000);
    assert.equal(parseQuantity('128Mi', 'bytes'), 134217728);
    assert.equal(parseQuantity('1G', 'bytes'), 1e9);
    assert.throws(() => parseQuantity('12 parsecs', 'bytes'), /not a quantity/);
    assert.equal(expandVars('$(A)-$$(A)-$(B)', new Map([['A', '1']])), '1-$(A)-$(B)');
    assert.equal(pullPolicy({ name: 'c', image: 'busybox' }), 'Always');
    assert.equal(pullPolicy({ name: 'c', image: 'localhost:5000/busybox:1.36' }), 'IfNotPresent');
    assert.equal(pullPolicy({ name: 'c', image: 'localhost:5000/busybox' }), 'Always');
  });
});

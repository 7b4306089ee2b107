// `crius run` end to end through the real daemon, checked the way a person would: ids and uid_map inside,
// volume ownership inside and on disk, the hostPort on 127.0.0.1, logs, exit codes; the daemon's host ID
// ranges (disjoint, reused after removal, kept across a daemon restart); field-path errors.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CRIUS, PROJECT_ROOT, waitFor, type TestDaemon } from '../../helpers/daemon.js';
import { startCriNode, type CriNode } from '../../helpers/cri-fixture.js';
import { busyboxImage, writeOciLayoutTar } from '../../helpers/build-image.js';

const skip = process.getuid?.() !== 0 ? 'needs root' : !existsSync(CRIUS) ? `${CRIUS} missing` : false;

let node: CriNode;
let daemon: TestDaemon;
let data: string;

function crius(args: string[], input?: string, timeoutMs = 120_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CRIUS, '--socket', daemon.socket, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
    p.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
    p.on('exit', (code) => { clearTimeout(t); resolve({ code, stdout, stderr }); });
    p.stdin.end(input ?? '');
  });
}

function example(): string {
  return readFileSync(join(PROJECT_ROOT, 'examples', 'userns-pod.yaml'), 'utf8')
    .replace('127.0.0.1:5055/crius/busybox:latest', node.image)
    .replace('/var/tmp/crius-example-data', data);
}

const pod = (name: string, script: string, extra = ''): string => `apiVersion: v1
kind: Pod
metadata: {name: ${name}}
spec:
  hostUsers: false
  restartPolicy: Never
${extra}  containers:
  - name: main
    image: ${node.image}
    command: [sh, -c, ${JSON.stringify(script)}]
`;

async function podsJson(): Promise<Array<{ name: string; userns: { uids: { host_id: number; length: number }[] } | null }>> {
  const r = await crius(['pods', '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

const hostIdOf = async (name: string): Promise<number> => (await podsJson()).find((p) => p.name === name)!.userns!.uids[0]!.host_id;

before(async () => {
  if (skip) return;
  node = await startCriNode({ tag: 'cl', subnet: 111 });
  daemon = node.daemon;
  data = mkdtempSync('/var/tmp/crius-cli-data-');
  chmodSync(data, 0o755);
  writeFileSync(join(data, 'owned-by-1000'), 'x');
  chownSync(join(data, 'owned-by-1000'), 1000, 1000);
});

after(async () => {
  if (skip) return;
  await crius(['rm', '--all']).catch(() => undefined);
  if (daemon !== node.daemon) await daemon.stop();
  await node?.cleanup();
  rmSync(data, { recursive: true, force: true });
});

test('the userns example: ids, volume ownership inside and on disk, hostPort on 127.0.0.1, inspect, rm cleans up', { skip }, async () => {
  const r = await crius(['run', '--detach', '-'], example());
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /user namespace, host IDs (\d+)-(\d+)/);
  const H = await hostIdOf('userns-web');
  assert.ok(H >= 2 ** 31, `host range from [userns] subid_start (2^31), got ${H}`);
  let logs = '';
  await waitFor(async () => { logs = (await crius(['logs', 'userns-web'])).stdout; return logs.includes('serving'); }, 20_000, 'the example to serve');
  assert.match(logs, /id: uid=0\(root\) gid=0\(root\)/);
  assert.match(logs, new RegExp(`uid_map:\\s+0\\s+${H}\\s+65536`));
  assert.match(logs, /owned-by-1000 \(hostPath\) owner inside: 1000:1000/);
  assert.match(logs, /written-by-pod-root owner inside: 0:0/);
  assert.match(logs, /index\.html \(configMap\) owner inside: 0:0/);
  assert.match(logs, /\(emptyDir\) file owner inside: 0:0/);
  const st = statSync(join(data, 'written-by-pod-root'));
  assert.equal(`${st.uid}:${st.gid}`, '0:0', "the pod's root writes 0:0 on disk, not its host ID");
  let body = '';
  await waitFor(async () => {
    try { body = await (await fetch('http://127.0.0.1:18080/')).text(); return true; } catch { return false; }
  }, 10_000, 'http://127.0.0.1:18080/ (hostPort)');
  assert.match(body, /hello from a user-namespaced pod/);
  const ins = await crius(['inspect', 'userns-web']);
  assert.equal(ins.code, 0, ins.stderr);
  assert.match(ins.stdout, new RegExp(`uids: container 0-65535 -> host ${H}-${H + 65535}`));
  assert.match(ins.stdout, /\/www <- .*configmap\/site \(ro\): idmapped/);
  const ps = await crius(['ps']);
  assert.match(ps.stdout, /web\s+userns-web/);
  const ex = await crius(['exec', 'userns-web', '--', 'sh', '-c', 'id -u; exit 4']);
  assert.equal(ex.code, 4);
  assert.equal(ex.stdout.trim(), '0');
  const dir = JSON.parse((await crius(['inspect', 'userns-web', '--json'])).stdout).pod.annotations['io.crius.run/volumes-dir'] as string;
  assert.ok(existsSync(dir));
  const rm = await crius(['rm', 'userns-web']);
  assert.equal(rm.code, 0, rm.stderr);
  assert.ok(!existsSync(dir), 'volume dir removed');
  assert.ok(!readFileSync('/proc/self/mountinfo', 'utf8').includes(dir), 'nothing left mounted');
  assert.deepEqual((await podsJson()).filter((p) => p.name === 'userns-web'), []);
});

test('foreground run: init containers in order, logs followed, exit code of the main container, secrets', { skip }, async () => {
  const yaml = pod('exit3', 'cat /init/order; echo token=$(cat /sec/token) owner=$(stat -c %u:%g /sec/token) mode=$(stat -c %a /sec/token); echo TOKEN=$TOKEN; exit 3', `  initContainers:
  - {name: one, image: ${node.image}, command: [sh, -c, "echo one >> /init/order"], volumeMounts: [{name: w, mountPath: /init}]}
  - {name: two, image: ${node.image}, command: [sh, -c, "echo two >> /init/order"], volumeMounts: [{name: w, mountPath: /init}]}
  volumes:
  - {name: w, emptyDir: {medium: Memory}}
  - name: sec
    secret: {secretName: creds, defaultMode: 0400}
`).replace('    command:', '    volumeMounts: [{name: w, mountPath: /init}, {name: sec, mountPath: /sec}]\n    env: [{name: TOKEN, valueFrom: {secretKeyRef: {name: creds, key: token}}}]\n    command:');
  const volumesRoot = join(daemon.state, 'run-volumes');
  const before = existsSync(volumesRoot) ? readdirSync(volumesRoot).length : 0;
  const r = await crius(['run', '--rm', '--from-literal', 'secret/creds/token=s3cret', '-'], yaml);
  assert.equal(r.code, 3, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /one\ntwo\n/);
  assert.match(r.stdout, /token=s3cret owner=0:0 mode=400/);
  assert.match(r.stdout, /TOKEN=s3cret/);
  assert.deepEqual((await podsJson()).filter((p) => p.name === 'exit3'), [], '--rm removed the pod');
  assert.equal(readdirSync(volumesRoot).length, before, 'its volumes (and the tmpfs mounts) are gone');
});

test('host ID ranges: disjoint for live pods, reused after removal, kept across a daemon restart', { skip }, async () => {
  for (const n of ['ra', 'rb']) assert.equal((await crius(['run', '--detach', '-'], pod(n, 'sleep 1000'))).code, 0);
  const a = await hostIdOf('ra');
  const b = await hostIdOf('rb');
  assert.ok(Math.abs(a - b) >= 65536, `disjoint: ${a} ${b}`);
  assert.equal((await crius(['rm', 'ra'])).code, 0);
  assert.equal((await crius(['run', '--detach', '-'], pod('rc', 'sleep 1000'))).code, 0);
  assert.equal(await hostIdOf('rc'), a, 'the freed range is reused');
  await daemon.stop();
  daemon = await daemon.restart();
  assert.equal(await hostIdOf('rb'), b, 'kept across the restart');
  assert.equal(await hostIdOf('rc'), a);
  assert.equal((await crius(['run', '--detach', '-'], pod('rd', 'sleep 1000'))).code, 0);
  const d = await hostIdOf('rd');
  assert.ok(d !== a && d !== b, `a new pod after the restart gets a free range, got ${d}`);
  for (const n of ['rb', 'rc', 'rd']) assert.equal((await crius(['rm', n])).code, 0);
});

test('a bad manifest gets field-path errors and creates nothing', { skip }, async () => {
  const r = await crius(['run', '-'], 'apiVersion: v1\nkind: Pod\nmetadata: {name: bad}\nspec:\n  hostUsers: false\n  containers:\n  - name: c\n    ports: [{containerPort: 80, hostPort: 99999}]\n');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /spec\.containers\[0\]\.image: required/);
  assert.match(r.stderr, /spec\.containers\[0\]\.ports\[0\]\.hostPort: must be an integer from 1 to 65535, got 99999/);
  assert.deepEqual((await podsJson()).filter((p) => p.name === 'bad'), []);
});

test('crius image import: an OCI layout tar becomes a named image that crius run uses without a registry; exec -i streams stdin', { skip }, async () => {
  const tar = join(data, 'image.tar');
  await writeOciLayoutTar(tar, await busyboxImage('gzip', { Cmd: ['sh'], Env: ['PATH=/bin'] }), 'imported');
  const imp = await crius(['image', 'import', tar, 'crius.local/imported/busybox:1.0']);
  assert.equal(imp.code, 0, imp.stderr);
  assert.match(imp.stdout, /^sha256:[0-9a-f]{64}$/m);
  const ls = await crius(['images']);
  assert.match(ls.stdout, /crius\.local\/imported\/busybox:1\.0/);
  const yaml = pod('imported', 'echo from-imported; sleep 1000').replace(node.image, 'crius.local/imported/busybox:1.0');
  const r = await crius(['run', '--detach', '-'], yaml);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /pulling/, 'IfNotPresent (tag 1.0) and present: no pull');
  await waitFor(async () => (await crius(['logs', 'imported/main'])).stdout.includes('from-imported'), 10_000, 'the imported image to run');
  const ex = await crius(['exec', '-i', 'imported', '--', 'sh', '-c', 'cat; echo done; exit 5'], 'over-the-websocket\n');
  assert.equal(ex.code, 5, ex.stderr);
  assert.equal(ex.stdout, 'over-the-websocket\ndone\n');
  assert.equal((await crius(['rm', 'imported'])).code, 0);
  assert.equal((await crius(['image', 'rm', 'crius.local/imported/busybox:1.0'])).code, 0);
});

test('Ctrl-C on a foreground crius run stops and removes the pod and its volumes', { skip }, async () => {
  const yaml = pod('interrupted', 'echo up; sleep 1000', '  volumes: [{name: m, emptyDir: {medium: Memory}}]\n').replace('    command:', '    volumeMounts: [{name: m, mountPath: /m}]\n    command:');
  const p = spawn(process.execPath, [CRIUS, '--socket', daemon.socket, 'run', '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
  p.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
  const exit = new Promise<number | null>((resolve) => p.on('exit', (code) => resolve(code)));
  p.stdin.end(yaml);
  await waitFor(() => stdout.includes('up'), 20_000, 'the pod to print "up"');
  const dir = JSON.parse((await crius(['inspect', 'interrupted', '--json'])).stdout).pod.annotations['io.crius.run/volumes-dir'] as string;
  assert.ok(readFileSync('/proc/self/mountinfo', 'utf8').includes(dir), 'the Memory emptyDir is a tmpfs');
  p.kill('SIGINT');
  assert.equal(await exit, 130, stderr);
  assert.match(stderr, /interrupted: stopping and removing pod interrupted/);
  assert.deepEqual((await podsJson()).filter((x) => x.name === 'interrupted'), []);
  assert.ok(!existsSync(dir));
  assert.ok(!readFileSync('/proc/self/mountinfo', 'utf8').includes(dir), 'the tmpfs is unmounted');
});

test('hostUsers unset runs in the host user namespace; the daemon refuses io.crius.userns/auto together with explicit mappings', { skip }, async () => {
  const yaml = pod('hostns', 'cat /proc/self/uid_map').replace('  hostUsers: false\n', '');
  const r = await crius(['run', '--rm', '-'], yaml);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^\s+0\s+0\s+4294967295$/m);
  const m = { container_id: 0, host_id: 3_000_000_000, length: 65536 };
  await assert.rejects(daemon.client.call('runtime', 'RunPodSandbox', { config: {
    metadata: { name: 'both', namespace: 'default', uid: 'both-1', attempt: 0 },
    annotations: { 'io.crius.userns/auto': 'true' },
    linux: { security_context: { namespace_options: { userns_options: { mode: 'POD', uids: [m], gids: [m] } } } },
  } }), /io\.crius\.userns\/auto="true" asks crius to choose the host ID range, but userns_options already has mode POD with 1 uid \/ 1 gid mappings/);
});

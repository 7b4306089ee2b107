import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Runner } from '../../../src/common/exec.js';
import { parseManifest } from '../../../src/cli/manifest/parse.js';
import { mountsUnderDeepestFirst, prepareVolumes, removeVolumes } from '../../../src/cli/volumes.js';
import { parseMountInfo } from '../../../src/common/mountinfo.js';
import { commandLineSources } from '../../../src/cli/run.js';

function fakeRunner(calls: string[][]): Runner {
  return async (file, args) => { calls.push([file, ...args]); return { stdout: '', stderr: '', code: 0 } as never; };
}

const yaml = (host: string): string => `apiVersion: v1
kind: ConfigMap
metadata: {name: site}
data: {index.html: hi, app.ini: "x=1"}
---
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers: [{name: c, image: i}]
  volumes:
  - {name: site, configMap: {name: site, items: [{key: index.html, path: www/index.html, mode: 0600}]}}
  - {name: sec, secret: {secretName: creds}}
  - {name: host, hostPath: {path: ${host}, type: DirectoryOrCreate}}
  - {name: mem, emptyDir: {medium: Memory}}
  - {name: disk, emptyDir: {}}
`;

describe('crius run volumes', () => {
  it('materialises configMap files with their modes, secrets and Memory emptyDirs on tmpfs, hostPath created, a termination log per container', async () => {
    const state = mkdtempSync(join(tmpdir(), 'crius-vol-unit-'));
    try {
      const m = parseManifest(yaml(join(state, 'made', 'here')));
      const sources = commandLineSources({ configmaps: [], secrets: [], literals: ['secret/creds/token=t'] }, m.sources);
      const calls: string[][] = [];
      const v = await prepareVolumes({ stateDir: state, pod: m.pod, podUid: 'uid1', lookup: (k, n) => sources.find((s) => s.kind === k && s.name === n), runner: fakeRunner(calls) });
      assert.equal(v.dir, join(state, 'run-volumes', 'uid1'));
      assert.equal(statSync(v.dir).mode & 0o777, 0o711);
      const site = v.byName.get('site')!;
      assert.equal(readFileSync(join(site, 'www', 'index.html'), 'utf8'), 'hi');
      assert.equal(statSync(join(site, 'www', 'index.html')).mode & 0o777, 0o600);
      assert.ok(!existsSync(join(site, "app.ini")), "items select keys");
      assert.equal(readFileSync(join(v.byName.get('sec')!, 'token'), 'utf8'), 't');
      assert.ok(statSync(join(state, 'made', 'here')).isDirectory());
      assert.equal(statSync(v.byName.get('disk')!).mode & 0o777, 0o777);
      assert.deepEqual(calls.map((c) => c.at(-1)), [v.byName.get('sec'), v.byName.get('mem')], 'tmpfs for the secret and the Memory emptyDir');
      assert.equal(statSync(v.terminationLog('c')).mode & 0o777, 0o666);
      await removeVolumes(v.dir, fakeRunner([]));
      assert.ok(!existsSync(v.dir));
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  });

  it('names what is missing: a ConfigMap nobody gave, a hostPath of the wrong type', async () => {
    const state = mkdtempSync(join(tmpdir(), 'crius-vol-unit-'));
    try {
      const m = parseManifest(yaml(join(state, 'x')).replace('name: site, configMap: {name: site', 'name: site, configMap: {name: other'));
      await assert.rejects(prepareVolumes({ stateDir: state, pod: m.pod, podUid: 'u', lookup: () => undefined, runner: fakeRunner([]) }), /volume "site": ConfigMap "other" not found: put it in the same YAML stream/);
      assert.ok(!existsSync(join(state, 'run-volumes', 'u')), 'what was made is removed');
      writeFileSync(join(state, 'file'), '');
      const m2 = parseManifest(yaml(join(state, 'file')));
      await assert.rejects(prepareVolumes({ stateDir: state, pod: m2.pod, podUid: 'u', lookup: () => ({ kind: 'ConfigMap', name: 'x', data: new Map([['index.html', Buffer.from('')]]) }), runner: fakeRunner([]) }),
        /hostPath .*file\): type DirectoryOrCreate but it exists and is not a directory/);
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  });

  it('finds mounts under a dir deepest first and refuses to remove other directories', async () => {
    const info = ['1 2 0:1 / /r/run-volumes/u rw - tmpfs t rw', '3 1 0:2 / /r/run-volumes/u/secret/s rw - tmpfs t rw', '4 1 0:3 / /r/run-volumes/u2 rw - tmpfs t rw', '5 1 0:3 / /r/run-volumes/u/with\\040space rw - tmpfs t rw'].join('\n');
    assert.deepEqual(mountsUnderDeepestFirst('/r/run-volumes/u', parseMountInfo(info)), ['/r/run-volumes/u/with space', '/r/run-volumes/u/secret/s', '/r/run-volumes/u']);
    await assert.rejects(removeVolumes('/etc'), /not a crius run volume directory/);
  });

  it('command-line ConfigMaps and Secrets: files, directories, literals', () => {
    const d = mkdtempSync(join(tmpdir(), 'crius-src-'));
    try {
      writeFileSync(join(d, 'a.txt'), 'A');
      const s = commandLineSources({ configmaps: [`f=${join(d, 'a.txt')}`, `dir=${d}`], secrets: [], literals: ['configmap/f/k=v=w'] }, []);
      assert.deepEqual([...s.find((x) => x.name === 'f')!.data.keys()], ['a.txt', 'k']);
      assert.equal(s.find((x) => x.name === 'f')!.data.get('k')!.toString(), 'v=w');
      assert.equal(s.find((x) => x.name === 'dir')!.data.get('a.txt')!.toString(), 'A');
      assert.throws(() => commandLineSources({ configmaps: [], secrets: [], literals: ['nope'] }, []), /expected configmap\/NAME\/KEY=VALUE/);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});

// Real containers through conmon with crun and runc 1.3: logs, exit codes 0/1/137, OOM, ExecSync with
// output and timeout, log reopen, update, conmon outliving its parent, and no leaks.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../../helpers/daemon.js';
import { readFile, rename, stat, readdir } from 'node:fs/promises';
import path from 'node:path';
import { errorCode } from '../../../src/common/errors.js';
import { run, useSpawner } from '../../../src/common/exec.js';
import { Spawner } from '../../../src/common/spawner.js';
import { nativeBuildPath } from '../../../src/common/install-root.js';
import { parseCriLog } from '../../../src/oci/cri-log.js';
import { ExitWatcher, type ExitEvent } from '../../../src/oci/exit-files.js';
import { processAlive, processStartTime } from '../../../src/oci/process-liveness.js';
import { cgroupDirs } from '../../../src/cgroup/mode.js';
import { createOciFixture, HANDLERS, ociUnavailable, type OciFixture } from '../../helpers/oci-fixture.js';
import { pidsWithCmdline } from '../../helpers/stream-container.js';

async function rejectsCode(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.equal(errorCode(err), code, `expected ${code}, got ${String(err)}`);
    return true;
  });
}

function ppidOf(stat: string): number {
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

for (const handler of HANDLERS) {
  const skip = ociUnavailable(handler.path);
  describe(`oci runtime ${handler.name} through conmon`, { skip: skip ?? false }, () => {
    let fx: OciFixture;
    before(async () => { fx = await createOciFixture(handler); });
    after(async () => {
      const leaks = await fx.cleanup();
      assert.deepEqual(leaks, [], 'nothing leaks: conmon, cgroups, mounts');
    });

    it('runs a container to exit 0 and writes a CRI log with partial lines; exit watcher reports it', async () => {
      const watcher = new ExitWatcher(fx.exitDir, 500);
      const events: ExitEvent[] = [];
      watcher.on('exit', (e: ExitEvent) => events.push(e));
      const c = await fx.create({ args: ['/bin/sh', '-c', 'echo out; echo err >&2; printf partial; sleep 0.2; echo; exit 0'] });
      watcher.start();
      try {
        assert.ok(c.created.pid > 0 && c.created.conmonPid > 0);
        assert.equal((await fx.runtime.state(c.id)).status, 'created');
        await fx.runtime.start(c.id);
        const exit = await fx.waitExit(c);
        assert.equal(exit.exitCode, 0);
        assert.equal(exit.oomKilled, false);
        assert.ok(Math.abs(exit.finishedAt.getTime() - Date.now()) < 60_000);
        assert.match(exit.finishedAtNs, /^\d{19}$/);
        for (let i = 0; i < 100 && !events.some((e) => e.id === c.id); i++) await new Promise((r) => setTimeout(r, 20));
        assert.deepEqual(events.filter((e) => e.id === c.id), [{ id: c.id, exitCode: 0 }]);
        const recs = parseCriLog(await readFile(c.logPath, 'utf8'));
        const out = recs.filter((r) => r.stream === 'stdout').map((r) => [r.partial, r.content]);
        assert.deepEqual(out, [[false, 'out'], [true, 'partial'], [false, '']]);
        assert.deepEqual(recs.filter((r) => r.stream === 'stderr').map((r) => r.content), ['err']);
        assert.match(recs[0]?.time ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+[+-]\d\d:\d\d$/);
        assert.equal((await fx.runtime.state(c.id)).status, 'stopped');
        await fx.runtime.delete(c.id);
        await rejectsCode(fx.runtime.state(c.id), 'NOT_FOUND');
        await rejectsCode(fx.runtime.delete(c.id), 'NOT_FOUND');
      } finally {
        watcher.stop();
      }
    });

    it('reports exit 1 and 137 after SIGKILL; signalling a stopped container is NOT_FOUND', async () => {
      const c1 = await fx.create({ args: ['/bin/sh', '-c', 'exit 1'] });
      await fx.runtime.start(c1.id);
      assert.equal((await fx.waitExit(c1)).exitCode, 1);
      const c2 = await fx.create({ args: ['/bin/sleep', '1000'] });
      await fx.runtime.start(c2.id);
      const st = await fx.runtime.state(c2.id);
      assert.equal(st.status, 'running');
      assert.ok(st.pid > 0);
      await fx.runtime.kill(c2.id, 'SIGKILL');
      const e = await fx.waitExit(c2);
      assert.equal(e.exitCode, 137);
      await rejectsCode(fx.runtime.kill(c2.id, 'SIGTERM'), 'NOT_FOUND');
      await fx.runtime.delete(c1.id);
      await fx.runtime.delete(c2.id);
    });

    it('conmon is daemonized: reparented away from us, alive by pid + start time, exits after its container', async () => {
      const c = await fx.create({ args: ['/bin/sleep', '1000'] });
      await fx.runtime.start(c.id);
      const st = await readFile(`/proc/${c.created.conmonPid}/stat`, 'utf8');
      assert.notEqual(ppidOf(st), process.pid, 'conmon is not our child: it survives a daemon restart');
      assert.ok(c.created.conmonStartTime);
      assert.equal(await processAlive(c.created.conmonPid, c.created.conmonStartTime ?? ''), true);
      assert.equal(await processAlive(c.created.conmonPid, '1'), false, 'another start time is another process');
      await fx.runtime.kill(c.id, 'KILL');
      await fx.waitExit(c);
      for (let i = 0; i < 100 && await processStartTime(c.created.conmonPid) !== undefined; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(await processAlive(c.created.conmonPid, c.created.conmonStartTime ?? ''), false, 'conmon exits after its container');
      await fx.runtime.delete(c.id);
    });

    it('the container outlives the process that created it (a daemon that died): state, kill and exit still work', async () => {
      const c = await fx.prepare({ args: ['/bin/sleep', '1000'] });
      const moduleUrl = new URL('../../../src/oci/runtime.js', import.meta.url).href;
      const script = `
        import { createOciRuntime } from ${JSON.stringify(moduleUrl)};
        const rt = createOciRuntime(${JSON.stringify(fx.runtime.config)});
        const created = await rt.create(${JSON.stringify(c.bundle)}, ${JSON.stringify(c.id)}, ${JSON.stringify({ logPath: c.logPath, exitDir: fx.exitDir, persistDir: c.persistDir })});
        await rt.start(${JSON.stringify(c.id)});
        console.log(JSON.stringify(created));`;
      const out = await run(process.execPath, ['--input-type=module', '-e', script], { timeoutMs: 30_000 });
      const created = JSON.parse(out.stdout) as { pid: number; conmonPid: number; conmonStartTime: string };
      // The "daemon" has exited: its conmon and container are still there, and a new one can drive them.
      assert.equal(await processAlive(created.conmonPid, created.conmonStartTime), true);
      const st = await fx.runtime.state(c.id);
      assert.equal(st.status, 'running');
      assert.equal(st.pid, created.pid);
      await fx.runtime.kill(c.id, 'SIGKILL');
      assert.equal((await fx.waitExit(c)).exitCode, 137);
      await fx.runtime.delete(c.id);
    });

    it('creates the container cgroup beneath our own cgroup in every v1 controller, removed with the container', async () => {
      const c = await fx.create({ args: ['/bin/sleep', '1000'], memoryLimit: 64 * 1024 * 1024 });
      await fx.runtime.start(c.id);
      const cgPath = `${fx.podParent}/${c.id}`;
      const dirs = cgroupDirs(fx.layout, cgPath, false);
      assert.ok(dirs.length > 0);
      for (const d of dirs) await stat(d);
      const procCg = await readFile(`/proc/${c.created.pid}/cgroup`, 'utf8');
      assert.match(procCg, new RegExp(`:memory:${cgPath.replace(/[/]/g, '\\/')}$`, 'm'));
      if (fx.layout.mode === 'hybrid') {
        await assert.rejects(stat(path.join(fx.layout.unifiedMount ?? '', cgPath)), 'hidden cgroup2 mount: nothing created there');
      }
      const memDir = dirs.find((d) => d.includes('/memory/'));
      if (memDir) {
        assert.equal((await readFile(path.join(memDir, 'memory.limit_in_bytes'), 'utf8')).trim(), String(64 * 1024 * 1024));
        await fx.runtime.update(c.id, { memory: { limit: 96 * 1024 * 1024, swap: 96 * 1024 * 1024 } });
        assert.equal((await readFile(path.join(memDir, 'memory.limit_in_bytes'), 'utf8')).trim(), String(96 * 1024 * 1024));
      }
      await fx.runtime.kill(c.id, 'KILL');
      await fx.waitExit(c);
      await fx.runtime.delete(c.id);
      for (const d of dirs) await assert.rejects(stat(d), `${d} removed by delete`);
    });

    for (const via of ['this process', 'crius-spawner'] as const) {
    it(`ExecSync (started from ${via}) returns stdout, stderr and the exit code; a timeout kills the process; a background holder of the pipes is cut after the drain`, async () => {
      const spawner = via === 'crius-spawner' ? new Spawner(nativeBuildPath('crius-spawner')) : undefined;
      useSpawner(spawner);
      try {
      const c = await fx.create({ args: ['/bin/sleep', '1000'] });
      await fx.runtime.start(c.id);
      const base = { terminal: false, user: { uid: 0, gid: 0 }, env: ['PATH=/bin'], cwd: '/' };
      const r = await fx.runtime.execSync(c.id, { ...base, args: ['/bin/sh', '-c', 'echo hi; printf no-newline; echo e >&2; exit 3'] }, 10);
      assert.equal(r.exitCode, 3);
      assert.equal(r.timedOut, false);
      assert.equal(r.stdout.toString(), 'hi\nno-newline');
      assert.equal(r.stderr.toString(), 'e\n');
      const ok = await fx.runtime.execSync(c.id, { ...base, args: ['/bin/true'] }, 0);
      assert.equal(ok.exitCode, 0);
      const t0 = Date.now();
      await rejectsCode(fx.runtime.execSync(c.id, { ...base, args: ['/bin/sleep', '4321'] }, 1), 'DEADLINE_EXCEEDED');
      assert.ok(Date.now() - t0 < 15_000);
      assert.deepEqual(await pidsWithCmdline(['/bin/sleep', '4321']), [], 'the timed-out process is gone when the call returns');
      // A background child keeps stdout open: its late output is read until the drain ends (fixture: 3 s).
      // crun only: runc exec copies the process's output through pipes of its own and exits only when they
      // close, so with runc such a call ends at its timeout instead.
      if (handler.name === 'crun') {
        const held = await fx.runtime.execSync(c.id, { ...base, args: ['/bin/sh', '-c', '(sleep 1; echo late; exec sleep 4444) & echo early'] }, 0);
        assert.equal(held.stdout.toString(), 'early\nlate\n');
        assert.match(held.notes?.join(' ') ?? '', /output after the command exited was cut/);
        for (const pid of await pidsWithCmdline(['sleep', '4444'])) process.kill(pid, 'SIGKILL');
      }
      const missing = await fx.runtime.execSync(c.id, { ...base, args: ['/bin/nonexistent'] }, 5).catch((e: unknown) => e);
      assert.ok(missing instanceof Error || (typeof missing === 'object' && missing !== null && 'exitCode' in missing && (missing as { exitCode: number }).exitCode !== 0));
      await fx.runtime.kill(c.id, 'KILL');
      await fx.waitExit(c);
      await rejectsCode(fx.runtime.execSync(c.id, { ...base, args: ['/bin/true'] }, 5), 'NOT_FOUND');
      await fx.runtime.delete(c.id);
      } finally {
        useSpawner(undefined);
        spawner?.close();
      }
    });
    }

    it('reopens the log after the kubelet renamed it, synchronously', async () => {
      const c = await fx.create({ args: ['/bin/sh', '-c', 'i=0; while true; do echo line$i; i=$((i+1)); sleep 0.05; done'] });
      await fx.runtime.start(c.id);
      await waitFor(async () => parseCriLog(await readFile(c.logPath, 'utf8').catch(() => '')).length > 0, 10_000, 'the first logged line');
      await rename(c.logPath, `${c.logPath}.1`);
      await fx.runtime.reopenLog(c.bundle, c.logPath);
      await stat(c.logPath);
      let fresh = parseCriLog(await readFile(c.logPath, 'utf8'));
      for (let i = 0; i < 150 && fresh.length === 0; i++) {
        await new Promise((r) => setTimeout(r, 20));
        fresh = parseCriLog(await readFile(c.logPath, 'utf8'));
      }
      assert.ok(fresh.length > 0, 'the container keeps logging into the new file');
      assert.ok(fresh.every((x) => /^line\d+$/.test(x.content)), JSON.stringify(fresh));
      await fx.runtime.kill(c.id, 'KILL');
      await fx.waitExit(c);
      // conmon lingers a moment after writing the exit file; once it is gone there is no one to reopen.
      for (let i = 0; i < 200 && await processStartTime(c.created.conmonPid) !== undefined; i++) await new Promise((r) => setTimeout(r, 10));
      await rejectsCode(fx.runtime.reopenLog(c.bundle, c.logPath, 500), 'NOT_FOUND');
      await fx.runtime.delete(c.id);
    });

    it('a failing create reports the runtime\'s message and leaves no runtime state or conmon behind', async () => {
      const c = await fx.prepare({ args: ['/bin/true'] }, { rootfs: async () => { /* no rootfs at all */ } });
      await assert.rejects(
        fx.runtime.create(c.bundle, c.id, { logPath: c.logPath, exitDir: fx.exitDir, persistDir: c.persistDir }),
        (e: unknown) => errorCode(e) === 'INTERNAL' && /the runtime failed: .+/.test(String(e)),
      );
      await rejectsCode(fx.runtime.state(c.id), 'NOT_FOUND');
    });

    it('creates and starts four containers in parallel', async () => {
      const cs = await Promise.all([1, 2, 3, 4].map(() => fx.create({ args: ['/bin/sh', '-c', 'exit 5'] })));
      await Promise.all(cs.map((c) => fx.runtime.start(c.id)));
      const exits = await Promise.all(cs.map((c) => fx.waitExit(c)));
      assert.deepEqual(exits.map((e) => e.exitCode), [5, 5, 5, 5]);
      await Promise.all(cs.map((c) => fx.runtime.delete(c.id)));
    });

    it('a terminal container logs through conmon\'s pty, and ExecSync works with a tty', async () => {
      const c = await fx.create({ args: ['/bin/sh', '-c', 'echo tty-out; [ -t 1 ] && echo is-a-tty; sleep 1000'], terminal: true });
      await fx.runtime.start(c.id);
      // conmon may cut a line where a pty read ends (a P record, then the rest in an F record), as the
      // CRI log format allows: compare whole lines, joined the way a log reader joins them.
      const lines = async (): Promise<string[]> => {
        const out: string[] = [];
        let cur = '';
        for (const r of parseCriLog(await readFile(c.logPath, 'utf8').catch(() => ''))) {
          cur += r.content;
          if (!r.partial) { out.push(cur.replace(/\r?\n?$/, '').replace(/\r$/, '')); cur = ''; }
        }
        return out;
      };
      await waitFor(async () => (await lines()).includes('is-a-tty'), 10_000, 'the line is-a-tty in the log');
      assert.deepEqual((await lines()).slice(0, 2), ['tty-out', 'is-a-tty']);
      // CRI ExecSync has no tty: a process spec asking for one still runs with plain pipes.
      const r = await fx.runtime.execSync(c.id, { terminal: true, user: { uid: 0, gid: 0 }, env: ['PATH=/bin'], cwd: '/', args: ['/bin/sh', '-c', '[ -t 1 ] && echo exec-tty || echo no-tty'] }, 10);
      assert.equal(r.exitCode, 0);
      assert.equal(r.stdout.toString(), 'no-tty\n');
      await fx.runtime.kill(c.id, 'KILL');
      await fx.waitExit(c);
      await fx.runtime.delete(c.id);
    });

    it('an OOM kill under a memory limit is reported: exit 137 and oomKilled', async () => {
      const c = await fx.create({
        args: ['/bin/dd', 'if=/dev/zero', 'of=/dev/null', 'bs=256M', 'count=1'],
        memoryLimit: 32 * 1024 * 1024,
      });
      await fx.runtime.start(c.id);
      const e = await fx.waitExit(c);
      assert.equal(e.exitCode, 137);
      assert.equal(e.oomKilled, true, 'conmon wrote the oom file');
      assert.ok((await readdir(c.persistDir)).includes('oom'));
      await fx.runtime.delete(c.id);
    });
  });
}

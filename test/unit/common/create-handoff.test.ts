import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CreateHandoff } from '../../../src/common/create-handoff.js';
import { CriusError } from '../../../src/common/errors.js';

function setup(graceMs = 60_000): { h: CreateHandoff; abandoned: string[]; existing: Set<string>; abandonedOnce: Promise<void> } {
  const abandoned: string[] = [];
  const existing = new Set<string>();
  let wake!: () => void;
  const abandonedOnce = new Promise<void>((r) => { wake = r; });
  const h = new CreateHandoff({ graceMs, exists: (id) => existing.has(id), abandon: async (id) => { abandoned.push(id); existing.delete(id); wake(); } });
  return { h, abandoned, existing, abandonedOnce };
}

test('a second create of a name in progress is ALREADY_EXISTS while the first caller still waits', async () => {
  const { h, existing } = setup();
  let finish!: (id: string) => void;
  const first = h.run('n', 'create "n"', new AbortController().signal, () => new Promise<string>((r) => { finish = r; }));
  await assert.rejects(h.run('n', 'create "n"', undefined, async () => 'other'), (err: unknown) => err instanceof CriusError && err.code === 'ALREADY_EXISTS' && /in progress/.test(err.message));
  existing.add('id1');
  finish('id1');
  assert.equal(await first, 'id1');
  assert.deepEqual(h.orphans(), [], 'a create whose caller got its answer keeps nothing for a retry');
});

test('a create that outlives its caller is handed to the retry with the same name, not created twice', async () => {
  const { h, existing, abandoned } = setup();
  const caller = new AbortController();
  let finish!: (id: string) => void;
  let creates = 0;
  const first = h.run('n', 'create "n"', caller.signal, () => { creates++; return new Promise<string>((r) => { finish = r; }); });
  caller.abort();
  const retry = h.run('n', 'create "n"', new AbortController().signal, async () => { creates++; return 'second'; });
  existing.add('id1');
  finish('id1');
  assert.equal(await first, 'id1');
  assert.equal(await retry, 'id1');
  assert.equal(creates, 1);
  assert.deepEqual(h.orphans(), []);
  assert.deepEqual(abandoned, []);
});

test('a retry after the orphaned create finished gets its ID; one removed meanwhile is created anew', async () => {
  const { h, existing } = setup();
  const caller = new AbortController();
  caller.abort();
  existing.add('id1');
  assert.equal(await h.run('n', 'create "n"', caller.signal, async () => 'id1'), 'id1');
  assert.deepEqual(h.orphans(), ['id1']);
  assert.equal(await h.run('n', 'create "n"', undefined, async () => 'new'), 'id1');
  const again = new AbortController();
  again.abort();
  await h.run('m', 'create "m"', again.signal, async () => 'gone');
  assert.equal(await h.run('m', 'create "m"', undefined, async () => 'fresh'), 'fresh', 'an orphan that no longer exists is not handed out');
});

test('an orphan nobody claims within the grace period is abandoned', async () => {
  const { h, existing, abandoned, abandonedOnce } = setup(20);
  const caller = new AbortController();
  caller.abort();
  existing.add('id1');
  await h.run('n', 'create "n"', caller.signal, async () => 'id1');
  // The grace timer is unref'd (it must not keep a stopping daemon alive): keep this test's loop alive.
  const keepAlive = setInterval(() => undefined, 1000);
  await abandonedOnce.finally(() => clearInterval(keepAlive));
  assert.deepEqual(abandoned, ['id1']);
  assert.deepEqual(h.orphans(), []);
});

test('a failed create frees the name', async () => {
  const { h } = setup();
  await assert.rejects(h.run('n', 'create "n"', undefined, async () => { throw new Error('no'); }), /no/);
  assert.equal(await h.run('n', 'create "n"', undefined, async () => 'ok'), 'ok');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pruneShiftedCopies, removeInterruptedCopies } from '../../../src/rootfs/shifted-copy.js';
import type { MountInfoEntry } from '../../../src/common/mountinfo.js';

test('shifted copies: pruned when a layer is gone or none is recorded, never while mounted; half-made ones only at start-up', () => {
  const dir = mkdtempSync(join(tmpdir(), 'crius-shifted-'));
  try {
    const layer = join(dir, 'layers', 'l1', 'fs');
    mkdirSync(layer, { recursive: true });
    const cache = join(dir, 'shifted');
    const copy = (name: string, layers?: string[]): string => {
      const d = join(cache, name);
      mkdirSync(join(d, '0'), { recursive: true });
      writeFileSync(join(d, '.complete'), '');
      if (layers) writeFileSync(join(d, 'layers.json'), JSON.stringify(layers));
      return d;
    };
    copy('live', [layer]);
    copy('gone', [layer, join(dir, 'layers', 'l2', 'fs')]);
    copy('legacy');
    const mounted = copy('mounted', [join(dir, 'layers', 'l3', 'fs')]);
    mkdirSync(join(cache, 'x.tmp-123456'));
    const mounts: MountInfoEntry[] = [{
      mountId: 1, device: '0:50', root: '/', mountPoint: '/run/c/rootfs', fsType: 'overlay', source: 'overlay',
      superOptions: `rw,lowerdir=${mounted}/1:${mounted}/0,upperdir=/u,workdir=/w`,
    }];
    const removed = pruneShiftedCopies(cache, mounts);
    assert.deepEqual(removed.sort(), [join(cache, 'gone'), join(cache, 'legacy')]);
    assert.deepEqual(readdirSync(cache).sort(), ['live', 'mounted', 'x.tmp-123456']);
    removeInterruptedCopies(cache);
    assert.deepEqual(readdirSync(cache).sort(), ['live', 'mounted']);
    assert.deepEqual(pruneShiftedCopies(join(dir, 'none'), mounts), [], 'no cache dir: nothing to do');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseCriLog } from '../../../src/oci/cri-log.js';
import { parseExitStatus } from '../../../src/oci/exit-files.js';
import { startTimeFromStat } from '../../../src/oci/process-liveness.js';
import { clampOomScoreAdj } from '../../../src/spec/resources.js';
import { mapRuntimeError } from '../../../src/oci/runtime.js';
import { ExecError } from '../../../src/common/exec.js';
import { errorCode } from '../../../src/common/errors.js';

const LOG = [
  '2026-11-30T07:01:10.698484866+00:00 stdout F out1',
  '2026-11-30T07:01:10.698484866+00:00 stdout P partial',
  '2026-11-30T07:01:10.798484866+00:00 stderr F err with  spaces ',
  '2026-11-30T07:01:10.898484866+00:00 stdout F ',
  'garbage line',
  '',
].join('\n');

function execError(stderr: string, extra: Partial<{ timedOut: boolean; notFound: boolean }> = {}): ExecError {
  return new ExecError({ command: '/usr/bin/crun kill x', code: 1, signal: null, stdout: '', stderr, timedOut: extra.timedOut ?? false, notFound: extra.notFound ?? false, reason: 'exit status 1' });
}

describe('oci small parts', () => {
  it('parses CRI log records (P lines have no newline)', () => {
    const recs = parseCriLog(LOG);
    assert.equal(recs.length, 4);
    assert.deepEqual(recs[1], { time: '2026-11-30T07:01:10.698484866+00:00', stream: 'stdout', partial: true, content: 'partial' });
    assert.equal(recs[2]?.content, 'err with  spaces ');
  });

  it('parses exit files (no newline; empty while being written)', () => {
    assert.equal(parseExitStatus('137'), 137);
    assert.equal(parseExitStatus('0\n'), 0);
    assert.equal(parseExitStatus(''), undefined);
  });

  it('reads the start time from /proc/<pid>/stat even with ") " in comm', () => {
    const stat = '1234 (we ird) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10';
    assert.equal(startTimeFromStat(stat), '987654');
    assert.equal(startTimeFromStat('garbage'), undefined);
  });

  it('clamps oom_score_adj at the floor and into [-1000, 1000]', () => {
    assert.deepEqual(clampOomScoreAdj(-997, 0), { value: 0, clamped: true });
    assert.deepEqual(clampOomScoreAdj(-997, -1000), { value: -997, clamped: false });
    assert.deepEqual(clampOomScoreAdj(1000, 0), { value: 1000, clamped: false });
    assert.deepEqual(clampOomScoreAdj(5000, 0), { value: 1000, clamped: true });
    assert.deepEqual(clampOomScoreAdj(-500, -200), { value: -200, clamped: true });
  });

  it('maps runtime errors: gone containers are NOT_FOUND, the rest INTERNAL, a missing binary FAILED_PRECONDITION', () => {
    for (const s of ['container does not exist', 'kill container: No such process', 'container not running',
      "error opening file `/run/crun/x/status`: No such file or directory", 'exec failed: cannot exec in a stopped container']) {
      assert.equal(errorCode(mapRuntimeError('op', execError(s))), 'NOT_FOUND', s);
    }
    assert.equal(errorCode(mapRuntimeError('op', execError('cgroups in hybrid mode not supported'))), 'INTERNAL');
    assert.equal(errorCode(mapRuntimeError('op', execError('does not exist', { timedOut: true }))), 'INTERNAL');
    assert.equal(errorCode(mapRuntimeError('op', execError('', { notFound: true }))), 'FAILED_PRECONDITION');
    assert.match(mapRuntimeError('kill c1', execError('a\nb\ncontainer not running')).message, /^kill c1: a \| b \| container not running$/);
  });
});

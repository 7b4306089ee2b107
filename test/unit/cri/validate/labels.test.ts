import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkLabelsSize, metadataBytes } from '../../../../src/cri/validate/labels.js';
import { invalid } from './helpers.js';

test('labels and annotations are counted together, keys and values, in UTF-8 bytes', () => {
  assert.equal(metadataBytes({ a: 'bc' }, { 'é': 'x' }), 3 + 3);
  assert.equal(metadataBytes(null, undefined), 0);
});

test('beyond the cap: INVALID_ARGUMENT naming both fields and the config key', () => {
  checkLabelsSize({ a: 'x'.repeat(1000) }, {}, 1001, 'config');
  invalid(() => checkLabelsSize({ a: 'x'.repeat(1000) }, { b: 'y' }, 1001, 'config'), /config\.labels and config\.annotations hold 1003 bytes together; at most 1001 .*\[limits\] max_labels_annotations_bytes/);
});

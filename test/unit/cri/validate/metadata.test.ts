import { test } from 'node:test';
import { checkContainerMetadata, checkPodMetadata, MAX_METADATA_BYTES } from '../../../../src/cri/validate/metadata.js';
import { invalid } from './helpers.js';

test('pod metadata: name, namespace and uid are non-empty, bounded, with no NUL, control character or "/"', () => {
  checkPodMetadata({ name: 'web', namespace: 'default', uid: '2f6e0c5a-0000-4000-8000-000000000000' }, 'config.metadata');
  checkPodMetadata({ name: 'x'.repeat(MAX_METADATA_BYTES), namespace: 'n', uid: 'u' }, 'config.metadata');
  invalid(() => checkPodMetadata(null, 'config.metadata'), /config\.metadata is missing/);
  invalid(() => checkPodMetadata({ name: '', namespace: 'n', uid: 'u' }, 'config.metadata'), /config\.metadata\.name is empty/);
  invalid(() => checkPodMetadata({ name: 'a', namespace: 'n/../x', uid: 'u' }, 'config.metadata'), /config\.metadata\.namespace "n\/\.\.\/x" contains "\/"/);
  invalid(() => checkPodMetadata({ name: 'a', namespace: 'n', uid: 'u\0' }, 'config.metadata'), /config\.metadata\.uid .*NUL byte/);
  invalid(() => checkPodMetadata({ name: 'a\nb', namespace: 'n', uid: 'u' }, 'config.metadata'), /config\.metadata\.name .*newline/);
  // 200 KB made the CNI plugin's spawn fail with E2BIG (CNI_ARGS); now it is a clear refusal.
  invalid(() => checkPodMetadata({ name: 'a'.repeat(200_000), namespace: 'n', uid: 'u' }, 'config.metadata'), /config\.metadata\.name is 200000 bytes long; at most 253/);
});

test('container metadata: the name follows the same rules', () => {
  checkContainerMetadata({ name: 'app' }, 'config.metadata');
  invalid(() => checkContainerMetadata({ name: 'a/b' }, 'config.metadata'), /config\.metadata\.name "a\/b" contains "\/"/);
  invalid(() => checkContainerMetadata({}, 'config.metadata'), /config\.metadata\.name is empty/);
});

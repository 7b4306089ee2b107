// Labels and annotations are stored with the object and returned by every List/Status call: without a
// bound one request could make every later ListPodSandbox carry megabytes.
import { invalidArgument } from '../../common/errors.js';

/** Bytes (UTF-8) of every key and value in labels and annotations together. */
export function metadataBytes(labels?: Record<string, string> | null, annotations?: Record<string, string> | null): number {
  let n = 0;
  for (const m of [labels ?? {}, annotations ?? {}]) {
    for (const [k, v] of Object.entries(m)) n += Buffer.byteLength(k) + Buffer.byteLength(String(v));
  }
  return n;
}

/** Refuses labels + annotations above max bytes ([limits] max_labels_annotations_bytes), naming both fields. */
export function checkLabelsSize(labels: Record<string, string> | null | undefined, annotations: Record<string, string> | null | undefined, max: number, field: string): void {
  const n = metadataBytes(labels, annotations);
  if (n > max) {
    throw invalidArgument(`${field}.labels and ${field}.annotations hold ${n} bytes together; at most ${max} are allowed ([limits] max_labels_annotations_bytes)`);
  }
}

// Host ID ranges for standalone pods (`crius run`), where no kubelet chooses the mapping. Like the
// kubelet's allocator (pkg/kubelet/userns): slots of idsPerPod IDs inside a configured subordinate range,
// lowest free slot first, persisted so a restart never hands out a live range twice. Unlike the kubelet it
// tolerates live rows of another size or alignment (the config may change between runs): a slot is free
// only when it overlaps no live allocation.
import { CriusError, invalidArgument } from '../common/errors.js';
import type { Db } from '../store/db.js';
import { UsernsRangeStore, type UsernsRangeRow } from '../store/userns-ranges.js';
import { MAX_ID, type IdRange } from './mapping-rules.js';

interface RangeAllocatorConfig {
  /** First host ID of the subordinate range ([userns] subid_start); never 0, host root is not mapped. */
  start: number;
  /** Number of host IDs in it ([userns] subid_length). */
  length: number;
  /** IDs per pod ([userns] ids_per_pod); 65536 covers every ID a normal image uses. */
  idsPerPod: number;
}

interface RangeAllocator {
  /** The owner's range, allocating the lowest free slot if it has none (idempotent: retry-safe). */
  allocate(owner: string): IdRange;
  /** Frees the owner's range; false when it had none. */
  release(owner: string): boolean;
  get(owner: string): IdRange | undefined;
  list(): UsernsRangeRow[];
  /** Frees every range whose owner is not in `live` (start-up reconciliation); returns the owners freed. */
  releaseAllExcept(live: ReadonlySet<string>): string[];
}

function checkConfig(c: RangeAllocatorConfig): void {
  const int = (n: number): boolean => Number.isInteger(n);
  if (!int(c.start) || c.start < 1) throw invalidArgument(`[userns] subid_start is ${c.start}: it must be an integer >= 1 (host root is never mapped)`);
  if (!int(c.length) || c.length < 1) throw invalidArgument(`[userns] subid_length is ${c.length}: it must be an integer >= 1`);
  if (c.start + c.length - 1 > MAX_ID) {
    throw invalidArgument(`[userns] subid_start + subid_length reaches ${c.start + c.length - 1}: the range must end at or below ${MAX_ID}`);
  }
  if (!int(c.idsPerPod) || c.idsPerPod < 1 || c.idsPerPod > c.length) {
    throw invalidArgument(`[userns] ids_per_pod is ${c.idsPerPod}: it must be between 1 and subid_length (${c.length})`);
  }
}

const toRange = (r: UsernsRangeRow): IdRange => ({ containerId: 0, hostId: r.hostId, length: r.length });

export function createRangeAllocator(db: Db, config: RangeAllocatorConfig, now: () => number = Date.now): RangeAllocator {
  checkConfig(config);
  const store = new UsernsRangeStore(db);
  const { start, length, idsPerPod } = config;
  const end = start + length; // exclusive
  const slotAtOrAfter = (id: number): number => start + Math.ceil(Math.max(0, id - start) / idsPerPod) * idsPerPod;

  function findFree(): number | undefined {
    // Live rows overlapping the configured range, sorted: walk the gaps.
    let candidate = start;
    for (const r of store.overlapping(start, length)) {
      if (candidate + idsPerPod <= r.hostId) break;
      candidate = Math.max(candidate, slotAtOrAfter(r.hostId + r.length));
    }
    return candidate + idsPerPod <= end ? candidate : undefined;
  }

  // IMMEDIATE: take the write lock before reading, so two processes sharing the file cannot pick one slot.
  const allocateTx = db.transaction((owner: string): IdRange => {
    const existing = store.byOwner(owner);
    if (existing) return toRange(existing);
    const hostId = findFree();
    if (hostId === undefined) {
      const used = store.overlapping(start, length).length;
      throw new CriusError('RESOURCE_EXHAUSTED',
        `no free host ID range of ${idsPerPod} IDs for ${owner}: [userns] subid range ${start}..${end - 1} holds ` +
        `${Math.floor(length / idsPerPod)} slots and ${used} are in use; remove pods or raise subid_length`);
    }
    store.insert({ hostId, length: idsPerPod, owner, allocatedAt: now() });
    return { containerId: 0, hostId, length: idsPerPod };
  });

  return {
    allocate: (owner) => allocateTx.immediate(owner),
    release: (owner) => store.deleteByOwner(owner),
    get: (owner) => {
      const r = store.byOwner(owner);
      return r ? toRange(r) : undefined;
    },
    list: () => store.list(),
    releaseAllExcept: (live) => db.transaction(() => {
      const freed = store.list().filter((r) => !live.has(r.owner)).map((r) => r.owner);
      for (const o of freed) store.deleteByOwner(o);
      return freed;
    }).immediate(),
  };
}

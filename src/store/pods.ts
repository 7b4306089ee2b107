// Typed access to the pods table (migration 003). Runtime details (namespace paths, IP, CNI result,
// cgroup parent, ...) are a JSON document owned by pod/, stored whole.
import type { Db } from './db.js';
import { fromStates, uniqueAsAlreadyExists } from './containers.js';
import type { PodId } from '../common/ids.js';

type PodState = 'creating' | 'ready' | 'notready';

/**
 * The allowed pod transitions (docs/ARCHITECTURE.md, "Lifecycle states"). A pod becomes notready by
 * StopPodSandbox, by the death of its infra process, or by a reboot; it never becomes ready again (the
 * kubelet runs a new pod). 'creating' rows are deleted by undo.
 */
export const POD_TRANSITIONS: Readonly<Record<PodState, readonly PodState[]>> = {
  creating: ['ready'],
  ready: ['notready'],
  notready: [],
};

export interface PodRow<Config, Runtime> {
  id: PodId;
  name: string;
  namespace: string;
  uid: string;
  attempt: number;
  state: PodState;
  /** Unix nanoseconds, decimal. */
  createdAt: string;
  handler: string;
  config: Config;
  runtime: Runtime;
}

interface Raw {
  id: string; name: string; namespace: string; uid: string; attempt: number; state: string; created_at: string;
  handler: string; config_json: string; runtime_json: string;
}

function fromRaw<C, R>(r: Raw): PodRow<C, R> {
  return {
    id: r.id as PodId, name: r.name, namespace: r.namespace, uid: r.uid, attempt: r.attempt, state: r.state as PodState,
    createdAt: r.created_at, handler: r.handler, config: JSON.parse(r.config_json) as C, runtime: JSON.parse(r.runtime_json) as R,
  };
}

export class PodStore<Config, Runtime> {
  constructor(private readonly db: Db) {}

  /** Inserts a new row; a second pod of the same name, namespace, uid and attempt is ALREADY_EXISTS. */
  insert(p: PodRow<Config, Runtime>): void {
    uniqueAsAlreadyExists(`pod "${p.namespace}/${p.name}" (uid ${p.uid}, attempt ${p.attempt})`, () => this.db.prepare(`INSERT INTO pods (id, name, namespace, uid, attempt, state, created_at, handler, config_json, runtime_json)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(p.id, p.name, p.namespace, p.uid, p.attempt, p.state, p.createdAt, p.handler, JSON.stringify(p.config), JSON.stringify(p.runtime)));
  }

  get(id: string): PodRow<Config, Runtime> | undefined {
    const r = this.db.prepare('SELECT * FROM pods WHERE id = ?').get(id) as Raw | undefined;
    return r && fromRaw(r);
  }

  /** Full ID, or a unique prefix (as crictl accepts). Ambiguous prefixes return the list. */
  find(idOrPrefix: string): PodRow<Config, Runtime>[] {
    const exact = this.get(idOrPrefix);
    if (exact) return [exact];
    if (!/^[0-9a-f]{1,64}$/.test(idOrPrefix)) return [];
    return (this.db.prepare("SELECT * FROM pods WHERE id LIKE ? || '%' LIMIT 2").all(idOrPrefix) as Raw[]).map((r) => fromRaw<Config, Runtime>(r));
  }

  byName(name: string, namespace: string, uid: string, attempt: number): PodRow<Config, Runtime> | undefined {
    const r = this.db.prepare('SELECT * FROM pods WHERE name = ? AND namespace = ? AND uid = ? AND attempt = ?').get(name, namespace, uid, attempt) as Raw | undefined;
    return r && fromRaw(r);
  }

  list(): PodRow<Config, Runtime>[] {
    return (this.db.prepare('SELECT * FROM pods ORDER BY created_at').all() as Raw[]).map((r) => fromRaw<Config, Runtime>(r));
  }

  /** A guarded transition (POD_TRANSITIONS); false when the pod is not in a state that may reach `state`. */
  setState(id: string, state: PodState): boolean {
    return this.db.prepare(`UPDATE pods SET state = ? WHERE id = ? AND state IN (${fromStates(POD_TRANSITIONS, state) || "''"})`).run(state, id).changes > 0;
  }

  setRuntime(id: string, runtime: Runtime): void {
    this.db.prepare('UPDATE pods SET runtime_json = ? WHERE id = ?').run(JSON.stringify(runtime), id);
  }

  delete(id: string): void {
    this.db.prepare('DELETE FROM pods WHERE id = ?').run(id);
  }
}

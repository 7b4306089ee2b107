import type { Migration } from './index.js';

// Indexes for a node with many pods (issue 14), found with EXPLAIN QUERY PLAN over the store's statements:
// removing a container deleted its image_users rows by user_id with a scan of every container's rows, and
// the pod and container lists (ListPodSandbox, ListContainers, every stats call) sorted all rows by
// created_at in a temporary B-tree each time; with these indexes SQLite reads them in order.
export const m005ScaleIndexes: Migration = {
  version: 5,
  name: 'scale-indexes',
  sql: `
    CREATE INDEX image_users_by_user ON image_users(user_id);
    CREATE INDEX pods_by_created ON pods(created_at);
    CREATE INDEX containers_by_created ON containers(created_at);
  `,
};

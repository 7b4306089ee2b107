// The identity of the container's process: uid, gid and supplementary groups, resolved from the CRI
// security context or the image's User through the image's own /etc/passwd and /etc/group (the kubelet
// leaves name resolution to the runtime: it cannot see the image's files).
import { invalidArgument, notFound } from '../common/errors.js';
import { parseInt64 } from '../common/int64.js';
import { containerName, ensureProcess, securityContext, type SpecContext, type SpecOpt } from './context.js';
import { findGroupByName, findUserById, findUserByName, groupsOfUser, parseGroup, parsePasswd, type GroupEntry, type PasswdEntry } from './passwd.js';

const MAX_ID = 0xffffffff;

function checkId(n: number, what: string, ctx: SpecContext): number {
  if (n < 0 || n > MAX_ID) throw invalidArgument(`container "${containerName(ctx)}": ${what} ${n} is out of range 0..${MAX_ID}`);
  return n;
}

function passwdOf(ctx: SpecContext): PasswdEntry[] {
  return ctx.passwd === undefined ? [] : parsePasswd(ctx.passwd);
}

function groupOf(ctx: SpecContext): GroupEntry[] {
  return ctx.group === undefined ? [] : parseGroup(ctx.group);
}

function userByName(ctx: SpecContext, users: PasswdEntry[], name: string, source: string): PasswdEntry {
  const u = findUserByName(users, name);
  if (!u) {
    const where = ctx.passwd === undefined ? 'the image has no /etc/passwd' : 'it is not in the image\'s /etc/passwd';
    throw notFound(`container "${containerName(ctx)}": user "${name}" (${source}) cannot be resolved: ${where}; use a numeric uid or add the user to the image`);
  }
  return u;
}

function groupByName(ctx: SpecContext, groups: GroupEntry[], name: string, source: string): number {
  const g = findGroupByName(groups, name);
  if (!g) {
    const where = ctx.group === undefined ? 'the image has no /etc/group' : 'it is not in the image\'s /etc/group';
    throw notFound(`container "${containerName(ctx)}": group "${name}" (${source}) cannot be resolved: ${where}; use a numeric gid or add the group to the image`);
  }
  return g.gid;
}

interface ResolvedUser {
  uid: number;
  gid: number;
  /** The passwd entry of the uid, when the image has one (for groups and HOME). */
  entry?: PasswdEntry;
}

/**
 * Resolves an image `User` string: "", "name", "uid", "uid:gid", "name:group", "uid:group", "name:gid"
 * (image-spec config.md). Without a group part the gid is the user's passwd gid, else 0 (Docker's rule).
 */
function resolveImageUser(ctx: SpecContext, user: string, users: PasswdEntry[], groups: GroupEntry[]): ResolvedUser {
  const source = `image User "${user}"`;
  const colon = user.indexOf(':');
  const userPart = colon < 0 ? user : user.slice(0, colon);
  const groupPart = colon < 0 ? undefined : user.slice(colon + 1);
  let uid: number;
  let entry: PasswdEntry | undefined;
  if (userPart === '') {
    uid = 0;
    entry = findUserById(users, 0);
  } else if (/^\d+$/.test(userPart)) {
    uid = checkId(Number(userPart), 'uid', ctx);
    entry = findUserById(users, uid);
  } else {
    entry = userByName(ctx, users, userPart, source);
    uid = entry.uid;
  }
  let gid: number;
  if (groupPart === undefined || groupPart === '') gid = entry?.gid ?? 0;
  else if (/^\d+$/.test(groupPart)) gid = checkId(Number(groupPart), 'gid', ctx);
  else gid = groupByName(ctx, groups, groupPart, source);
  return entry ? { uid, gid, entry } : { uid, gid };
}

/** The user from the CRI security context if it names one, else from the image. */
function resolveUser(ctx: SpecContext): ResolvedUser {
  const sc = securityContext(ctx);
  const users = passwdOf(ctx);
  const groups = groupOf(ctx);
  const runAsUser = parseInt64(sc.run_as_user?.value, 'run_as_user');
  const runAsGroup = parseInt64(sc.run_as_group?.value, 'run_as_group');
  const username = sc.run_as_username ?? '';
  if (runAsUser !== undefined && username !== '') {
    throw invalidArgument(`container "${containerName(ctx)}": run_as_user (${runAsUser}) and run_as_username ("${username}") are mutually exclusive; set only one`);
  }
  let r: ResolvedUser;
  if (username !== '') {
    const e = userByName(ctx, users, username, 'run_as_username');
    r = { uid: e.uid, gid: e.gid, entry: e };
  } else if (runAsUser !== undefined) {
    const uid = checkId(runAsUser, 'run_as_user', ctx);
    const e = findUserById(users, uid);
    r = e ? { uid, gid: e.gid, entry: e } : { uid, gid: 0 };
  } else {
    r = resolveImageUser(ctx, ctx.image.User ?? '', users, groups);
  }
  // run_as_group overrides the user's gid, but only with a user named in the CRI config: containerd
  // ("user group is specified without user") and CRI-O refuse a group alone, and critest checks it.
  if (runAsGroup !== undefined && runAsUser === undefined && username === '') {
    throw invalidArgument(`container "${containerName(ctx)}": run_as_group (${runAsGroup}) is set without run_as_user or run_as_username; set the user too`);
  }
  if (runAsGroup !== undefined) r = { ...r, gid: checkId(runAsGroup, 'run_as_group', ctx) };
  return r;
}

/**
 * process.user: uid, gid, and additionalGids = [gid, image groups listing the user (policy Merge, the
 * default), CRI supplemental_groups], deduplicated in that order (containerd WithAdditionalGIDs +
 * WithSupplementalGroups). Sets HOME from passwd (or "/") unless the environment has it.
 */
export const withUser: SpecOpt = (spec, ctx) => {
  const sc = securityContext(ctx);
  const r = resolveUser(ctx);
  const gids: number[] = [r.gid];
  if (sc.supplemental_groups_policy !== 'Strict' && r.entry) gids.push(...groupsOfUser(groupOf(ctx), r.entry.name));
  for (const g of sc.supplemental_groups ?? []) gids.push(checkId(parseInt64(g, 'supplemental_groups') ?? 0, 'supplemental group', ctx));
  const p = ensureProcess(spec);
  p.user = { uid: r.uid, gid: r.gid, additionalGids: [...new Set(gids)] };
  const env = p.env ?? [];
  if (!env.some((e) => e.startsWith('HOME='))) p.env = [...env, `HOME=${r.entry?.home || '/'}`];
};

// Pure parsers for an image's /etc/passwd and /etc/group (passwd(5), group(5)). The caller reads the
// files from the image rootfs; lines that do not parse (NIS "+" entries, comments, garbage) are skipped,
// as libc's getpwent does, so a sloppy image still resolves its valid entries.

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

function parseId(s: string | undefined): number | undefined {
  if (s === undefined || !/^\d+$/.test(s)) return undefined;
  const n = Number(s);
  return n <= 0xffffffff ? n : undefined;
}

export function parsePasswd(content: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const raw of content.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 4) continue;
    const uid = parseId(f[2]);
    const gid = parseId(f[3]);
    const name = f[0] ?? '';
    if (name === '' || name.startsWith('+') || name.startsWith('-') || uid === undefined || gid === undefined) continue;
    out.push({ name, uid, gid, home: f[5] ?? '', shell: f[6] ?? '' });
  }
  return out;
}

export function parseGroup(content: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const raw of content.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 3) continue;
    const gid = parseId(f[2]);
    const name = f[0] ?? '';
    if (name === '' || name.startsWith('+') || name.startsWith('-') || gid === undefined) continue;
    const members = (f[3] ?? '').split(',').map((m) => m.trim()).filter((m) => m !== '');
    out.push({ name, gid, members });
  }
  return out;
}

/** The first entry with that name, as getpwnam(3) returns it. */
export function findUserByName(entries: readonly PasswdEntry[], name: string): PasswdEntry | undefined {
  return entries.find((e) => e.name === name);
}

export function findUserById(entries: readonly PasswdEntry[], uid: number): PasswdEntry | undefined {
  return entries.find((e) => e.uid === uid);
}

export function findGroupByName(entries: readonly GroupEntry[], name: string): GroupEntry | undefined {
  return entries.find((e) => e.name === name);
}

/** GIDs of the groups that list `user` as a member (getgrouplist(3) without the primary group). */
export function groupsOfUser(entries: readonly GroupEntry[], user: string): number[] {
  return entries.filter((g) => g.members.includes(user)).map((g) => g.gid);
}

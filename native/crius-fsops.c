// crius-fsops ROOT: applies filesystem operations Node cannot make (mknod, setxattr) inside ROOT, read
// from stdin as NUL-terminated fields. Every parent directory is resolved with openat2(RESOLVE_BENEATH |
// RESOLVE_NO_SYMLINKS), so no operation can land outside ROOT even if the tree holds hostile symlinks.
//   m REL MODE MAJOR MINOR UID GID SEC NSEC   mknod (MODE includes S_IFCHR/S_IFBLK/S_IFIFO), lchown, lutimes
//   x REL NAME HEXVALUE                       lsetxattr
// Exit 0 when every operation succeeded; otherwise prints "crius-fsops: OP REL: error" and exits 1.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

static char *read_all(size_t *len) {
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  if (!buf) return NULL;
  for (;;) {
    if (n == cap) {
      cap *= 2;
      char *nb = realloc(buf, cap);
      if (!nb) { free(buf); return NULL; }
      buf = nb;
    }
    ssize_t r = read(0, buf + n, cap - n);
    if (r < 0) { if (errno == EINTR) continue; free(buf); return NULL; }
    if (r == 0) break;
    n += (size_t)r;
  }
  *len = n;
  return buf;
}

static int open_parent(int rootfd, const char *rel, const char **base) {
  const char *slash = strrchr(rel, '/');
  char parent[4096];
  if (slash) {
    size_t n = (size_t)(slash - rel);
    if (n >= sizeof parent) { errno = ENAMETOOLONG; return -1; }
    memcpy(parent, rel, n);
    parent[n] = 0;
    *base = slash + 1;
  } else {
    strcpy(parent, ".");
    *base = rel;
  }
  if (**base == 0 || strcmp(*base, ".") == 0 || strcmp(*base, "..") == 0) { errno = EINVAL; return -1; }
  struct open_how how = {
    .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
    .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
  };
  return (int)syscall(SYS_openat2, rootfd, parent, &how, sizeof how);
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

int main(int argc, char **argv) {
  if (argc != 2) { fprintf(stderr, "usage: crius-fsops ROOT < ops\n"); return 2; }
  umask(0);
  int rootfd = open(argv[1], O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0) { fprintf(stderr, "crius-fsops: open %s: %s\n", argv[1], strerror(errno)); return 1; }
  size_t len;
  char *buf = read_all(&len);
  if (!buf) { fprintf(stderr, "crius-fsops: read stdin: %s\n", strerror(errno)); return 1; }
  char *fields[10];
  size_t pos = 0;
  while (pos < len) {
    int want = buf[pos] == 'm' ? 9 : buf[pos] == 'x' ? 4 : -1;
    if (want < 0) { fprintf(stderr, "crius-fsops: bad op at byte %zu\n", pos); return 1; }
    for (int i = 0; i < want; i++) {
      char *end = memchr(buf + pos, 0, len - pos);
      if (!end) { fprintf(stderr, "crius-fsops: truncated input\n"); return 1; }
      fields[i] = buf + pos;
      pos = (size_t)(end - buf) + 1;
    }
    const char *base;
    int pfd = open_parent(rootfd, fields[1], &base);
    if (pfd < 0) { fprintf(stderr, "crius-fsops: %s %s: parent: %s\n", fields[0], fields[1], strerror(errno)); return 1; }
    if (fields[0][0] == 'm') {
      mode_t mode = (mode_t)strtoul(fields[2], NULL, 10);
      dev_t dev = makedev(strtoul(fields[3], NULL, 10), strtoul(fields[4], NULL, 10));
      uid_t uid = (uid_t)strtoul(fields[5], NULL, 10);
      gid_t gid = (gid_t)strtoul(fields[6], NULL, 10);
      struct timespec ts[2];
      ts[0].tv_sec = ts[1].tv_sec = (time_t)strtoll(fields[7], NULL, 10);
      ts[0].tv_nsec = ts[1].tv_nsec = strtol(fields[8], NULL, 10);
      unlinkat(pfd, base, 0);
      if (mknodat(pfd, base, mode, dev) != 0
          || fchownat(pfd, base, uid, gid, AT_SYMLINK_NOFOLLOW) != 0
          || ((mode & 07000) && fchmodat(pfd, base, mode & 07777, 0) != 0)
          || utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW) != 0) {
        fprintf(stderr, "crius-fsops: mknod %s: %s\n", fields[1], strerror(errno));
        return 1;
      }
    } else {
      size_t hl = strlen(fields[3]);
      if (hl % 2) { fprintf(stderr, "crius-fsops: xattr %s: odd hex value\n", fields[1]); return 1; }
      unsigned char *val = malloc(hl / 2 + 1);
      if (!val) return 1;
      for (size_t i = 0; i < hl / 2; i++) {
        int a = hexval(fields[3][2 * i]), b = hexval(fields[3][2 * i + 1]);
        if (a < 0 || b < 0) { fprintf(stderr, "crius-fsops: xattr %s: bad hex\n", fields[1]); return 1; }
        val[i] = (unsigned char)(a * 16 + b);
      }
      char path[4200];
      snprintf(path, sizeof path, "/proc/self/fd/%d/%s", pfd, base);
      if (lsetxattr(path, fields[2], val, hl / 2, 0) != 0) {
        fprintf(stderr, "crius-fsops: xattr %s %s: %s\n", fields[1], fields[2], strerror(errno));
        return 1;
      }
      free(val);
    }
    close(pfd);
  }
  return 0;
}

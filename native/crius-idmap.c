// crius-idmap: the few mount syscalls Node cannot make (open_tree, mount_setattr, move_mount, fsopen,
// fsconfig, fsmount, ioctl NS_GET_USERNS). Every subcommand prints exactly one line of JSON on stdout:
//   {"ok":true,...}                                                       exit 0
//   {"ok":false,"syscall":"mount_setattr","errno":"EINVAL","errno_num":22,"message":"...","path":"..."}  exit 1
// Usage errors print {"ok":false,"usage":"..."} and exit 2.
//
// Subcommands:
//   probe <path> <userns-file>
//       Clone the mount at <path> (detached, open_tree OPEN_TREE_CLONE) and try MOUNT_ATTR_IDMAP on it.
//       Closing the fd drops the detached tree, so nothing is left mounted.
//   mount [--ro] [--recursive] <src> <dst> <userns-file>
//       Idmapped bind of <src> at <dst> (open_tree + mount_setattr + move_mount).
//   overlay [--userns <file>] --lower <dir>[:<dir>...] --upper <dir> --work <dir>
//           [--method auto|fd|tmpdir] [--tmpdir <dir>] [-o <key[=value]>]... <target>
//       Overlay at <target>. --lower is in overlayfs order (topmost first). With --userns each lower is
//       idmapped read-only. Method "fd" (Linux >= 6.13 layers by fd, detached layers >= 6.15) hands detached
//       idmapped clones to overlayfs through fsconfig(FSCONFIG_SET_FD, "lowerdir+"): no temporary mount
//       points and no option-length limit. Method "tmpdir" (containerd's way, works from 5.19) idmaps the
//       lowers' common parent once under a private temp dir, mounts overlay with relative lowerdirs (so the
//       option string stays under one page), then detaches the temporary mount and removes its dir; the
//       overlay keeps its own references to the layers. "auto" tries fd, then tmpdir.
//   ns-owner <ns-file>
//       Inode of the namespace at <ns-file> and of the user namespace that owns it (ioctl NS_GET_USERNS).
//
// Needs glibc >= 2.36 for the mount API wrappers (Debian 12 has 2.36).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/nsfs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_LOWERS 500

static void json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
    else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
    else fputc(*p, f);
  }
  fputc('"', f);
}

// Error report for a failed syscall; errno_val is the errno that syscall set.
static int fail(const char *syscall_name, int errno_val, const char *path) {
  const char *name = strerrorname_np(errno_val);
  printf("{\"ok\":false,\"syscall\":");
  json_str(stdout, syscall_name);
  printf(",\"errno\":");
  json_str(stdout, name ? name : "EUNKNOWN");
  printf(",\"errno_num\":%d,\"message\":", errno_val);
  json_str(stdout, strerror(errno_val));
  if (path) {
    printf(",\"path\":");
    json_str(stdout, path);
  }
  printf("}\n");
  return 1;
}

static int usage(const char *msg) {
  printf("{\"ok\":false,\"usage\":");
  json_str(stdout, msg);
  printf("}\n");
  return 2;
}

static int open_userns(const char *file) {
  return open(file, O_RDONLY | O_CLOEXEC);
}

// A detached clone of the mount at path, idmapped through userns_fd (and read-only if ro). Returns the
// tree fd or -1 with *failed_call set.
static int idmapped_clone(const char *path, int userns_fd, int ro, int recursive, const char **failed_call) {
  unsigned int flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0);
  int fd = open_tree(AT_FDCWD, path, flags);
  if (fd < 0) {
    *failed_call = "open_tree";
    return -1;
  }
  struct mount_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.attr_set = MOUNT_ATTR_IDMAP | (ro ? MOUNT_ATTR_RDONLY : 0);
  attr.userns_fd = (unsigned long long)userns_fd;
  // Private: the temporary mount must not propagate to peers of wherever it is attached.
  attr.propagation = MS_PRIVATE;
  if (mount_setattr(fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr, sizeof(attr)) < 0) {
    int e = errno;
    close(fd);
    errno = e;
    *failed_call = "mount_setattr";
    return -1;
  }
  return fd;
}

static int cmd_probe(int argc, char **argv) {
  if (argc != 2) return usage("probe <path> <userns-file>");
  const char *path = argv[0];
  int ns = open_userns(argv[1]);
  if (ns < 0) return fail("open", errno, argv[1]);
  const char *call = NULL;
  int fd = idmapped_clone(path, ns, 0, 0, &call);
  if (fd < 0) return fail(call, errno, path);
  close(fd);
  close(ns);
  printf("{\"ok\":true,\"path\":");
  json_str(stdout, path);
  printf(",\"idmap\":true}\n");
  return 0;
}

static int cmd_mount(int argc, char **argv) {
  int ro = 0, recursive = 0, i = 0;
  for (; i < argc && argv[i][0] == '-'; i++) {
    if (strcmp(argv[i], "--ro") == 0) ro = 1;
    else if (strcmp(argv[i], "--recursive") == 0) recursive = 1;
    else return usage("mount [--ro] [--recursive] <src> <dst> <userns-file>");
  }
  if (argc - i != 3) return usage("mount [--ro] [--recursive] <src> <dst> <userns-file>");
  const char *src = argv[i], *dst = argv[i + 1], *nsfile = argv[i + 2];
  int ns = open_userns(nsfile);
  if (ns < 0) return fail("open", errno, nsfile);
  const char *call = NULL;
  int fd = idmapped_clone(src, ns, ro, recursive, &call);
  if (fd < 0) return fail(call, errno, src);
  if (move_mount(fd, "", AT_FDCWD, dst, MOVE_MOUNT_F_EMPTY_PATH) < 0) return fail("move_mount", errno, dst);
  close(fd);
  close(ns);
  printf("{\"ok\":true,\"target\":");
  json_str(stdout, dst);
  printf("}\n");
  return 0;
}

struct overlay_args {
  const char *userns;
  char *lowers[MAX_LOWERS];
  int nlowers;
  const char *upper, *work, *target, *tmpdir, *method;
  const char *opts[64];
  int nopts;
};

// Records the first failure of an overlay attempt so "auto" can report both.
struct failure {
  const char *call;
  int err;
  char path[PATH_MAX];
};

static void set_failure(struct failure *f, const char *call, int err, const char *path) {
  f->call = call;
  f->err = err;
  size_t n = path ? strlen(path) : 0;
  if (n >= sizeof(f->path)) n = sizeof(f->path) - 1;
  if (n) memcpy(f->path, path, n);
  f->path[n] = 0;
}

static int fsconfig_opts(int fs, const struct overlay_args *a, struct failure *f) {
  for (int i = 0; i < a->nopts; i++) {
    char key[256];
    snprintf(key, sizeof(key), "%s", a->opts[i]);
    char *eq = strchr(key, '=');
    int r;
    if (eq) {
      *eq = 0;
      r = fsconfig(fs, FSCONFIG_SET_STRING, key, eq + 1, 0);
    } else {
      r = fsconfig(fs, FSCONFIG_SET_FLAG, key, NULL, 0);
    }
    if (r < 0) {
      set_failure(f, "fsconfig", errno, a->opts[i]);
      return -1;
    }
  }
  return 0;
}

// Layers by file descriptor: no mount points, no string limits. Every fd is closed before returning;
// the overlay superblock holds its own private clones of the layers.
static int overlay_fd(const struct overlay_args *a, int ns, struct failure *f) {
  int fs = -1, mnt = -1, ret = -1, ufd = -1, wfd = -1, nl = 0;
  int lfds[MAX_LOWERS];
  fs = fsopen("overlay", FSOPEN_CLOEXEC);
  if (fs < 0) {
    set_failure(f, "fsopen", errno, "overlay");
    return -1;
  }
  // "lowerdir+" appends each layer below the ones already given, so the topmost goes first (--lower order).
  for (int i = 0; i < a->nlowers; i++) {
    int lfd;
    const char *call = "open";
    if (ns >= 0) lfd = idmapped_clone(a->lowers[i], ns, 1, 0, &call);
    else lfd = open(a->lowers[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (lfd < 0) {
      set_failure(f, call, errno, a->lowers[i]);
      goto out;
    }
    // Keep the fd open until the superblock exists: closing the last fd of a detached tree unmounts it,
    // and overlayfs can only clone a layer mount that is still mounted (fs/namespace.c clone_private_mount).
    lfds[nl++] = lfd;
    if (fsconfig(fs, FSCONFIG_SET_FD, "lowerdir+", NULL, lfd) < 0) {
      set_failure(f, "fsconfig", errno, a->lowers[i]);
      goto out;
    }
  }
  if (a->upper) {
    ufd = open(a->upper, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (ufd < 0) { set_failure(f, "open", errno, a->upper); goto out; }
    if (fsconfig(fs, FSCONFIG_SET_FD, "upperdir", NULL, ufd) < 0) { set_failure(f, "fsconfig", errno, a->upper); goto out; }
    wfd = open(a->work, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (wfd < 0) { set_failure(f, "open", errno, a->work); goto out; }
    if (fsconfig(fs, FSCONFIG_SET_FD, "workdir", NULL, wfd) < 0) { set_failure(f, "fsconfig", errno, a->work); goto out; }
  }
  if (fsconfig_opts(fs, a, f) < 0) goto out;
  if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
    set_failure(f, "fsconfig", errno, "FSCONFIG_CMD_CREATE");
    goto out;
  }
  mnt = fsmount(fs, FSMOUNT_CLOEXEC, 0);
  if (mnt < 0) { set_failure(f, "fsmount", errno, a->target); goto out; }
  if (move_mount(mnt, "", AT_FDCWD, a->target, MOVE_MOUNT_F_EMPTY_PATH) < 0) {
    set_failure(f, "move_mount", errno, a->target);
    goto out;
  }
  ret = 0;
out:
  for (int i = 0; i < nl; i++) close(lfds[i]);
  if (ufd >= 0) close(ufd);
  if (wfd >= 0) close(wfd);
  if (mnt >= 0) close(mnt);
  close(fs);
  return ret;
}

// Longest common directory prefix of the (absolute, resolved) lowers.
static void common_parent(char **paths, int n, char *out, size_t outlen) {
  snprintf(out, outlen, "%s", paths[0]);
  for (int i = 1; i < n; i++) {
    size_t j = 0;
    while (out[j] && out[j] == paths[i][j]) j++;
    // The prefix must end at a path component boundary.
    if (!(out[j] == 0 && (paths[i][j] == '/' || paths[i][j] == 0))) {
      while (j > 0 && out[j] != '/') j--;
    }
    out[j] = 0;
  }
  if (out[0] == 0) snprintf(out, outlen, "/");
}

// containerd's way: one idmapped read-only clone of the lowers' common parent, attached under a private
// temp dir, lowerdirs given relative to it (cwd) so the option string stays short.
static int overlay_tmpdir(const struct overlay_args *a, int ns, struct failure *f) {
  static char resolved[MAX_LOWERS][PATH_MAX];
  char *rp[MAX_LOWERS];
  char parent[PATH_MAX], tmpl[PATH_MAX], mnt[PATH_MAX + 8];
  int ret = -1, mounted = 0, cwd = -1;
  for (int i = 0; i < a->nlowers; i++) {
    if (!realpath(a->lowers[i], resolved[i])) {
      set_failure(f, "realpath", errno, a->lowers[i]);
      return -1;
    }
    rp[i] = resolved[i];
  }
  // Upper, work and target are used after the chdir below, so they must be absolute.
  static char upper[PATH_MAX], work[PATH_MAX], target[PATH_MAX];
  const char *abs_in[3] = {a->upper, a->work, a->target};
  char *abs_out[3] = {upper, work, target};
  for (int i = 0; i < 3; i++) {
    abs_out[i][0] = 0;
    if (abs_in[i] && !realpath(abs_in[i], abs_out[i])) {
      set_failure(f, "realpath", errno, abs_in[i]);
      return -1;
    }
  }
  common_parent(rp, a->nlowers, parent, sizeof(parent));
  if (ns >= 0 && strcmp(parent, "/") == 0) {
    // Idmapping "/" recursively would take /proc and /sys with it (not idmappable): refuse clearly.
    set_failure(f, "common_parent", EXDEV, "lower layers share no parent directory below /");
    return -1;
  }
  snprintf(tmpl, sizeof(tmpl), "%s/crius-idmap-XXXXXX", a->tmpdir);
  if (ns >= 0) {
    if (!mkdtemp(tmpl)) {
      set_failure(f, "mkdtemp", errno, tmpl);
      return -1;
    }
    snprintf(mnt, sizeof(mnt), "%s/m", tmpl);
    if (mkdir(mnt, 0700) < 0) { set_failure(f, "mkdir", errno, mnt); goto cleanup; }
    const char *call = NULL;
    // Not recursive: a submount below the parent (another layer store, an nsfs pin) that cannot be
    // idmapped would make the whole mount_setattr fail; layers live on one filesystem.
    int t = idmapped_clone(parent, ns, 1, 0, &call);
    if (t < 0) { set_failure(f, call, errno, parent); goto cleanup; }
    int r = move_mount(t, "", AT_FDCWD, mnt, MOVE_MOUNT_F_EMPTY_PATH);
    int e = errno;
    close(t);
    if (r < 0) { set_failure(f, "move_mount", e, mnt); goto cleanup; }
    mounted = 1;
  } else {
    snprintf(mnt, sizeof(mnt), "%s", parent);
  }
  cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (chdir(mnt) < 0) { set_failure(f, "chdir", errno, mnt); goto cleanup; }
  {
    long page = sysconf(_SC_PAGESIZE);
    size_t cap = (size_t)page;
    char *data = calloc(1, cap + 1);
    size_t len = 0;
    size_t plen = strcmp(parent, "/") == 0 ? 0 : strlen(parent);
    int over = 0;
    len += (size_t)snprintf(data + len, cap + 1 - len, "lowerdir=");
    for (int i = 0; i < a->nlowers && !over; i++) {
      const char *rel = resolved[i] + plen;
      while (*rel == '/') rel++;
      if (*rel == 0) rel = ".";
      if (strchr(rel, ':') || strchr(rel, ',')) {
        free(data);
        set_failure(f, "mount", EINVAL, resolved[i]);
        goto cleanup;
      }
      size_t need = strlen(rel) + 1;
      if (len + need >= cap) over = 1;
      else len += (size_t)snprintf(data + len, cap + 1 - len, "%s%s", i ? ":" : "", rel);
    }
    if (!over && a->upper) {
      size_t need = strlen(upper) + strlen(work) + 20;
      if (len + need >= cap) over = 1;
      else len += (size_t)snprintf(data + len, cap + 1 - len, ",upperdir=%s,workdir=%s", upper, work);
    }
    for (int i = 0; i < a->nopts && !over; i++) {
      if (len + strlen(a->opts[i]) + 2 >= cap) over = 1;
      else len += (size_t)snprintf(data + len, cap + 1 - len, ",%s", a->opts[i]);
    }
    if (over) {
      free(data);
      // mount(2) copies at most one page of options.
      set_failure(f, "mount", E2BIG, "overlay options longer than one page");
      goto cleanup;
    }
    int r = mount("overlay", target, "overlay", 0, data);
    int e = errno;
    free(data);
    if (r < 0) { set_failure(f, "mount", e, target); goto cleanup; }
  }
  ret = 0;
cleanup:
  if (cwd >= 0) {
    if (fchdir(cwd) < 0) { /* best effort: we exit right after */ }
    close(cwd);
  }
  if (ns >= 0) {
    if (mounted && umount2(mnt, MNT_DETACH) < 0 && ret == 0) {
      set_failure(f, "umount2", errno, mnt);
      ret = 0;  // the overlay is mounted; a leftover temp mount is reported below, not fatal
    }
    rmdir(mnt);
    rmdir(tmpl);
  }
  return ret;
}

static int cmd_overlay(int argc, char **argv) {
  static const char *u =
      "overlay [--userns <file>] --lower <dir>[:<dir>...] --upper <dir> --work <dir> "
      "[--method auto|fd|tmpdir] [--tmpdir <dir>] [-o key[=value]]... <target>";
  struct overlay_args a;
  memset(&a, 0, sizeof(a));
  a.tmpdir = "/tmp";
  a.method = "auto";
  char *lowerspec = NULL;
  int i = 0;
  for (; i < argc; i++) {
    const char *k = argv[i];
    if (k[0] != '-') break;
    if (i + 1 >= argc) return usage(u);
    const char *v = argv[++i];
    if (strcmp(k, "--userns") == 0) a.userns = v;
    else if (strcmp(k, "--lower") == 0) lowerspec = strdup(v);
    else if (strcmp(k, "--upper") == 0) a.upper = v;
    else if (strcmp(k, "--work") == 0) a.work = v;
    else if (strcmp(k, "--method") == 0) a.method = v;
    else if (strcmp(k, "--tmpdir") == 0) a.tmpdir = v;
    else if (strcmp(k, "-o") == 0 && a.nopts < 64) a.opts[a.nopts++] = v;
    else return usage(u);
  }
  if (argc - i != 1 || !lowerspec || (!a.upper != !a.work)) return usage(u);
  if (strcmp(a.method, "auto") && strcmp(a.method, "fd") && strcmp(a.method, "tmpdir")) return usage(u);
  a.target = argv[i];
  for (char *save = NULL, *tok = strtok_r(lowerspec, ":", &save); tok; tok = strtok_r(NULL, ":", &save)) {
    if (a.nlowers >= MAX_LOWERS) return usage("too many lower dirs (max 500)");
    a.lowers[a.nlowers++] = tok;
  }
  if (a.nlowers == 0) return usage(u);
  int ns = -1;
  if (a.userns) {
    ns = open_userns(a.userns);
    if (ns < 0) return fail("open", errno, a.userns);
  }
  struct failure f1, f2;
  memset(&f1, 0, sizeof(f1));
  memset(&f2, 0, sizeof(f2));
  const char *used = NULL;
  if (strcmp(a.method, "tmpdir") != 0) {
    if (overlay_fd(&a, ns, &f1) == 0) used = "fd";
  }
  if (!used && strcmp(a.method, "fd") != 0) {
    if (overlay_tmpdir(&a, ns, &f2) == 0) used = "tmpdir";
  }
  if (!used) {
    struct failure *last = strcmp(a.method, "fd") == 0 ? &f1 : &f2;
    if (strcmp(a.method, "auto") == 0) {
      // Report the tmpdir failure, with the fd attempt's error alongside for diagnosis.
      const char *name = strerrorname_np(f1.err);
      printf("{\"ok\":false,\"syscall\":");
      json_str(stdout, last->call);
      printf(",\"errno\":");
      json_str(stdout, strerrorname_np(last->err) ? strerrorname_np(last->err) : "EUNKNOWN");
      printf(",\"errno_num\":%d,\"message\":", last->err);
      json_str(stdout, strerror(last->err));
      printf(",\"path\":");
      json_str(stdout, last->path);
      printf(",\"fd_method\":{\"syscall\":");
      json_str(stdout, f1.call ? f1.call : "");
      printf(",\"errno\":");
      json_str(stdout, name ? name : "EUNKNOWN");
      printf(",\"path\":");
      json_str(stdout, f1.path);
      printf("}}\n");
      return 1;
    }
    return fail(last->call, last->err, last->path);
  }
  if (ns >= 0) close(ns);
  printf("{\"ok\":true,\"target\":");
  json_str(stdout, a.target);
  printf(",\"method\":\"%s\",\"idmapped\":%s", used, ns >= 0 ? "true" : "false");
  if (f2.call) {
    // tmpdir succeeded but its temporary mount could not be detached.
    printf(",\"warning\":");
    json_str(stdout, f2.path);
  }
  printf("}\n");
  free(lowerspec);
  return 0;
}

static int cmd_ns_owner(int argc, char **argv) {
  if (argc != 1) return usage("ns-owner <ns-file>");
  int fd = open(argv[0], O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail("open", errno, argv[0]);
  struct stat st, ost;
  if (fstat(fd, &st) < 0) return fail("fstat", errno, argv[0]);
  int owner = ioctl(fd, NS_GET_USERNS);
  if (owner < 0) return fail("ioctl(NS_GET_USERNS)", errno, argv[0]);
  if (fstat(owner, &ost) < 0) return fail("fstat", errno, argv[0]);
  printf("{\"ok\":true,\"ns_ino\":%llu,\"owner_userns_ino\":%llu}\n", (unsigned long long)st.st_ino,
         (unsigned long long)ost.st_ino);
  close(owner);
  close(fd);
  return 0;
}

int main(int argc, char **argv) {
  const char *top = "crius-idmap probe|mount|overlay|ns-owner ...";
  if (argc < 2) return usage(top);
  const char *cmd = argv[1];
  if (strcmp(cmd, "probe") == 0) return cmd_probe(argc - 2, argv + 2);
  if (strcmp(cmd, "mount") == 0) return cmd_mount(argc - 2, argv + 2);
  if (strcmp(cmd, "overlay") == 0) return cmd_overlay(argc - 2, argv + 2);
  if (strcmp(cmd, "ns-owner") == 0) return cmd_ns_owner(argc - 2, argv + 2);
  return usage(top);
}

// crius-oci-wrap: runs an OCI runtime (crun, runc) in a private mount namespace from which the given
// mounts are detached, then execs it. crius uses it on hybrid cgroup hosts (v1 controllers plus a
// cgroup2 mount at /sys/fs/cgroup/unified): crun refuses that layout ("cgroups in hybrid mode not
// supported"), and with the cgroup2 mount hidden it sees a pure v1 host. The host's global mounts are
// never touched: the umount happens only in the throwaway namespace.
//
// Propagation is kept as the host has it, except around the hidden mounts: only the mount holding each
// hidden path (e.g. the /sys/fs/cgroup tmpfs) is turned into a slave, so the umount cannot propagate back
// to the host, while shared host mounts stay shared peers in the new namespace and in the containers made
// from it (Bidirectional/rshared volumes still propagate both ways). If a hidden path's parent is not a
// mount point itself, the whole tree is made rslave instead (safe, but container mounts then no longer
// propagate back to the host).
//
// Usage: crius-oci-wrap [--hide PATH]... RUNTIME [ARG]...
// conmon execs it as its `-r` runtime, with the real runtime passed as the first `--runtime-arg`s, so
// the runtime's own argv is unchanged.
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

int main(int argc, char **argv) {
  int i = 1;
  const char *hide[16];
  int nhide = 0;
  while (i < argc && strcmp(argv[i], "--hide") == 0) {
    if (i + 1 >= argc || nhide == 16) {
      fprintf(stderr, "crius-oci-wrap: --hide needs a path (at most 16)\n");
      return 125;
    }
    hide[nhide++] = argv[i + 1];
    i += 2;
  }
  if (i >= argc) {
    fprintf(stderr, "usage: crius-oci-wrap [--hide PATH]... RUNTIME [ARG]...\n");
    return 125;
  }
  if (nhide > 0) {
    if (unshare(CLONE_NEWNS) != 0) {
      fprintf(stderr, "crius-oci-wrap: unshare(CLONE_NEWNS): %s\n", strerror(errno));
      return 125;
    }
    int whole_tree = 0;
    for (int h = 0; h < nhide; h++) {
      char parent[4096];
      size_t n = strlen(hide[h]);
      if (n == 0 || n >= sizeof parent || hide[h][0] != '/') {
        fprintf(stderr, "crius-oci-wrap: --hide needs an absolute path\n");
        return 125;
      }
      memcpy(parent, hide[h], n + 1);
      char *slash = strrchr(parent, '/');
      if (slash == parent) slash[1] = '\0';
      else *slash = '\0';
      // EINVAL: the parent directory is not itself a mount point; fall back to the whole tree below.
      if (mount(NULL, parent, NULL, MS_SLAVE, NULL) != 0) {
        if (errno != EINVAL) {
          fprintf(stderr, "crius-oci-wrap: make %s a slave: %s\n", parent, strerror(errno));
          return 125;
        }
        whole_tree = 1;
      }
      // The hidden mount itself: no peers, so its removal is an event nobody else receives.
      if (mount(NULL, hide[h], NULL, MS_PRIVATE, NULL) != 0 && errno != EINVAL && errno != ENOENT) {
        fprintf(stderr, "crius-oci-wrap: make %s private: %s\n", hide[h], strerror(errno));
        return 125;
      }
    }
    if (whole_tree && mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) != 0) {
      fprintf(stderr, "crius-oci-wrap: make / rslave: %s\n", strerror(errno));
      return 125;
    }
    for (int h = 0; h < nhide; h++) {
      // EINVAL: not a mount point (already gone); ENOENT: no such path. Both mean "hidden".
      if (umount2(hide[h], MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
        fprintf(stderr, "crius-oci-wrap: umount %s: %s\n", hide[h], strerror(errno));
        return 125;
      }
    }
  }
  execv(argv[i], &argv[i]);
  fprintf(stderr, "crius-oci-wrap: exec %s: %s\n", argv[i], strerror(errno));
  return 127;
}

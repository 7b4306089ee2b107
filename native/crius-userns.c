// crius-userns: creates a user namespace with exact ID mappings and pins it at a file; optionally
// creates the pod's net, uts and ipc namespaces *inside* it (owned by it) and pins those too.
//
//   crius-userns --uid C:H:L --gid C:H:L --user FILE [--net FILE] [--uts FILE] [--ipc FILE] [--hostname NAME]
//
// Why not `unshare --map-users`: util-linux 2.38 (Debian 12) only maps through newuidmap/newgidmap,
// which need the uidmap package and /etc/subuid entries for root; 2.39 changed the option's syntax.
// Writing /proc/PID/uid_map from the parent is what every runtime does and needs neither.
//
// Steps: fork a child; the child unshare(CLONE_NEWUSER)s and waits; the parent writes its uid_map and
// gid_map; the child, now root of a mapped namespace, unshares net/uts/ipc, sets the hostname and
// reports; the parent bind-mounts /proc/CHILD/ns/* onto the files, then kills the child. Exit 0 only
// when every file is pinned; on failure the caller removes the files (bind mounts included).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("crius-userns: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

// "C:H:L" -> "C H L\n" as uid_map wants it; exits on anything else.
static void parse_map(const char *arg, char *out, size_t outlen, const char *what) {
  unsigned long long c, h, l;
  char tail;
  if (sscanf(arg, "%llu:%llu:%llu%c", &c, &h, &l, &tail) != 3 || l == 0 ||
      c + l - 1 > 4294967294ULL || h + l - 1 > 4294967294ULL)
    die("%s mapping '%s' is not CONTAINER:HOST:LENGTH within 0..4294967294", what, arg);
  snprintf(out, outlen, "%llu %llu %llu\n", c, h, l);
}

static void write_file(pid_t pid, const char *name, const char *text) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, name);
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) die("open %s: %s", path, strerror(errno));
  ssize_t n = write(fd, text, strlen(text));
  if (n != (ssize_t)strlen(text)) die("write %s (%s): %s", path, text, n < 0 ? strerror(errno) : "short write");
  close(fd);
}

static void bind_ns(pid_t pid, const char *ns, const char *file) {
  char src[64];
  snprintf(src, sizeof src, "/proc/%d/ns/%s", (int)pid, ns);
  if (mount(src, file, NULL, MS_BIND, NULL) != 0) die("bind %s onto %s: %s", src, file, strerror(errno));
}

static char rd(int fd) {
  char c = 0;
  ssize_t n;
  do n = read(fd, &c, 1); while (n < 0 && errno == EINTR);
  return n == 1 ? c : 0;
}

int main(int argc, char **argv) {
  const char *uid = NULL, *gid = NULL, *user = NULL, *net = NULL, *uts = NULL, *ipc = NULL, *hostname = NULL;
  for (int i = 1; i < argc; i++) {
    const char **slot = !strcmp(argv[i], "--uid") ? &uid : !strcmp(argv[i], "--gid") ? &gid
      : !strcmp(argv[i], "--user") ? &user : !strcmp(argv[i], "--net") ? &net : !strcmp(argv[i], "--uts") ? &uts
      : !strcmp(argv[i], "--ipc") ? &ipc : !strcmp(argv[i], "--hostname") ? &hostname : NULL;
    if (!slot || i + 1 >= argc) die("usage: crius-userns --uid C:H:L --gid C:H:L --user FILE [--net FILE] [--uts FILE] [--ipc FILE] [--hostname NAME]");
    *slot = argv[++i];
  }
  if (!uid || !gid || !user) die("--uid, --gid and --user are required");
  if (hostname && !uts) die("--hostname needs --uts");
  char uid_map[96], gid_map[96];
  parse_map(uid, uid_map, sizeof uid_map, "uid");
  parse_map(gid, gid_map, sizeof gid_map, "gid");

  int to_child[2], to_parent[2];
  if (pipe2(to_child, O_CLOEXEC) || pipe2(to_parent, O_CLOEXEC)) die("pipe: %s", strerror(errno));
  pid_t pid = fork();
  if (pid < 0) die("fork: %s", strerror(errno));
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    close(to_child[1]);
    close(to_parent[0]);
    char ok = unshare(CLONE_NEWUSER) == 0 ? 'u' : 'E';
    if (ok == 'E') dprintf(2, "crius-userns: unshare(CLONE_NEWUSER): %s\n", strerror(errno));
    if (write(to_parent[1], &ok, 1) != 1 || ok == 'E') _exit(1);
    if (rd(to_child[0]) != 'm') _exit(1);  // the parent wrote the maps
    int flags = (net ? CLONE_NEWNET : 0) | (uts ? CLONE_NEWUTS : 0) | (ipc ? CLONE_NEWIPC : 0);
    ok = 'n';
    if (flags && unshare(flags) != 0) { dprintf(2, "crius-userns: unshare(net/uts/ipc): %s\n", strerror(errno)); ok = 'E'; }
    if (ok != 'E' && hostname && sethostname(hostname, strlen(hostname)) != 0) {
      dprintf(2, "crius-userns: sethostname(%s): %s\n", hostname, strerror(errno));
      ok = 'E';
    }
    if (write(to_parent[1], &ok, 1) != 1) _exit(1);
    rd(to_child[0]);  // wait until the parent has pinned everything (or exited)
    _exit(0);
  }
  close(to_child[0]);
  close(to_parent[1]);
  int status = 1;
  if (rd(to_parent[0]) == 'u') {
    write_file(pid, "uid_map", uid_map);
    write_file(pid, "gid_map", gid_map);
    if (write(to_child[1], "m", 1) == 1 && rd(to_parent[0]) == 'n') {
      bind_ns(pid, "user", user);
      if (net) bind_ns(pid, "net", net);
      if (uts) bind_ns(pid, "uts", uts);
      if (ipc) bind_ns(pid, "ipc", ipc);
      status = 0;
    }
  }
  close(to_child[1]);
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  if (status != 0) fprintf(stderr, "crius-userns: the namespaces were not created\n");
  return status;
}

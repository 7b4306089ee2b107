// crius-podns: creates a pod's namespaces, pins each at a file (an nsfs bind mount) so it lives without
// any process, and sets up what lives in them, all in one process start per pod (RunPodSandbox used to
// pay for unshare, sh and mount: ~8 ms on this host; this is ~1.5 ms).
//
//   crius-podns [--uid C:H:L --gid C:H:L --user FILE] [--net FILE] [--uts FILE] [--ipc FILE]
//               [--hostname NAME] [--sysctl /proc/sys/PATH VALUE]... [--shm DIR --shm-options OPTS]
//
// --user: a new user namespace with exactly these mappings; net, uts and ipc are then created inside it,
//   so it owns them (a netns owned by the host's user namespace breaks sysfs in a user-namespaced pod).
//   Without --user they belong to the host's user namespace. Also used alone, for a bare pinned userns.
// --hostname, --sysctl: set by the child inside the new namespaces (/proc/sys/{net,kernel,fs/mqueue}
//   entries follow the writer's namespaces), as root of the pod's user namespace when there is one: the
//   kernel lets only that uid write the ipc and mqueue entries of an ipc namespace the pod's userns owns
//   (host root gets them read-only). kernel.hostname and kernel.domainname go through sethostname(2) and
//   setdomainname(2), which need only the capability. The caller checks that each sysctl is namespaced.
// --net: the new netns's loopback is brought up (a new netns has only lo, and down; every pod needs it,
//   and crius's default CNI list has no loopback plugin).
// --shm: mounts the pod's /dev/shm, a tmpfs (nosuid,nodev,noexec: a bind into a user namespace needs
//   them) with OPTS (e.g. mode=1777,size=N,uid=U,gid=G), at DIR (created 0755 if missing) in the
//   caller's mount namespace.
// The pin FILEs are created (0444, as `ip netns` makes them) when missing.
//
// Why not `unshare --map-users`: util-linux 2.38 (Debian 12) maps only through newuidmap/newgidmap, which
// need the uidmap package and /etc/subuid entries for root; 2.39 changed the option's syntax. Writing
// /proc/PID/uid_map from the parent is what every runtime does and needs neither.
//
// Steps: mount the tmpfs; fork a child; the child unshare(CLONE_NEWUSER)s and waits while the parent
// writes its uid_map and gid_map; the child unshares net/uts/ipc, becomes uid/gid 0 of its user
// namespace, sets the hostname and sysctls and waits; the parent bind-mounts /proc/CHILD/ns/* onto the
// files and kills the child. Exit 0 only when all of it was done. On failure the tmpfs is unmounted again; the pin
// files are the caller's to remove (it created them). Errors go to stderr as "crius-podns: ...";
// a rejected sysctl reads "cannot set PATH: REASON".
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_SYSCTLS 128

static const char *shm_dir;
static int shm_mounted;

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("crius-podns: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  if (shm_mounted) umount2(shm_dir, MNT_DETACH);
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

static void write_proc(pid_t pid, const char *name, const char *text) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, name);
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) die("open %s: %s", path, strerror(errno));
  ssize_t n = write(fd, text, strlen(text));
  if (n != (ssize_t)strlen(text)) die("write %s (%s): %s", path, text, n < 0 ? strerror(errno) : "short write");
  close(fd);
}

static void bind_ns(pid_t pid, const char *ns, const char *file) {
  int fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0444);
  if (fd < 0) die("create %s: %s", file, strerror(errno));
  close(fd);
  char src[64];
  snprintf(src, sizeof src, "/proc/%d/ns/%s", (int)pid, ns);
  if (mount(src, file, NULL, MS_BIND, NULL) != 0) die("bind %s onto %s: %s", src, file, strerror(errno));
}

// In the child: 0, or -1 after saying why on stderr.
static int set_sysctl(const char *path, const char *value) {
  size_t len = strlen(value);
  // The caller builds the path from a checked key; this keeps a bad caller from writing anywhere else.
  if (strncmp(path, "/proc/sys/", 10) != 0 || strstr(path, "/../") || strstr(path, "/./")) {
    dprintf(2, "crius-podns: cannot set %s: not a /proc/sys path\n", path);
    return -1;
  }
  int hostname = !strcmp(path, "/proc/sys/kernel/hostname");
  if (hostname || !strcmp(path, "/proc/sys/kernel/domainname")) {
    int r = hostname ? sethostname(value, len) : setdomainname(value, len);
    if (r != 0) dprintf(2, "crius-podns: cannot set %s to '%s': %s\n", path, value, strerror(errno));
    return r;
  }
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    dprintf(2, "crius-podns: cannot set %s: %s\n", path, strerror(errno));
    return -1;
  }
  ssize_t n = write(fd, value, len);
  close(fd);
  if (n != (ssize_t)len) {
    dprintf(2, "crius-podns: cannot set %s to '%s': %s\n", path, value, n < 0 ? strerror(errno) : "short write");
    return -1;
  }
  return 0;
}

// In the child, inside the new netns: 0, or -1 after saying why on stderr.
static int loopback_up(void) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  int r = s < 0 ? -1 : ioctl(s, SIOCGIFFLAGS, &ifr);
  if (r == 0) {
    ifr.ifr_flags |= IFF_UP;
    r = ioctl(s, SIOCSIFFLAGS, &ifr);
  }
  if (r != 0) dprintf(2, "crius-podns: bring up lo in the new netns: %s\n", strerror(errno));
  if (s >= 0) close(s);
  return r;
}

static char rd(int fd) {
  char c = 0;
  ssize_t n;
  do n = read(fd, &c, 1); while (n < 0 && errno == EINTR);
  return n == 1 ? c : 0;
}

static const char USAGE[] = "usage: crius-podns [--uid C:H:L --gid C:H:L --user FILE] [--net FILE] [--uts FILE] [--ipc FILE] "
  "[--hostname NAME] [--sysctl /proc/sys/PATH VALUE]... [--shm DIR --shm-options OPTS]";

int main(int argc, char **argv) {
  const char *uid = NULL, *gid = NULL, *user = NULL, *net = NULL, *uts = NULL, *ipc = NULL, *hostname = NULL, *shm_opts = NULL;
  const char *sysctl_path[MAX_SYSCTLS], *sysctl_value[MAX_SYSCTLS];
  int nsysctls = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--sysctl")) {
      if (i + 2 >= argc || nsysctls == MAX_SYSCTLS) die("--sysctl needs a path and a value (at most %d)", MAX_SYSCTLS);
      sysctl_path[nsysctls] = argv[++i];
      sysctl_value[nsysctls++] = argv[++i];
      continue;
    }
    const char **slot = !strcmp(argv[i], "--uid") ? &uid : !strcmp(argv[i], "--gid") ? &gid
      : !strcmp(argv[i], "--user") ? &user : !strcmp(argv[i], "--net") ? &net : !strcmp(argv[i], "--uts") ? &uts
      : !strcmp(argv[i], "--ipc") ? &ipc : !strcmp(argv[i], "--hostname") ? &hostname
      : !strcmp(argv[i], "--shm") ? &shm_dir : !strcmp(argv[i], "--shm-options") ? &shm_opts : NULL;
    if (!slot || i + 1 >= argc) die("%s", USAGE);
    *slot = argv[++i];
  }
  if ((uid || gid || user) && !(uid && gid && user)) die("--uid, --gid and --user go together");
  if (!user && !net && !uts && !ipc) die("no namespace asked for; %s", USAGE);
  if (hostname && !uts) die("--hostname needs --uts");
  if (!shm_dir != !shm_opts) die("--shm and --shm-options go together");
  char uid_map[96], gid_map[96];
  if (user) {
    parse_map(uid, uid_map, sizeof uid_map, "uid");
    parse_map(gid, gid_map, sizeof gid_map, "gid");
  }
  if (shm_dir) {
    if (mkdir(shm_dir, 0755) != 0 && errno != EEXIST) die("create %s: %s", shm_dir, strerror(errno));
    if (mount("shm", shm_dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, shm_opts) != 0)
      die("mount tmpfs (%s) at %s: %s", shm_opts, shm_dir, strerror(errno));
    shm_mounted = 1;
  }

  int to_child[2], to_parent[2];
  if (pipe2(to_child, O_CLOEXEC) || pipe2(to_parent, O_CLOEXEC)) die("pipe: %s", strerror(errno));
  pid_t pid = fork();
  if (pid < 0) die("fork: %s", strerror(errno));
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    close(to_child[1]);
    close(to_parent[0]);
    char ok = 'u';
    if (user && unshare(CLONE_NEWUSER) != 0) {
      dprintf(2, "crius-podns: unshare(CLONE_NEWUSER): %s\n", strerror(errno));
      ok = 'E';
    }
    if (write(to_parent[1], &ok, 1) != 1 || ok == 'E') _exit(1);
    if (rd(to_child[0]) != 'm') _exit(1);  // the parent wrote the maps (or there are none)
    int flags = (net ? CLONE_NEWNET : 0) | (uts ? CLONE_NEWUTS : 0) | (ipc ? CLONE_NEWIPC : 0);
    ok = 'n';
    if (flags && unshare(flags) != 0) { dprintf(2, "crius-podns: unshare(net/uts/ipc): %s\n", strerror(errno)); ok = 'E'; }
    // Root of the pod's user namespace (when 0 is mapped, as KEP-127 mappings always have it): the owner
    // its ipc sysctls need. Its capabilities there stay full.
    if (ok != 'E' && user && (setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0) && errno != EINVAL) {
      dprintf(2, "crius-podns: become root of the user namespace: %s\n", strerror(errno));
      ok = 'E';
    }
    if (ok != 'E' && net && loopback_up() != 0) ok = 'E';
    if (ok != 'E' && hostname && sethostname(hostname, strlen(hostname)) != 0) {
      dprintf(2, "crius-podns: cannot set the hostname to '%s': %s\n", hostname, strerror(errno));
      ok = 'E';
    }
    for (int i = 0; ok != 'E' && i < nsysctls; i++) if (set_sysctl(sysctl_path[i], sysctl_value[i]) != 0) ok = 'E';
    if (write(to_parent[1], &ok, 1) != 1) _exit(1);
    rd(to_child[0]);  // wait until the parent has pinned everything (or exited)
    _exit(0);
  }
  close(to_child[0]);
  close(to_parent[1]);
  if (rd(to_parent[0]) != 'u') die("the child could not create the user namespace");
  if (user) {
    write_proc(pid, "uid_map", uid_map);
    write_proc(pid, "gid_map", gid_map);
  }
  if (write(to_child[1], "m", 1) != 1 || rd(to_parent[0]) != 'n') die("the namespaces were not set up");
  if (user) bind_ns(pid, "user", user);
  if (net) bind_ns(pid, "net", net);
  if (uts) bind_ns(pid, "uts", uts);
  if (ipc) bind_ns(pid, "ipc", ipc);
  close(to_child[1]);
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  return 0;
}

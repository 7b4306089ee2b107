// crius-relay: connects to something Node cannot reach by itself and relays it over this process's stdio.
//
//   crius-relay seqpacket PATH
//     conmon's attach socket is AF_UNIX SOCK_SEQPACKET; Node's net only speaks SOCK_STREAM (connect gives
//     EPROTOTYPE), and a napi addon would be a native build in the daemon's own process for one syscall
//     family. Each packet from conmon is 1 byte stream id (2 stdout, 3 stderr) + up to 8192 bytes: stdout
//     payload goes to fd 1, stderr payload to fd 3 (fd 2 stays ours for diagnostics). Bytes read from fd 0
//     are sent unprefixed (conmon's stdin). EOF on fd 0 becomes shutdown(SHUT_WR), which makes conmon close
//     the container's stdin unless it runs with --leave-stdin-open (CRI StdinOnce).
//
//   crius-relay tcp NETNS_PATH PORT
//     Port-forward: joins the pod's network namespace (Node cannot setns) and connects to localhost:PORT
//     there, IPv4 first then IPv6 (CRI-O dials "localhost" inside the netns). On success writes "ok\n" to
//     fd 3 and closes it, then relays fd 0 <-> socket with half-closes in both directions. On failure writes
//     the reason to fd 2 and exits 1.
//
// Exits 0 when the socket reached EOF, 1 on errors, 2 on usage errors.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static int send_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

// Relays fd 0 -> sock and sock -> out (seqpacket: demultiplexed to fd 1 / fd 3). Returns the exit code.
static int relay(int sock, int seqpacket) {
  static char buf[65536];
  int stdin_open = 1;
  for (;;) {
    struct pollfd fds[2] = {{.fd = sock, .events = POLLIN}, {.fd = 0, .events = POLLIN}};
    int n = poll(fds, stdin_open ? 2 : 1, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      perror("crius-relay: poll");
      return 1;
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t r = recv(sock, buf, seqpacket ? 8193 : sizeof buf, 0);
      if (r < 0) {
        if (errno == EINTR) continue;
        if (errno == ECONNRESET) return 0;
        perror("crius-relay: recv");
        return 1;
      }
      if (r == 0) return 0;
      if (seqpacket) {
        int out = buf[0] == 3 ? 3 : 1;
        if (r > 1 && write_all(out, buf + 1, (size_t)r - 1) < 0) return 0; // reader gone: the session ended
      } else if (write_all(1, buf, (size_t)r) < 0) {
        return 0;
      }
    }
    if (stdin_open && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t r = read(0, buf, seqpacket ? 8192 : sizeof buf);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        stdin_open = 0;
        shutdown(sock, SHUT_WR);
        continue;
      }
      if (send_all(sock, buf, (size_t)r) < 0) {
        if (errno == EPIPE || errno == ECONNRESET) return 0;
        perror("crius-relay: send");
        return 1;
      }
    }
  }
}

static int cmd_seqpacket(const char *path) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof sa.sun_path) {
    fprintf(stderr, "crius-relay: socket path %s is longer than %zu bytes\n", path, sizeof sa.sun_path - 1);
    return 1;
  }
  strcpy(sa.sun_path, path);
  int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof sa) < 0) {
    fprintf(stderr, "crius-relay: connect %s: %s\n", path, strerror(errno));
    return 1;
  }
  return relay(s, 1);
}

static int cmd_tcp(const char *netns, const char *port_s) {
  char *end;
  long port = strtol(port_s, &end, 10);
  if (*end != '\0' || port < 1 || port > 65535) {
    fprintf(stderr, "crius-relay: bad port %s\n", port_s);
    return 2;
  }
  int nsfd = open(netns, O_RDONLY | O_CLOEXEC);
  if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) < 0) {
    fprintf(stderr, "crius-relay: enter network namespace %s: %s\n", netns, strerror(errno));
    return 1;
  }
  close(nsfd);
  struct sockaddr_in v4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s >= 0 && connect(s, (struct sockaddr *)&v4, sizeof v4) == 0) goto connected;
  int err4 = errno;
  if (s >= 0) close(s);
  struct sockaddr_in6 v6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port), .sin6_addr = IN6ADDR_LOOPBACK_INIT};
  s = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s >= 0 && connect(s, (struct sockaddr *)&v6, sizeof v6) == 0) goto connected;
  fprintf(stderr, "dial tcp localhost:%ld: connect: %s\n", port, strerror(err4));
  return 1;
connected:
  if (write_all(3, "ok\n", 3) < 0) return 1;
  close(3);
  return relay(s, 0);
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  if (argc == 3 && strcmp(argv[1], "seqpacket") == 0) return cmd_seqpacket(argv[2]);
  if (argc == 4 && strcmp(argv[1], "tcp") == 0) return cmd_tcp(argv[2], argv[3]);
  fprintf(stderr, "usage: crius-relay seqpacket PATH | crius-relay tcp NETNS_PATH PORT\n");
  return 2;
}

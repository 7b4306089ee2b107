// crius-pty: runs a command on a new pseudo-terminal and relays it over plain pipes, for tty exec.
// `crun exec` with process.terminal=true needs its own stdin to be a terminal (tcgetattr fails on a pipe
// with "Inappropriate ioctl for device"), and Node has no pty API without a native addon. crun then
// relays between this terminal and the container's, and forwards our window size on SIGWINCH (which the
// kernel sends to the foreground process group on TIOCSWINSZ). CRI-O does the same with creack/pty.
//
// Usage: crius-pty ROWS COLS COMMAND [ARG]...
//   fd 0 -> terminal input; on EOF a single VEOF (^D) is written, which ends the read of a program in
//   canonical mode, as when a user types ^D.
//   terminal output -> fd 1.
//   fd 3 (optional): lines "ROWS COLS\n" resize the terminal.
// Exits with the command's exit status, or 128+signal.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static void set_size(int fd, unsigned rows, unsigned cols) {
  struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
  if (rows > 0 && cols > 0) ioctl(fd, TIOCSWINSZ, &ws);
}

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

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: crius-pty ROWS COLS COMMAND [ARG]...\n");
    return 125;
  }
  signal(SIGPIPE, SIG_IGN);
  unsigned rows = (unsigned)strtoul(argv[1], NULL, 10), cols = (unsigned)strtoul(argv[2], NULL, 10);
  int ctl = fcntl(3, F_GETFD) >= 0 ? 3 : -1;
  int master;
  // The size is set before the child starts, so a program that asks for it at once sees it.
  struct winsize ws0 = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
  pid_t pid = forkpty(&master, NULL, NULL, rows > 0 && cols > 0 ? &ws0 : NULL);
  if (pid < 0) {
    perror("crius-pty: forkpty");
    return 125;
  }
  if (pid == 0) {
    if (ctl >= 0) close(ctl);
    execvp(argv[3], argv + 3);
    fprintf(stderr, "crius-pty: exec %s: %s\n", argv[3], strerror(errno));
    _exit(127);
  }
  char buf[32768], line[64];
  size_t linelen = 0;
  int in_open = 1;
  for (;;) {
    struct pollfd fds[3] = {{.fd = master, .events = POLLIN}, {.fd = in_open ? 0 : -1, .events = POLLIN}, {.fd = ctl, .events = POLLIN}};
    if (poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t r = read(master, buf, sizeof buf);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break; // EIO: every slave fd is closed, the command is gone
      if (write_all(1, buf, (size_t)r) < 0) break;
    }
    if (in_open && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t r = read(0, buf, sizeof buf);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        in_open = 0;
        struct termios t;
        char eof = tcgetattr(master, &t) == 0 ? (char)t.c_cc[VEOF] : 4;
        write_all(master, &eof, 1);
      } else if (write_all(master, buf, (size_t)r) < 0) {
        break;
      }
    }
    if (ctl >= 0 && (fds[2].revents & (POLLIN | POLLHUP | POLLERR))) {
      char c;
      ssize_t r = read(ctl, &c, 1);
      if (r <= 0) {
        ctl = -1;
        continue;
      }
      if (c == '\n') {
        line[linelen] = '\0';
        unsigned h = 0, w = 0;
        if (sscanf(line, "%u %u", &h, &w) == 2) set_size(master, h, w);
        linelen = 0;
      } else if (linelen < sizeof line - 1) {
        line[linelen++] = c;
      }
    }
  }
  int status;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return 125;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 125;
}

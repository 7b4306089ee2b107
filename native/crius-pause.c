// crius-pause: the infra process of a pod that shares one PID namespace (PodSandboxConfig
// namespace_options.pid = POD). A PID namespace cannot be pinned by a bind mount without a live init
// (unlike net/ipc/uts), so this process is PID 1 of the pod: it sleeps, reaps the zombies that
// orphaned processes of other containers leave behind, and exits 0 on SIGTERM/SIGINT. Pods without
// PID sharing run no infra process at all. Built statically so its rootfs is this one file.
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void noop(int sig) { (void)sig; }

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "-v") == 0) {
    puts("crius-pause 1");
    return 0;
  }
  // Handlers as well as the blocked mask: PID 1 of a namespace never gets signals whose disposition is
  // SIG_DFL, whatever the mask.
  signal(SIGTERM, noop);
  signal(SIGINT, noop);
  signal(SIGCHLD, noop);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigprocmask(SIG_BLOCK, &set, NULL);
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    if (sig == SIGTERM || sig == SIGINT) return 0;
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
  }
}

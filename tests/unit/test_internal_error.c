/* test_internal_error.c - an internal error (a bug in nncc, never the
 * user's) exits with status 2 after printing "nncc: internal error at
 * FILE:LINE: ...", as compiler/main.c promises; the diagnostics collected
 * before it are printed first. */
#define _POSIX_C_SOURCE 200809L
#include "../../compiler/nncc.h"
#include "check.h"

#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
  int fds[2];
  if (pipe(fds) != 0)
    return 1;
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 2);
    close(fds[0]);
    diag_init(stderr);
    error_plain("a user error before it");
    internal_error("%%%d: a broken invariant", 7);
  }
  close(fds[1]);
  char text[1024];
  size_t n = 0;
  ssize_t got;
  while (n < sizeof text - 1 && (got = read(fds[0], text + n, sizeof text - 1 - n)) > 0)
    n += (size_t)got;
  text[n] = '\0';
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 2,
        "expected exit status 2, got %s %d", WIFEXITED(status) ? "exit" : "signal",
        WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
  const char *want = "nncc: error: a user error before it\n"
                     "nncc: internal error at ";
  CHECK(!strncmp(text, want, strlen(want)), "expected it to start\n%s\ngot\n%s", want, text);
  CHECK(strstr(text, "test_internal_error.c:") && strstr(text, ": %7: a broken invariant\n"),
        "expected the place and the message, got\n%s", text);
  return check_summary("internal error");
}

// Single-steps one process (not its children) under ptrace and marks every instruction address it
// executes inside [LO, HI). Used by scripts/link-order only; never part of ward.
//   trace OUT LO HI PROGRAM ARGS...   (LO and HI in hex; OUT gets one byte per address, 1 = executed)
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 5) { fprintf(stderr, "usage: trace OUT LO HI PROGRAM ARGS...\n"); return 2; }
    uint64_t lo = strtoull(argv[2], 0, 16), hi = strtoull(argv[3], 0, 16);
    unsigned char *seen = calloc(hi - lo, 1);
    if (!seen) return 1;
    pid_t pid = fork();
    if (pid == 0) {
        ptrace(PTRACE_TRACEME, 0, 0, 0);
        execv(argv[4], argv + 4);
        _exit(127);
    }
    int status, sig = 0;
    long steps = 0;
    waitpid(pid, &status, 0);
    for (;;) {
        if (ptrace(PTRACE_SINGLESTEP, pid, 0, sig) < 0 || waitpid(pid, &status, 0) < 0) break;
        if (WIFEXITED(status) || WIFSIGNALED(status)) break;
        sig = WIFSTOPPED(status) && WSTOPSIG(status) != SIGTRAP ? WSTOPSIG(status) : 0;
        uint64_t rip = ptrace(PTRACE_PEEKUSER, pid, offsetof(struct user_regs_struct, rip), 0);
        if (rip >= lo && rip < hi) seen[rip - lo] = 1;
        steps++;
    }
    FILE *f = fopen(argv[1], "wb");
    if (!f || fwrite(seen, 1, hi - lo, f) != hi - lo || fclose(f)) return 1;
    fprintf(stderr, "trace: %ld instructions, exit status %d\n", steps, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

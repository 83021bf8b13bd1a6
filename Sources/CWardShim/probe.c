// probe.c: raw system calls for `ward __probe` (Sources/WardProbe), the attack-probe battery that
// runs inside a sandbox. Every call here uses harmless arguments: either deliberately invalid ones
// (EBADF/EFAULT/EINVAL = the call reached the kernel) or an attempt confined to a forked child.
// Never used by the launcher itself.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ward_shim.h"

long ward_probe_syscall(long nr, long a, long b, long c, long d, long e, long f) {
    long r = syscall(nr, a, b, c, d, e, f);
    return r < 0 ? -errno : r;
}

long ward_probe_nr(const char *name) {
    static const struct { const char *name; long nr; } table[] = {
        {"keyctl", __NR_keyctl}, {"bpf", __NR_bpf}, {"perf_event_open", __NR_perf_event_open},
        {"io_uring_setup", __NR_io_uring_setup}, {"userfaultfd", __NR_userfaultfd},
        {"finit_module", __NR_finit_module}, {"kexec_load", __NR_kexec_load},
        {"open_by_handle_at", __NR_open_by_handle_at}, {"ptrace", __NR_ptrace},
        {"personality", __NR_personality}, {"mount", __NR_mount}, {"unshare", __NR_unshare},
        {"memfd_create", __NR_memfd_create}, {"execveat", __NR_execveat}, {"mknodat", __NR_mknodat},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(table[i].name, name) == 0) return table[i].nr;
    return -1;
}

// Waits for a child that _exit()s with 0 on success or an errno; returns 0 / -errno / -1000-signal.
static int reap(pid_t pid) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) if (errno != EINTR) return -ECHILD;
    if (WIFSIGNALED(status)) return -1000 - WTERMSIG(status);
    return -WEXITSTATUS(status);
}

int ward_probe_unshare_child(int flags) {
    pid_t pid = fork();
    if (pid < 0) return -errno;
    if (pid == 0) _exit(unshare(flags) == 0 ? 0 : errno);
    return reap(pid);
}

int ward_probe_mount_child(const char *type, const char *target, int new_userns) {
    pid_t pid = fork();
    if (pid < 0) return -errno;
    if (pid == 0) {
        if (new_userns && unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) {
            // No user namespace: try in the sandbox's own mount namespace, in a private copy.
            if (unshare(CLONE_NEWNS) != 0) _exit(errno);
        }
        if (mount(type, target, type, MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) _exit(errno);
        umount2(target, MNT_DETACH);
        _exit(0);
    }
    return reap(pid);
}

// The smallest x86-64 ELF: _start: mov edi, 0; mov eax, 60; syscall (exit(0)).
#if defined(__x86_64__)
static const unsigned char tiny_elf[] = {
    0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    2, 0, 0x3e, 0, 1, 0, 0, 0,
    0x78, 0, 0x40, 0, 0, 0, 0, 0,       // e_entry 0x400078
    0x40, 0, 0, 0, 0, 0, 0, 0,          // e_phoff
    0, 0, 0, 0, 0, 0, 0, 0,             // e_shoff
    0, 0, 0, 0, 0x40, 0, 0x38, 0,       // e_flags, e_ehsize, e_phentsize
    1, 0, 0, 0, 0, 0, 0, 0,             // e_phnum, e_shentsize, e_shnum, e_shstrndx
    1, 0, 0, 0, 5, 0, 0, 0,             // PT_LOAD, PF_R|PF_X
    0, 0, 0, 0, 0, 0, 0, 0,             // p_offset
    0, 0, 0x40, 0, 0, 0, 0, 0,          // p_vaddr
    0, 0, 0x40, 0, 0, 0, 0, 0,          // p_paddr
    0x84, 0, 0, 0, 0, 0, 0, 0,          // p_filesz
    0x84, 0, 0, 0, 0, 0, 0, 0,          // p_memsz
    0, 0x10, 0, 0, 0, 0, 0, 0,          // p_align
    0xbf, 0, 0, 0, 0, 0xb8, 0x3c, 0, 0, 0, 0x0f, 0x05,
};
#define HAVE_TINY_ELF 1
#endif

// Writes a tiny ELF (or a copy of /proc/self/exe elsewhere) to fd. 0 or -errno.
static int write_program(int fd) {
#ifdef HAVE_TINY_ELF
    if (write(fd, tiny_elf, sizeof tiny_elf) != (ssize_t)sizeof tiny_elf) return -errno;
    return 0;
#else
    int in = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (in < 0) return -errno;
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        if (write(fd, buf, n) != n) { int e = errno; close(in); return -e; }
    close(in);
    return 0;
#endif
}

// Runs path (or fd with execveat when path is NULL) in a child: 0 if it ran and exited 0.
static int exec_child(const char *path, int fd) {
    pid_t pid = fork();
    if (pid < 0) return -errno;
    if (pid == 0) {
        char *argv[] = {(char *)"ward-probe-drift", (char *)"__probe-noop", NULL};
        char *envp[] = {NULL};
        if (path) execve(path, argv, envp);
        else syscall(__NR_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
        _exit(errno == 0 ? 255 : errno);
    }
    return reap(pid);
}

// Drift: writes a program into dir and executes it. *stage: 1 = write failed, 2 = exec failed.
int ward_probe_drift(const char *dir, int *stage) {
    char path[4096];
    snprintf(path, sizeof path, "%s/.ward-probe-drift-%d", dir, (int)getpid());
    *stage = 1;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
    if (fd < 0) return -errno;
    int r = write_program(fd);
    close(fd);
    if (r != 0) { unlink(path); return r; }
    *stage = 2;
    r = exec_child(path, -1);
    unlink(path);
    return r;
}

int ward_probe_memfd_exec(int *stage) {
    *stage = 1;
    int fd = (int)syscall(__NR_memfd_create, "ward-probe-drift", MFD_CLOEXEC);
    if (fd < 0) return -errno;
    int r = write_program(fd);
    if (r != 0) { close(fd); return r; }
    *stage = 2;
    r = exec_child(NULL, fd);
    close(fd);
    return r;
}

// Forks up to n children that wait to be killed; kills and reaps them all. Returns how many
// forks succeeded; *err is the errno of the first failure (0 if none).
int ward_probe_fork_bounded(int n, int *err) {
    pid_t pids[512];
    if (n > 512) n = 512;
    int count = 0;
    *err = 0;
    for (int i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0) { *err = errno; break; }
        if (pid == 0) { for (;;) pause(); }
        pids[count++] = pid;
    }
    for (int i = 0; i < count; i++) kill(pids[i], SIGKILL);
    for (int i = 0; i < count; i++) while (waitpid(pids[i], NULL, 0) < 0 && errno == EINTR) {}
    return count;
}

// TIOCSTI with a NULL pointer: EFAULT = the kernel would have pushed the byte.
int ward_probe_tiocsti(int fd) {
    return ioctl(fd, TIOCSTI, NULL) == 0 ? 0 : -errno;
}

// Connects (TCP, non-blocking) to ipv4 addr:port, waits up to timeout_ms; never sends data.
// 0 = connected, -errno otherwise (-ETIMEDOUT after the wait).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
int ward_probe_connect(const char *addr, int port, int timeout_ms) {
    int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0) return -errno;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) { close(s); return -EINVAL; }
    int r = 0;
    if (connect(s, (struct sockaddr *)&sa, sizeof sa) != 0) {
        r = -errno;
        if (r == -EINPROGRESS) {
            struct pollfd p = {.fd = s, .events = POLLOUT};
            int n = poll(&p, 1, timeout_ms);
            if (n == 0) r = -ETIMEDOUT;
            else if (n < 0) r = -errno;
            else {
                int e = 0;
                socklen_t len = sizeof e;
                getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &len);
                r = -e;
            }
        }
    }
    close(s);
    return r;
}

// Memfd copy of path, sealed against any change: for `ward compare`'s probe binary. fd or -errno.
int ward_sealed_copy(const char *path) {
    int in = open(path, O_RDONLY | O_CLOEXEC);
    if (in < 0) return -errno;
    int fd = (int)syscall(__NR_memfd_create, "ward-probe", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) { int e = errno; close(in); return -e; }
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0) {
        if (write(fd, buf, n) != n) { int e = errno; close(in); close(fd); return -e; }
    }
    int e = n < 0 ? errno : 0;
    close(in);
    if (e != 0) { close(fd); return -e; }
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0) {
        e = errno; close(fd); return -e;
    }
    return fd;
}

int ward_probe_seals(int fd) { return fcntl(fd, F_GET_SEALS); }

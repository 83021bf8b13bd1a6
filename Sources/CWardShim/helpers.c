// Parent-side helpers that Swift's Glibc module does not expose. Not used in the child.
#define _GNU_SOURCE
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include "ward_shim.h"

int ward_memfd(const char *name) { return memfd_create(name, MFD_CLOEXEC); }

#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

int ward_timerfd(double seconds) {
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    if (fd < 0) return -1;
    struct itimerspec spec = {0};
    spec.it_value.tv_sec = (time_t)seconds;
    spec.it_value.tv_nsec = (long)((seconds - (double)spec.it_value.tv_sec) * 1e9);
    if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0) spec.it_value.tv_nsec = 1;
    if (timerfd_settime(fd, 0, &spec, NULL) < 0) { close(fd); return -1; }
    return fd;
}

int ward_read_signal(int signal_fd) {
    struct signalfd_siginfo info;
    if (read(signal_fd, &info, sizeof info) != (ssize_t)sizeof info) return -1;
    return (int)info.ssi_signo;
}

int ward_pipe(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int ward_unshare_user(void) { return unshare(CLONE_NEWUSER); }

int ward_become_root(void) {
    if (setgroups(0, NULL) < 0 || setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) return -1;
    return 0;
}

// The commit ward was built from, for `ward --version` (scripts/build passes -DWARD_COMMIT).
#ifndef WARD_COMMIT
#define WARD_COMMIT "unknown"
#endif
const char *ward_commit(void) { return WARD_COMMIT; }

#include <linux/seccomp.h>
#include <sys/ioctl.h>

int ward_notif_recv(int fd, uint64_t *id, int32_t *nr, uint32_t *arch, uint64_t args[6]) {
    struct seccomp_notif req;
    memset(&req, 0, sizeof req);  // the kernel insists on a zeroed request
    if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) return -1;
    *id = req.id;
    *nr = req.data.nr;
    *arch = req.data.arch;
    for (int i = 0; i < 6; i++) args[i] = req.data.args[i];
    return 0;
}

int ward_notif_send(int fd, uint64_t id, int32_t error) {
    struct seccomp_notif_resp resp;
    memset(&resp, 0, sizeof resp);
    resp.id = id;
    resp.error = -error;
    return ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
}

int ward_notif_continue(int fd, uint64_t id) {
    struct seccomp_notif_resp resp;
    memset(&resp, 0, sizeof resp);
    resp.id = id;
    resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    return ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
}

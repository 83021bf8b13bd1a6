// The clone/exec stage of ward: see include/ward_shim.h for the contract of every op.
//
// Rules for everything reachable from child_main (it runs in a copy of a multi-threaded process,
// so any lock another thread held at clone time stays held forever):
//   * no malloc, no stdio, no locale: strings are built by hand in stack buffers;
//   * glibc wrappers only where they are thin syscalls. setresuid/setresgid/setgroups and fork are
//     issued as raw syscalls: glibc's versions broadcast to (or lock for) threads that do not exist
//     in the child and would hang;
//   * every fd the child opens is O_CLOEXEC and closed as soon as it is no longer needed.
#define _GNU_SOURCE
#include "ward_shim.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>

#ifndef MOUNT_ATTR_SIZE_VER0 // glibc < 2.36
struct mount_attr {
    uint64_t attr_set, attr_clr, propagation, userns_fd;
};
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

#define FD_PATH_MAX 32 // "/proc/self/fd/" + an int
#define ATIME_FLAGS (MS_NOATIME | MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME)
#define REMOUNT_FLAGS (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | ATIME_FLAGS)

struct child {
    const struct ward_launch *l;
    int sync;         // sync_child
    int root;         // root fd from WARD_OP_BIND_ROOTFS until PIVOT/CHROOT/CLOSE_FDS, else -1
    const char *what; // what the failing op was working on, for the error detail
};

// ---------------------------------------------------------------------------------------------
// Small async-signal-safe helpers

static int fail_with(int err) {
    errno = err;
    return -1;
}

static void close_keep_errno(int fd) {
    int e = errno;
    close(fd);
    errno = e;
}

// Appends s to the NUL-terminated string in buf (capacity cap), truncating.
static void str_cat(char *buf, size_t cap, const char *s) {
    size_t n = strlen(buf);
    while (*s != '\0' && n + 1 < cap) buf[n++] = *s++;
    buf[n] = '\0';
}

static void str_uint(char *buf, size_t cap, unsigned long v) {
    char tmp[24];
    size_t i = sizeof tmp;
    tmp[--i] = '\0';
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    str_cat(buf, cap, tmp + i);
}

// "/proc/self/fd/N": mounting onto (or from) it uses exactly the object fd refers to, with no
// re-resolution of a path string that a symlink could redirect.
static void fd_path(char out[FD_PATH_MAX], int fd) {
    out[0] = '\0';
    str_cat(out, FD_PATH_MAX, "/proc/self/fd/");
    str_uint(out, FD_PATH_MAX, (unsigned long)fd);
}

static int fd_readlink(int fd, char *buf, size_t cap) {
    char p[FD_PATH_MAX];
    fd_path(p, fd);
    ssize_t n = readlink(p, buf, cap);
    if (n < 0) return -1;
    if ((size_t)n >= cap) return fail_with(ENAMETOOLONG);
    buf[n] = '\0';
    return 0;
}

// RESOLVE_BENEATH can fail with EAGAIN when a concurrent rename or mount kept the kernel from
// proving ".." stayed beneath dirfd: retry a bounded number of times.
static int sys_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve) {
    struct open_how how = {.flags = flags, .mode = mode, .resolve = resolve};
    for (int i = 0;; i++) {
        long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
        if (fd >= 0 || errno != EAGAIN || i == 16) return (int)fd;
    }
}

// BENEATH: "..", absolute symlinks and symlinks leaving dirfd fail with EXDEV.
// NO_MAGICLINKS (always implied): /proc/self/fd/N and /proc/1/root style jumps fail with ELOOP.
static int open_beneath(int dirfd, const char *path, uint64_t resolve) {
    return sys_openat2(dirfd, path, O_PATH | O_CLOEXEC, 0, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | resolve);
}

static int open_root(void) {
    return open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
}

// One write(2): id map files and sysctls take their whole content in a single write.
static int write_all(int fd, const char *text) {
    size_t n = strlen(text);
    ssize_t w = write(fd, text, n);
    if (w < 0) return -1;
    return (size_t)w == n ? 0 : fail_with(EIO);
}

static int write_text(struct child *c, const char *path, const char *text) {
    c->what = path;
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = write_all(fd, text);
    close_keep_errno(fd);
    return rc;
}

static long raw_fork(void) {
    // Not fork(): glibc runs atfork handlers and takes malloc locks that another thread of the
    // original process may have held at clone time.
    return syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
}

// ---------------------------------------------------------------------------------------------
// Path resolution beneath a root fd

enum leaf { LEAF_NONE, LEAF_DIR, LEAF_FILE }; // what to create when the last component is missing

// Creates name in dirfd and re-opens it without following anything: if a symlink was planted
// there meanwhile (or was there already, dangling), this fails with ELOOP.
static int create_at(int dirfd, const char *name, enum leaf leaf, mode_t mode) {
    if (leaf == LEAF_FILE) {
        int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd < 0 && errno != EEXIST) return -1;
        if (fd >= 0) {
            int rc = fchmod(fd, mode); // the mode asked for, not what the umask left of it
            close_keep_errno(fd);
            if (rc < 0) return -1;
        }
    } else if (mkdirat(dirfd, name, 0755) < 0 && errno != EEXIST) {
        return -1;
    }
    return open_beneath(dirfd, name, RESOLVE_NO_SYMLINKS);
}

// Returns an O_PATH fd for the container path `path` beneath base. Symlinks are followed only
// while they stay beneath base. Missing components are created one by one relative to their
// already-resolved parent (directories, and for leaf == LEAF_FILE the last one as a file).
static int resolve(int base, const char *path, enum leaf leaf, mode_t file_mode) {
    while (*path == '/') path++;
    if (*path == '\0') path = ".";
    int fd = open_beneath(base, path, 0);
    if (fd >= 0 || errno != ENOENT || leaf == LEAF_NONE) return fd;

    char buf[PATH_MAX];
    size_t n = strlen(path);
    if (n >= sizeof buf) return fail_with(ENAMETOOLONG);
    memcpy(buf, path, n + 1);
    int parent = -1;
    size_t i = 0;
    while (buf[i] != '\0') {
        size_t start = i;
        while (buf[i] != '\0' && buf[i] != '/') i++;
        size_t end = i;
        while (buf[i] == '/') i++;
        bool last = buf[i] == '\0';
        char saved = buf[end];
        buf[end] = '\0';
        fd = open_beneath(base, buf, 0); // the prefix so far, e.g. "a/b"
        if (fd < 0 && errno == ENOENT)
            fd = create_at(parent >= 0 ? parent : base, buf + start, last ? leaf : LEAF_DIR, file_mode);
        buf[end] = saved;
        if (parent >= 0) close_keep_errno(parent);
        if (fd < 0) return -1;
        parent = fd;
    }
    return parent;
}

// Resolves (creating) the parent directory of path beneath base; copies the last component to name.
static int resolve_parent(int base, const char *path, char name[NAME_MAX + 1]) {
    char dir[PATH_MAX];
    size_t end = strlen(path);
    while (end > 0 && path[end - 1] == '/') end--;
    size_t start = end;
    while (start > 0 && path[start - 1] != '/') start--;
    size_t len = end - start;
    if (len > NAME_MAX || start >= sizeof dir) return fail_with(ENAMETOOLONG);
    memcpy(name, path + start, len);
    name[len] = '\0';
    if (len == 0 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) return fail_with(EINVAL);
    memcpy(dir, path, start);
    dir[start] = '\0';
    return resolve(base, dir, LEAF_DIR, 0);
}

// mount(2) onto /proc/self/fd/N stacks a mount on N's dentry, but N keeps pointing at the covered
// dentry (the magic link does not traverse mounts), and propagation changes, remounts and
// mount_setattr all need the root of the new mount (EINVAL otherwise). So re-open the same place
// by its canonical path beneath base, following no symlink at all, and check it is still there.
static int reopen_mounted(int base, int fd) {
    char base_path[PATH_MAX], want[PATH_MAX], got[PATH_MAX];
    if (fd_readlink(base, base_path, sizeof base_path) < 0 || fd_readlink(fd, want, sizeof want) < 0)
        return -1;
    size_t n = strcmp(base_path, "/") == 0 ? 0 : strlen(base_path);
    if (strncmp(want, base_path, n) != 0 || want[n] != '/') return fail_with(EXDEV);
    const char *rel = want + n + 1;
    int top = open_beneath(base, *rel != '\0' ? rel : ".", RESOLVE_NO_SYMLINKS);
    if (top < 0) return -1;
    int rc = fd_readlink(top, got, sizeof got);
    if (rc == 0 && strcmp(want, got) != 0) {
        errno = ESTALE; // something was mounted or renamed in between
        rc = -1;
    }
    if (rc < 0) {
        close_keep_errno(top);
        return -1;
    }
    return top;
}

// ---------------------------------------------------------------------------------------------
// Mount helpers

// A user namespace may not clear nosuid/nodev/noexec/rdonly or change the atime mode of a mount it
// inherited from a more privileged namespace (MNT_LOCK_* flags, checked by can_change_locked_flags()
// in fs/namespace.c): a bind remount must repeat whatever the mount already has, or get EPERM.
static int keep_locked_flags(int fd, unsigned long *flags) {
    struct statfs s;
    if (fstatfs(fd, &s) < 0) return -1;
    static const struct { unsigned long st, ms; } keep[] = {
        {ST_RDONLY, MS_RDONLY}, {ST_NOSUID, MS_NOSUID}, {ST_NODEV, MS_NODEV}, {ST_NOEXEC, MS_NOEXEC},
        {ST_NOATIME, MS_NOATIME}, {ST_NODIRATIME, MS_NODIRATIME}, {ST_RELATIME, MS_RELATIME},
    };
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
        // An explicitly requested atime mode replaces the current one rather than mixing with it.
        if ((keep[i].ms & ATIME_FLAGS) && (*flags & ATIME_FLAGS)) continue;
        if ((unsigned long)s.f_flags & keep[i].st) *flags |= keep[i].ms;
    }
    return 0;
}

static int remount_bind(int fd, const char *target, unsigned long flags) {
    if (keep_locked_flags(fd, &flags) < 0) return -1;
    return mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | flags, NULL);
}

// The tail shared by MOUNT and BIND: remount flags, propagation (b), recursive attributes, all
// applied to the new mount on top of fd.
static int finish_mount(struct child *c, const struct ward_op *op, int fd, unsigned long remount) {
    if (remount == 0 && op->b == 0 && op->attr_set == 0 && op->attr_clr == 0) return 0;
    int top = reopen_mounted(c->root, fd);
    if (top < 0) return -1;
    char p[FD_PATH_MAX];
    fd_path(p, top);
    int rc = 0;
    if (remount != 0) rc = remount_bind(top, p, remount);
    if (rc == 0 && op->b != 0) rc = mount(NULL, p, NULL, op->b, NULL);
    if (rc == 0 && (op->attr_set != 0 || op->attr_clr != 0)) {
        struct mount_attr attr = {.attr_set = op->attr_set, .attr_clr = op->attr_clr};
        rc = (int)syscall(SYS_mount_setattr, top, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr);
    }
    close_keep_errno(top);
    return rc;
}

// Binds the host object at op->source onto op->path in the root. The source is opened once and
// mounted through its fd, so the type we checked is the object we mount.
static int bind_source(struct child *c, const struct ward_op *op, bool device) {
    c->what = op->source;
    int src = open(op->source, O_PATH | O_CLOEXEC);
    if (src < 0) return -1;
    struct stat st;
    int fd = -1, rc = fstat(src, &st);
    if (rc == 0) {
        c->what = op->path;
        bool dir = !device && S_ISDIR(st.st_mode);
        fd = resolve(c->root, op->path, dir ? LEAF_DIR : LEAF_FILE, device ? 0666 : 0644);
        rc = fd < 0 ? -1 : 0;
    }
    if (rc == 0) {
        char from[FD_PATH_MAX], to[FD_PATH_MAX];
        fd_path(from, src);
        fd_path(to, fd);
        rc = mount(from, to, NULL, MS_BIND | (device ? 0 : (op->a & MS_REC)), NULL);
        if (rc == 0 && !device) rc = finish_mount(c, op, fd, op->a & REMOUNT_FLAGS);
    }
    if (fd >= 0) close_keep_errno(fd);
    close_keep_errno(src);
    return rc;
}

// ---------------------------------------------------------------------------------------------
// Secrets: WARD_OP_WRITE_SECRET, WARD_OP_BIND_IN_ROOT, WARD_OP_REMOUNT. Every error detail names
// a path, never the bytes.

#ifndef RAMFS_MAGIC
#define RAMFS_MAGIC 0x858458f6
#endif

static void wipe(const void *p, size_t n) {
    if (p != NULL && n != 0) explicit_bzero((void *)p, n); // the child's own copy-on-write page
}

// For a process that will never exec (the WARD_OP_FORK intermediate): no secret byte may stay
// in its memory for the container's whole life.
static void wipe_secrets(const struct ward_launch *l) {
    for (size_t i = 0; i < l->nops; i++) {
        const struct ward_op *op = &l->ops[i];
        if (op->kind == WARD_OP_WRITE_SECRET) wipe(op->ptr, (size_t)op->a);
        if (op->kind == WARD_OP_EXEC && op->ptr3 != NULL)
            for (char *const *e = op->ptr3; *e != NULL; e++) wipe(*e, strlen(*e));
    }
}

static bool memory_backed(int fd) {
    struct statfs s;
    if (fstatfs(fd, &s) < 0) return false;
    if ((unsigned long)s.f_type == TMPFS_MAGIC || (unsigned long)s.f_type == RAMFS_MAGIC) return true;
    errno = EXDEV;
    return false;
}

static int write_secret_bytes(int fd, const char *p, size_t left) {
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return -1;
        if (w == 0) return fail_with(EIO);
        p += w;
        left -= (size_t)w;
    }
    return 0;
}

static int op_write_secret(struct child *c, const struct ward_op *op) {
    char name[NAME_MAX + 1];
    int rc = -1, fd = -1;
    int dir = c->root >= 0 ? resolve_parent(c->root, op->path, name) : fail_with(EBADF);
    if (dir >= 0 && memory_backed(dir))
        fd = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0);
    if (fd >= 0) {
        rc = write_secret_bytes(fd, op->ptr, (size_t)op->a);
        if (rc == 0 && fchown(fd, (uid_t)op->c, (gid_t)op->d) < 0) rc = -1;
        if (rc == 0 && fchmod(fd, (mode_t)op->b) < 0) rc = -1;
        close_keep_errno(fd);
        if (rc < 0) {
            int e = errno;
            unlinkat(dir, name, 0);
            errno = e;
        }
    }
    if (dir >= 0) close_keep_errno(dir);
    int e = errno;
    wipe(op->ptr, (size_t)op->a);
    errno = e;
    return rc;
}

static int op_bind_in_root(struct child *c, const struct ward_op *op) {
    c->what = op->source;
    if (c->root < 0) return fail_with(EBADF);
    const char *rel = op->source;
    while (*rel == '/') rel++;
    int src = open_beneath(c->root, *rel != '\0' ? rel : ".", 0);
    if (src < 0) return -1;
    struct stat st;
    int fd = -1, rc = fstat(src, &st);
    if (rc == 0) {
        c->what = op->path;
        fd = resolve(c->root, op->path, S_ISDIR(st.st_mode) ? LEAF_DIR : LEAF_FILE, 0644);
        rc = fd < 0 ? -1 : 0;
    }
    if (rc == 0) {
        char from[FD_PATH_MAX], to[FD_PATH_MAX];
        fd_path(from, src);
        fd_path(to, fd);
        rc = mount(from, to, NULL, MS_BIND | (op->a & MS_REC), NULL);
        if (rc == 0) rc = finish_mount(c, op, fd, op->a & REMOUNT_FLAGS);
    }
    if (fd >= 0) close_keep_errno(fd);
    close_keep_errno(src);
    return rc;
}

static int op_remount(struct child *c, const struct ward_op *op) {
    c->what = op->path;
    int base = c->root >= 0 ? c->root : open_root();
    if (base < 0) return -1;
    int fd = resolve(base, op->path, LEAF_NONE, 0), rc = -1;
    unsigned long flags = (unsigned long)op->a & ~(unsigned long)MS_REMOUNT;
    if (fd >= 0 && keep_locked_flags(fd, &flags) == 0) {
        char p[FD_PATH_MAX];
        fd_path(p, fd);
        rc = mount(NULL, p, NULL, MS_REMOUNT | flags, op->data);
    }
    if (fd >= 0) close_keep_errno(fd);
    if (base != c->root) close_keep_errno(base);
    return rc;
}

// ---------------------------------------------------------------------------------------------
// Sync socket

static int wait_go(struct child *c) {
    struct ward_msg m;
    ssize_t n;
    c->what = "sync socket";
    do n = recv(c->sync, &m, sizeof m, 0); while (n < 0 && errno == EINTR);
    if (n == 0)
        _exit(1); // the parent is gone: nobody left to report to
    if (n < 0) return -1;
    if ((size_t)n != sizeof m || m.type != WARD_MSG_GO) return fail_with(EPROTO);
    return 0;
}

// ---------------------------------------------------------------------------------------------
// Ops: namespace stage

static int op_setns(const struct ward_op *op) {
    int rc = setns(op->fd, op->num);
    close_keep_errno(op->fd);
    return rc;
}

static int op_write_idmaps(struct child *c, const struct ward_op *op) {
    // setgroups must be denied before an unprivileged gid_map write (user_namespaces(7)).
    if (op->data != NULL && write_text(c, "/proc/self/setgroups", op->data) < 0) return -1;
    if (op->source != NULL && write_text(c, "/proc/self/uid_map", op->source) < 0) return -1;
    if (op->fstype != NULL && write_text(c, "/proc/self/gid_map", op->fstype) < 0) return -1;
    return 0;
}

static int op_timens(struct child *c, const struct ward_op *op) {
    c->what = "unshare(CLONE_NEWTIME)";
    if (unshare(CLONE_NEWTIME) < 0) return -1;
    // Offsets can only be written while no process is in the namespace yet.
    if (write_text(c, "/proc/self/timens_offsets", op->source) < 0) return -1;
    c->what = "/proc/self/ns/time_for_children";
    int fd = open(c->what, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = setns(fd, CLONE_NEWTIME);
    close_keep_errno(fd);
    return rc;
}

// The intermediate left behind by WARD_OP_FORK: exits the way its only child did.
static _Noreturn void exit_like(int status) {
    if (WIFEXITED(status)) _exit(WEXITSTATUS(status));
    int sig = WTERMSIG(status);
    struct rlimit no_core = {0, 0}; // the child already dumped core if it was going to
    setrlimit(RLIMIT_CORE, &no_core);
    struct sigaction sa = {.sa_handler = SIG_DFL};
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, sig);
    sigprocmask(SIG_UNBLOCK, &one, NULL);
    kill(getpid(), sig);
    _exit(128 + sig); // a pid namespace init ignores its own fatal signals
}

static int op_fork(struct child *c) {
    static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
    sigset_t set, old;
    sigemptyset(&set);
    for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++) sigaddset(&set, forwarded[i]);
    sigaddset(&set, SIGCHLD);
    // Blocked before the fork, so nothing sent in between is lost: sigwaitinfo collects it.
    if (sigprocmask(SIG_BLOCK, &set, &old) < 0) return -1;
    c->what = "fork";
    long pid = raw_fork();
    if (pid < 0) return -1;
    if (pid == 0) return sigprocmask(SIG_SETMASK, &old, NULL);

    struct ward_msg m = {.type = WARD_MSG_PID, .value = (int32_t)pid};
    ward_send_msg(c->sync, &m);
    wipe_secrets(c->l); // this process never execs: no secret byte may stay in it
    // Keep nothing the child uses: above all the sync socket, whose EOF tells the parent the
    // child exec'd. stdio stays (it is the same terminal or pipes).
    syscall(SYS_close_range, 3U, ~0U, 0U);
    for (;;) {
        siginfo_t si;
        int sig = sigwaitinfo(&set, &si);
        if (sig < 0)
            continue; // EINTR
        if (sig != SIGCHLD) {
            kill((pid_t)pid, sig);
            continue;
        }
        int status;
        pid_t w;
        while ((w = waitpid(-1, &status, WNOHANG)) > 0) // also reaps orphans if we are a pid-ns init
            if (w == pid) exit_like(status);
    }
}

// ---------------------------------------------------------------------------------------------
// Ops: mount stage, before pivot_root

static int op_make_private(struct child *c, const struct ward_op *op) {
    // Private/slave first, so nothing below (including the MNT_DETACH of the old root) propagates
    // back to the host.
    c->what = "/";
    return mount(NULL, "/", NULL, MS_REC | op->a, NULL);
}

static int op_bind_rootfs(struct child *c, const struct ward_op *op) {
    if (mount(op->path, op->path, NULL, MS_BIND | MS_REC, NULL) < 0) return -1;
    c->root = open(op->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    return c->root < 0 ? -1 : 0;
}

// "dir/name" into out (capacity cap); ENAMETOOLONG if it does not fit.
static int path_join(char *out, size_t cap, const char *dir, const char *name) {
    out[0] = '\0';
    str_cat(out, cap, dir);
    str_cat(out, cap, "/");
    str_cat(out, cap, name);
    return strlen(out) + 1 >= cap ? fail_with(ENAMETOOLONG) : 0;
}

static int overlay_fsconfig(struct child *c, const struct ward_op *op, const char *upper, const char *work) {
    int fs = (int)syscall(SYS_fsopen, "overlay", 1 /* FSOPEN_CLOEXEC */);
    if (fs < 0) return -1;
    char one[PATH_MAX];
    int rc = 0;
    for (const char *p = op->source; rc == 0 && *p != '\0';) {
        const char *end = strchr(p, '\n');
        size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
        if (n >= sizeof one) { rc = fail_with(ENAMETOOLONG); break; }
        memcpy(one, p, n);
        one[n] = '\0';
        c->what = one;
        rc = (int)syscall(SYS_fsconfig, fs, 1 /* FSCONFIG_SET_STRING */, "lowerdir+", one, 0);
        p += n + (end != NULL);
    }
    c->what = "overlay";
    if (rc == 0) rc = (int)syscall(SYS_fsconfig, fs, 1, "upperdir", upper, 0);
    if (rc == 0) rc = (int)syscall(SYS_fsconfig, fs, 1, "workdir", work, 0);
    if (rc == 0) rc = (int)syscall(SYS_fsconfig, fs, 0 /* FSCONFIG_SET_FLAG */, "userxattr", NULL, 0);
    if (rc == 0) rc = (int)syscall(SYS_fsconfig, fs, 6 /* FSCONFIG_CMD_CREATE */, NULL, NULL, 0);
    int mnt = rc == 0 ? (int)syscall(SYS_fsmount, fs, 1 /* FSMOUNT_CLOEXEC */, 0) : -1;
    close_keep_errno(fs);
    if (mnt < 0) return -1;
    char target[PATH_MAX];
    if (path_join(target, sizeof target, op->path, "root") < 0) { close_keep_errno(mnt); return -1; }
    rc = (int)syscall(SYS_move_mount, mnt, "", AT_FDCWD, target, 4 /* MOVE_MOUNT_F_EMPTY_PATH */);
    close_keep_errno(mnt);
    return rc;
}

static int op_overlay_rootfs(struct child *c, const struct ward_op *op) {
    c->what = op->path;
    if (mount("tmpfs", op->path, "tmpfs", MS_NOSUID | MS_NODEV, op->fstype) < 0) return -1;
    char upper[PATH_MAX], work[PATH_MAX], root[PATH_MAX];
    if (path_join(upper, sizeof upper, op->path, "upper") < 0 || path_join(work, sizeof work, op->path, "work") < 0 ||
        path_join(root, sizeof root, op->path, "root") < 0)
        return -1;
    if (mkdir(upper, 0755) < 0 || mkdir(work, 0700) < 0 || mkdir(root, 0755) < 0) return -1;
    if (overlay_fsconfig(c, op, upper, work) < 0) {
        // Before Linux 6.8 there is no "lowerdir+": the classic option string, if it fit a page.
        if (errno != EINVAL || op->data == NULL) return -1;
        c->what = "overlay (mount(2) with lowerdir=...)";
        if (mount("overlay", root, "overlay", 0, op->data) < 0) return -1;
    }
    c->root = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    return c->root < 0 ? -1 : 0;
}

static int op_mount(struct child *c, const struct ward_op *op) {
    int fd = resolve(c->root, op->path, LEAF_DIR, 0);
    if (fd < 0) return -1;
    char p[FD_PATH_MAX];
    fd_path(p, fd);
    int rc = mount(op->source, p, op->fstype, op->a, op->data);
    if (rc == 0) rc = finish_mount(c, op, fd, 0);
    close_keep_errno(fd);
    return rc;
}

static int op_mknod(struct child *c, const struct ward_op *op) {
    char name[NAME_MAX + 1];
    int dir = resolve_parent(c->root, op->path, name);
    if (dir < 0) return -1;
    int rc = mknodat(dir, name, (mode_t)op->a, makedev(op->b >> 32, op->b & 0xffffffffu));
    if (rc < 0 && errno == EEXIST) rc = 0;
    if (rc == 0 && (op->c != (uint64_t)-1 || op->d != (uint64_t)-1))
        rc = fchownat(dir, name, (uid_t)op->c, (gid_t)op->d, AT_SYMLINK_NOFOLLOW);
    close_keep_errno(dir);
    return rc;
}

static int op_symlink(struct child *c, const struct ward_op *op) {
    char name[NAME_MAX + 1];
    int dir = resolve_parent(c->root, op->path, name);
    if (dir < 0) return -1;
    int rc = symlinkat(op->source, dir, name);
    if (rc < 0 && errno == EEXIST) rc = 0;
    close_keep_errno(dir);
    return rc;
}

static int op_pivot(struct child *c) {
    c->what = "pivot_root";
    // new_root == put_old stacks the old root on top of the new one at "."; detaching it then
    // leaves no path back to the host tree (and needs no writable directory in the rootfs).
    if (fchdir(c->root) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 || umount2(".", MNT_DETACH) < 0 ||
        chdir("/") < 0)
        return -1;
    close(c->root);
    c->root = -1;
    return 0;
}

static int op_chroot(struct child *c) {
    c->what = "chroot";
    if (fchdir(c->root) < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 || chdir("/") < 0)
        return -1;
    close(c->root);
    c->root = -1;
    return 0;
}

// ---------------------------------------------------------------------------------------------
// Ops: after pivot_root

// CVE-2025-31133: /dev/null is only used as a mask if it really is the null device (not a
// symlink or a planted file that would leave the masked path exposed, or expose another one).
static int open_dev_null(struct child *c, int root) {
    c->what = "/dev/null";
    int fd = open_beneath(root, "dev/null", RESOLVE_NO_SYMLINKS);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3)) return fd;
    if (fd >= 0) {
        close(fd);
        errno = ENODEV;
    }
    return -1;
}

static int op_mask(struct child *c, const struct ward_op *op) {
    int root = open_root();
    if (root < 0) return -1;
    int fd = resolve(root, op->path, LEAF_NONE, 0), null = -1, rc;
    struct stat st;
    if (fd < 0) {
        rc = errno == ENOENT ? 0 : -1;
    } else if ((rc = fstat(fd, &st)) == 0) {
        char to[FD_PATH_MAX], from[FD_PATH_MAX];
        fd_path(to, fd);
        if (S_ISDIR(st.st_mode)) {
            rc = mount("tmpfs", to, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
        } else if ((null = open_dev_null(c, root)) >= 0) {
            fd_path(from, null);
            rc = mount(from, to, NULL, MS_BIND, NULL);
        } else {
            rc = -1;
        }
    }
    if (null >= 0) close_keep_errno(null);
    if (fd >= 0) close_keep_errno(fd);
    close_keep_errno(root);
    return rc;
}

static int op_readonly(const struct ward_op *op) {
    int root = open_root();
    if (root < 0) return -1;
    int fd = resolve(root, op->path, LEAF_NONE, 0), top = -1, rc;
    if (fd < 0) {
        rc = errno == ENOENT ? 0 : -1;
    } else {
        char p[FD_PATH_MAX];
        fd_path(p, fd);
        rc = mount(p, p, NULL, MS_BIND | MS_REC, NULL);
        if (rc == 0) rc = top = reopen_mounted(root, fd);
        if (top >= 0) {
            fd_path(p, top);
            rc = remount_bind(top, p, MS_RDONLY);
        }
    }
    if (top >= 0) close_keep_errno(top);
    if (fd >= 0) close_keep_errno(fd);
    close_keep_errno(root);
    return rc;
}

static int op_remount_root(struct child *c, const struct ward_op *op) {
    c->what = "/";
    int root = open_root();
    if (root < 0) return -1;
    int rc = remount_bind(root, "/", op->a);
    close_keep_errno(root);
    return rc;
}

static int op_write_file(const struct ward_op *op) {
    int root = open_root();
    if (root < 0) return -1;
    const char *rel = op->path;
    while (*rel == '/') rel++;
    int fd = sys_openat2(root, rel, O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS);
    close_keep_errno(root);
    if (fd < 0) return -1;
    // CVE-2025-52881: a write meant for procfs (sysctls, oom_score_adj) must land in procfs, not in
    // whatever a racing mount or symlink put at that path.
    struct statfs s;
    int rc = 0;
    if (strncmp(op->path, "/proc/", 6) == 0) {
        rc = fstatfs(fd, &s);
        if (rc == 0 && s.f_type != PROC_SUPER_MAGIC) rc = fail_with(EXDEV);
    }
    if (rc == 0) rc = write_all(fd, op->source);
    close_keep_errno(fd);
    return rc;
}

static int op_terminal(struct child *c, const struct ward_op *op) {
    c->what = "/dev/ptmx";
    int root = open_root();
    if (root < 0) return -1;
    int master = sys_openat2(root, "dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC, 0,
                             RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS);
    close_keep_errno(root);
    if (master < 0) return -1;
    int unlock = 0, slave = -1, rc = -1;
    unsigned int n;
    char name[FD_PATH_MAX] = "/dev/pts/";
    // TIOCGPTPEER opens the peer of this very master, where opening "/dev/pts/N" by name could be
    // raced into opening something else.
    if (ioctl(master, TIOCSPTLCK, &unlock) == 0 && ioctl(master, TIOCGPTN, &n) == 0 &&
        (slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC)) >= 0) {
        str_uint(name, sizeof name, n);
        if (op->fd >= 0) {
            c->what = "console socket";
            rc = ward_send_fd(op->fd, master, name, strlen(name));
            close_keep_errno(op->fd);
        } else {
            struct ward_msg m = {.type = WARD_MSG_TTY};
            c->what = "sync socket";
            rc = ward_send_fd(c->sync, master, &m, sizeof m);
        }
    }
    if (rc == 0) {
        c->what = name;
        if (setsid() < 0 || ioctl(slave, TIOCSCTTY, 0) < 0 || dup2(slave, 0) < 0 || dup2(slave, 1) < 0 ||
            dup2(slave, 2) < 0)
            rc = -1;
    }
    // An fd <= 2 here was stdio that the parent left closed, and dup2 has replaced it.
    if (slave > 2) close_keep_errno(slave);
    if (master > 2) close_keep_errno(master);
    return rc;
}

// ---------------------------------------------------------------------------------------------
// Ops: process stage

static int op_seccomp(struct child *c, const struct ward_op *op) {
    // sock_fprog.len is 16 bits: a longer program must fail, never load truncated.
    if (op->len <= 0 || op->len > BPF_MAXINSNS) return fail_with(EINVAL);
    struct sock_fprog prog = {.len = (unsigned short)op->len, .filter = (struct sock_filter *)op->ptr};
    long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, (unsigned int)op->a, &prog);
    if (r < 0) return -1;
    if (op->a & SECCOMP_FILTER_FLAG_NEW_LISTENER) {
        // --seccomp-report: the parent answers the notifications, so it needs the listener now,
        // before any refused call (the plan checked that the filter lets this sendmsg through).
        struct ward_msg m = {.type = WARD_MSG_LISTENER};
        int sent = ward_send_fd(c->sync, (int)r, &m, sizeof m);
        close_keep_errno((int)r);
        if (sent < 0) return -1;
    }
    return 0;
}

static int op_setid(const struct ward_op *op) {
    // KEEPCAPS so the permitted set survives the uid change; WARD_OP_CAPS sets the final sets.
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 || syscall(SYS_setresgid, op->b, op->b, op->b) < 0 ||
        syscall(SYS_setresuid, op->a, op->a, op->a) < 0)
        return -1;
    return prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
}

static int op_caps(const struct ward_op *op) {
    const int *bound = op->ptr, *ambient = op->ptr3;
    for (int i = 0; i < op->len; i++)
        if (cap_drop_bound((cap_value_t)bound[i]) < 0) return -1;
    if (op->ptr2 != NULL && cap_set_proc((cap_t)op->ptr2) < 0) return -1;
    if (cap_reset_ambient() < 0) return -1;
    for (int i = 0; i < op->len3; i++)
        if (cap_set_ambient((cap_value_t)ambient[i], CAP_SET) < 0) return -1;
    return 0;
}

static int op_pdeathsig(struct child *c, const struct ward_op *op) {
    c->what = "sync socket";
    if (prctl(PR_SET_PDEATHSIG, op->num, 0, 0, 0) < 0) return -1;
    // If the parent died before the prctl, no signal will ever come: check for it by hand.
    struct pollfd p = {.fd = c->sync, .events = POLLIN};
    if (poll(&p, 1, 0) < 0) return -1;
    if (p.revents & POLLHUP) _exit(1);
    return 0;
}

static int op_close_fds(struct child *c, const struct ward_op *op) {
    // CVE-2024-21626: no host fd (such as the root fd, which points into the host mount tree)
    // may survive to the chdir/exec. The root fd could even sit in the preserved range if one of
    // those fds was not open in the parent, so close it explicitly.
    if (c->root >= 0) {
        close(c->root);
        c->root = -1;
    }
    if (op->num < 0) return fail_with(EINVAL);
    unsigned int first = 3U + (unsigned int)op->num, sync = (unsigned int)c->sync;
    if (sync < first) return (int)syscall(SYS_close_range, first, ~0U, 0U);
    if (sync > first && syscall(SYS_close_range, first, sync - 1, 0U) < 0) return -1;
    return (int)syscall(SYS_close_range, sync + 1, ~0U, 0U);
}

static int op_chdir(const struct ward_op *op) {
    if (chdir(op->path) < 0) return -1;
    // CVE-2024-21626: a cwd outside the root (reached through a leaked fd) reads back as
    // "(unreachable)/..." or ENOENT. Raw syscall: glibc's getcwd may fall back to walking "..".
    char cwd[PATH_MAX];
    if (syscall(SYS_getcwd, cwd, sizeof cwd) < 0 || cwd[0] != '/') return fail_with(ENOENT);
    return 0;
}

static int op_signals_reset(void) {
    struct sigaction sa = {.sa_handler = SIG_DFL};
    sigemptyset(&sa.sa_mask);
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        // glibc refuses its two reserved realtime signals with EINVAL; they are caught (not
        // ignored) in the parent, and execve resets caught signals anyway.
        if (sigaction(sig, &sa, NULL) < 0 && errno != EINVAL) return -1;
    }
    sigset_t none;
    sigemptyset(&none);
    return sigprocmask(SIG_SETMASK, &none, NULL);
}

static int op_exec(const struct ward_op *op) {
    char *const *argv = (char *const *)op->ptr, *const *envp = (char *const *)op->ptr2;
    if (strchr(op->path, '/') != NULL) {
        execve(op->path, argv, envp);
        return -1;
    }
    // Like execvpe, but over the container's PATH and without its ENOEXEC fallback to /bin/sh.
    bool eacces = false;
    size_t flen = strlen(op->path);
    for (const char *dir = op->source; dir != NULL;) {
        const char *colon = strchr(dir, ':');
        size_t dlen = colon != NULL ? (size_t)(colon - dir) : strlen(dir);
        char buf[PATH_MAX];
        if (dlen + 1 + flen < sizeof buf) {
            memcpy(buf, dir, dlen); // an empty entry means the current directory
            buf[dlen] = '/';
            memcpy(buf + dlen + 1, op->path, flen + 1);
            execve(dlen != 0 ? buf : op->path, argv, envp);
            if (errno == EACCES)
                eacces = true;
            else if (errno != ENOENT && errno != ENOTDIR)
                return -1;
        }
        dir = colon != NULL ? colon + 1 : NULL;
    }
    return fail_with(eacces ? EACCES : ENOENT);
}

// Tells the parent we reached a sync point (message op->num, READY by default), then waits to be
// released: by a byte on op->fd (the exec fifo of create/start, which outlives the creating ward
// process: we hold it O_RDWR, so read blocks until `ward start` writes) or by GO on the socket.
static int op_sync_ready(struct child *c, const struct ward_op *op) {
    struct ward_msg m = {.type = op->num != 0 ? op->num : WARD_MSG_READY};
    ward_send_msg(c->sync, &m);
    if (op->fd < 0) return wait_go(c);
    char byte;
    for (;;) {
        ssize_t n = read(op->fd, &byte, 1);
        if (n == 1) break;
        if (n < 0 && errno == EINTR) continue;
        _exit(1); // nobody will ever start us
    }
    close(op->fd);
    return 0;
}

// A fresh session keyring, so the container can't reach the caller's keys (runc does the same
// unless --no-new-keyring).
static int op_new_keyring(void) {
    return syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, 0L, 0L, 0L, 0L) < 0 ? -1 : 0;
}

// ---------------------------------------------------------------------------------------------
// The child

static int run_op(struct child *c, const struct ward_op *op) {
    struct rlimit rl = {.rlim_cur = op->a, .rlim_max = op->b};
    switch ((enum ward_op_kind)op->kind) {
    case WARD_OP_SETNS: return op_setns(op);
    case WARD_OP_WRITE_IDMAPS: return op_write_idmaps(c, op);
    case WARD_OP_WAIT_PARENT: return wait_go(c);
    case WARD_OP_UNSHARE: return unshare((int)op->a);
    case WARD_OP_TIMENS: return op_timens(c, op);
    case WARD_OP_FORK: return op_fork(c);
    case WARD_OP_MAKE_PRIVATE: return op_make_private(c, op);
    case WARD_OP_BIND_ROOTFS: return op_bind_rootfs(c, op);
    case WARD_OP_OVERLAY_ROOTFS: return op_overlay_rootfs(c, op);
    case WARD_OP_MOUNT: return op_mount(c, op);
    case WARD_OP_BIND: return bind_source(c, op, false);
    case WARD_OP_DEVICE_BIND: return bind_source(c, op, true);
    case WARD_OP_MKNOD: return op_mknod(c, op);
    case WARD_OP_SYMLINK: return op_symlink(c, op);
    case WARD_OP_PIVOT: return op_pivot(c);
    case WARD_OP_CHROOT: return op_chroot(c);
    case WARD_OP_MASK: return op_mask(c, op);
    case WARD_OP_READONLY: return op_readonly(op);
    case WARD_OP_REMOUNT_ROOT: return op_remount_root(c, op);
    case WARD_OP_ROOT_PROPAGATION: return mount(NULL, "/", NULL, op->a, NULL);
    case WARD_OP_SETHOSTNAME: return sethostname(op->source, strlen(op->source));
    case WARD_OP_SETDOMAINNAME: return setdomainname(op->source, strlen(op->source));
    case WARD_OP_WRITE_FILE: return op_write_file(op);
    case WARD_OP_TERMINAL: return op_terminal(c, op);
    case WARD_OP_RLIMIT: return setrlimit(op->num, &rl);
    case WARD_OP_SECCOMP: return op_seccomp(c, op);
    case WARD_OP_SETGROUPS: return (int)syscall(SYS_setgroups, (size_t)op->len, op->ptr);
    case WARD_OP_SETID: return op_setid(op);
    case WARD_OP_CAPS: return op_caps(op);
    case WARD_OP_NO_NEW_PRIVS: return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    case WARD_OP_PDEATHSIG: return op_pdeathsig(c, op);
    case WARD_OP_CLOSE_FDS: return op_close_fds(c, op);
    case WARD_OP_CHDIR: return op_chdir(op);
    case WARD_OP_UMASK: umask((mode_t)op->a); return 0;
    case WARD_OP_SIGNALS_RESET: return op_signals_reset();
    case WARD_OP_EXEC: return op_exec(op);
    case WARD_OP_SYNC_READY: return op_sync_ready(c, op);
    case WARD_OP_NEW_KEYRING: return op_new_keyring();
    case WARD_OP_WRITE_SECRET: return op_write_secret(c, op);
    case WARD_OP_BIND_IN_ROOT: return op_bind_in_root(c, op);
    case WARD_OP_REMOUNT: return op_remount(c, op);
    }
    c->what = "unknown op kind";
    return fail_with(EINVAL);
}

static _Noreturn void die(struct child *c, int index, int err) {
    struct ward_msg m = {.type = WARD_MSG_ERROR, .op_index = index, .err = err};
    const char *label = index >= 0 ? c->l->ops[index].label : NULL;
    if (label != NULL) str_cat(m.detail, sizeof m.detail, label);
    if (c->what != NULL) {
        if (label != NULL) str_cat(m.detail, sizeof m.detail, ": ");
        str_cat(m.detail, sizeof m.detail, c->what);
    }
    ward_send_msg(c->sync, &m);
    _exit(1);
}

static _Noreturn void child_main(const struct ward_launch *l) {
    struct child c = {.l = l, .sync = l->sync_child, .root = -1};
    close(l->sync_parent); // so that the parent dying is seen as EOF here
    for (size_t i = 0; i < l->nops; i++) {
        c.what = l->ops[i].path;
        if (run_op(&c, &l->ops[i]) < 0) die(&c, (int)i, errno);
    }
    c.what = "plan has no WARD_OP_EXEC";
    die(&c, -1, EINVAL);
}

pid_t ward_clone_and_run(const struct ward_launch *l) {
    // The parent's signal handlers (Swift runtime, glibc) must never run in the child: it starts
    // with every signal blocked; WARD_OP_SIGNALS_RESET resets and unblocks them before the exec.
    sigset_t all, old;
    sigfillset(&all);
    if (sigprocmask(SIG_SETMASK, &all, &old) < 0) return -1;
    long pid = syscall(SYS_clone, l->clone_flags | SIGCHLD, 0, 0, 0, 0);
    if (pid == 0) child_main(l);
    int e = errno;
    sigprocmask(SIG_SETMASK, &old, NULL);
    errno = e;
    return (pid_t)pid;
}

// ---------------------------------------------------------------------------------------------
// Helpers for the Swift side. ward_send_fd and ward_send_msg are also used by the child: they
// are async-signal-safe.

int ward_send_fd(int sock, int fd, const void *payload, size_t len) {
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } u;
    memset(&u, 0, sizeof u);
    struct iovec iov = {.iov_base = (void *)payload, .iov_len = len};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof fd);
    ssize_t n;
    do n = sendmsg(sock, &mh, MSG_NOSIGNAL); while (n < 0 && errno == EINTR);
    return n < 0 ? -1 : 0;
}

int ward_recv_msg(int sock, struct ward_msg *msg, int *fd_out) {
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } u;
    memset(msg, 0, sizeof *msg);
    struct iovec iov = {.iov_base = msg, .iov_len = sizeof *msg};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
    *fd_out = -1;
    ssize_t n;
    do n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC); while (n < 0 && errno == EINTR);
    if (n < 0) return -1;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm))
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS && cm->cmsg_len >= CMSG_LEN(sizeof(int)))
            memcpy(fd_out, CMSG_DATA(cm), sizeof(int));
    msg->detail[sizeof msg->detail - 1] = '\0';
    return (int)n;
}

int ward_send_msg(int sock, const struct ward_msg *msg) {
    ssize_t n;
    do n = send(sock, msg, sizeof *msg, MSG_NOSIGNAL); while (n < 0 && errno == EINTR);
    return n < 0 ? -1 : 0;
}

static int sigset_of(sigset_t *set, const int *signals, int count) {
    sigemptyset(set);
    for (int i = 0; i < count; i++)
        if (sigaddset(set, signals[i]) < 0) return -1;
    return 0;
}

int ward_signalfd(const int *signals, int count) {
    sigset_t set;
    if (sigset_of(&set, signals, count) < 0 || sigprocmask(SIG_BLOCK, &set, NULL) < 0) return -1;
    return signalfd(-1, &set, SFD_CLOEXEC);
}

int ward_sigmask_block(const int *signals, int count) {
    sigset_t set;
    return sigset_of(&set, signals, count) < 0 ? -1 : sigprocmask(SIG_BLOCK, &set, NULL);
}

int ward_sigmask_unblock(const int *signals, int count) {
    sigset_t set;
    return sigset_of(&set, signals, count) < 0 ? -1 : sigprocmask(SIG_UNBLOCK, &set, NULL);
}

int ward_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve) {
    return sys_openat2(dirfd, path, flags, mode, resolve);
}

#define E(name) [name] = #name
static const char *const errno_names[] = {
    E(EPERM), E(ENOENT), E(ESRCH), E(EINTR), E(EIO), E(ENXIO), E(E2BIG), E(ENOEXEC), E(EBADF),
    E(ECHILD), E(EAGAIN), E(ENOMEM), E(EACCES), E(EFAULT), E(ENOTBLK), E(EBUSY), E(EEXIST), E(EXDEV),
    E(ENODEV), E(ENOTDIR), E(EISDIR), E(EINVAL), E(ENFILE), E(EMFILE), E(ENOTTY), E(ETXTBSY),
    E(EFBIG), E(ENOSPC), E(ESPIPE), E(EROFS), E(EMLINK), E(EPIPE), E(EDOM), E(ERANGE), E(EDEADLK),
    E(ENAMETOOLONG), E(ENOLCK), E(ENOSYS), E(ENOTEMPTY), E(ELOOP), E(ENOMSG), E(EIDRM), E(ECHRNG),
    E(EL2NSYNC), E(EL3HLT), E(EL3RST), E(ELNRNG), E(EUNATCH), E(ENOCSI), E(EL2HLT), E(EBADE),
    E(EBADR), E(EXFULL), E(ENOANO), E(EBADRQC), E(EBADSLT), E(EBFONT), E(ENOSTR), E(ENODATA),
    E(ETIME), E(ENOSR), E(ENONET), E(ENOPKG), E(EREMOTE), E(ENOLINK), E(EADV), E(ESRMNT), E(ECOMM),
    E(EPROTO), E(EMULTIHOP), E(EDOTDOT), E(EBADMSG), E(EOVERFLOW), E(ENOTUNIQ), E(EBADFD),
    E(EREMCHG), E(ELIBACC), E(ELIBBAD), E(ELIBSCN), E(ELIBMAX), E(ELIBEXEC), E(EILSEQ), E(ERESTART),
    E(ESTRPIPE), E(EUSERS), E(ENOTSOCK), E(EDESTADDRREQ), E(EMSGSIZE), E(EPROTOTYPE), E(ENOPROTOOPT),
    E(EPROTONOSUPPORT), E(ESOCKTNOSUPPORT), E(EOPNOTSUPP), E(EPFNOSUPPORT), E(EAFNOSUPPORT),
    E(EADDRINUSE), E(EADDRNOTAVAIL), E(ENETDOWN), E(ENETUNREACH), E(ENETRESET), E(ECONNABORTED),
    E(ECONNRESET), E(ENOBUFS), E(EISCONN), E(ENOTCONN), E(ESHUTDOWN), E(ETOOMANYREFS), E(ETIMEDOUT),
    E(ECONNREFUSED), E(EHOSTDOWN), E(EHOSTUNREACH), E(EALREADY), E(EINPROGRESS), E(ESTALE),
    E(EUCLEAN), E(ENOTNAM), E(ENAVAIL), E(EISNAM), E(EREMOTEIO), E(EDQUOT), E(ENOMEDIUM),
    E(EMEDIUMTYPE), E(ECANCELED), E(ENOKEY), E(EKEYEXPIRED), E(EKEYREVOKED), E(EKEYREJECTED),
    E(EOWNERDEAD), E(ENOTRECOVERABLE), E(ERFKILL), E(EHWPOISON),
};
#undef E

const char *ward_errno_name(int err) {
    if (err > 0 && (size_t)err < sizeof errno_names / sizeof errno_names[0] && errno_names[err] != NULL)
        return errno_names[err];
    static _Thread_local char buf[16];
    buf[0] = '\0';
    str_cat(buf, sizeof buf, err < 0 ? "E-" : "E");
    str_uint(buf, sizeof buf, err < 0 ? -(unsigned long)err : (unsigned long)err);
    return buf;
}

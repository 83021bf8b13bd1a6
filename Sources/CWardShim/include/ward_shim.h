// The clone/exec stage of ward.
//
// Everything between clone(2) and execve(2) runs in this C file, because after clone only the
// calling thread exists and Swift's runtime (allocator, metadata caches) may not be safe to enter.
// The parent (Swift) builds the whole plan in memory before clone: an ordered array of ward_op,
// every string, array, capability state and seccomp program already prepared. The child walks the
// array top to bottom and execs. It allocates nothing and calls only async-signal-safe functions
// (plus libcap's cap_set_proc/cap_drop_bound/cap_set_ambient, which only issue syscalls on a
// cap_t prepared by the parent).
//
// The order of the ops is decided by the Swift plan builder (WardPlan/ChildSteps.swift), which
// documents why each step comes where it does. This file only executes.
#ifndef WARD_SHIM_H
#define WARD_SHIM_H

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

enum ward_op_kind {
    // --- namespace stage ---
    WARD_OP_SETNS = 1,        // setns(fd, num). fd was opened by the parent (O_RDONLY|O_CLOEXEC). num = CLONE_NEW* type.
                              // The child closes fd right after.
    WARD_OP_WRITE_IDMAPS,     // child maps itself: write "deny" to /proc/self/setgroups (if data != NULL, data is the
                              // setgroups content, e.g. "deny"), then source -> /proc/self/uid_map,
                              // fstype -> /proc/self/gid_map (each string is the full map file content).
    WARD_OP_WAIT_PARENT,      // read one WARD_MSG_GO message from the sync socket. EOF (parent gone) -> _exit(1) silently.
    WARD_OP_UNSHARE,          // unshare(a)
    WARD_OP_TIMENS,           // unshare(CLONE_NEWTIME); write source (full "monotonic S NS\nboottime S NS\n" text)
                              // to /proc/self/timens_offsets; setns(open("/proc/self/ns/time_for_children"), CLONE_NEWTIME).
    WARD_OP_FORK,             // fork(): the new child continues with the next op. The intermediate process forwards
                              // SIGINT/TERM/HUP/QUIT/USR1/USR2 to it, waits for it, and exits with its status
                              // (re-raising a fatal signal on itself). Needed after setns into a pid namespace.

    // --- mount stage (before pivot_root, all destinations resolved inside the rootfs) ---
    WARD_OP_MAKE_PRIVATE,     // mount(NULL, "/", NULL, MS_REC | a, NULL), a = MS_PRIVATE or MS_SLAVE (rootfsPropagation)
    WARD_OP_BIND_ROOTFS,      // mount(path, path, NULL, MS_BIND|MS_REC); then open(path, O_PATH|O_DIRECTORY) becomes the
                              // "root fd" used to resolve every later destination.
    WARD_OP_MOUNT,            // a filesystem mount: resolve path (destination, absolute, container view) beneath the root fd
                              // (creating missing directories), then mount(source, "/proc/self/fd/N", fstype, a, data).
                              // If b != 0 it is a propagation flag (MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE, maybe |MS_REC)
                              // applied afterwards with mount(NULL, "/proc/self/fd/N2", NULL, b, NULL) where N2 is the new mount.
                              // Then the recursive attrs (see below) via mount_setattr. (N itself still points at the
                              // covered directory, so N2 is re-opened by N's canonical path beneath the root fd with
                              // RESOLVE_NO_SYMLINKS, and must read back as the same path; ESTALE otherwise.)
    WARD_OP_BIND,             // a bind mount: source is a host path (absolute). stat(source): if it is not a directory the
                              // destination is created as an empty regular file, else as a directory. Then
                              // mount(source, fdpath, NULL, MS_BIND | (a & MS_REC), NULL). If (a & ~(MS_BIND|MS_REC)) has
                              // any of MS_RDONLY/MS_NOSUID/MS_NODEV/MS_NOEXEC/atime flags, remount the new mount with
                              // MS_BIND|MS_REMOUNT|those flags|the locked flags it already has (statvfs f_flag: a user
                              // namespace may not clear rdonly/nosuid/nodev/noexec/atime flags it inherited, EPERM
                              // otherwise; an atime flag in a only replaces the inherited atime mode).
                              // Then propagation b and the recursive attrs, as for WARD_OP_MOUNT.
    WARD_OP_DEVICE_BIND,      // rootless /dev: create an empty file at path (in root, mode 0666 ignoring umask), bind the
                              // host device node at source onto it. EEXIST on create is fine.
    WARD_OP_MKNOD,            // mknod(path in root, a (mode incl. S_IFCHR/S_IFBLK/S_IFIFO), makedev(b >> 32, b & 0xffffffff)),
                              // then fchownat to (uid_t)c, (gid_t)d when c/d != (uint64_t)-1. EEXIST is fine.
    WARD_OP_SYMLINK,          // symlink(source (target text), path in root). EEXIST is fine.
    WARD_OP_PIVOT,            // fchdir(root fd); pivot_root(".", "."); umount2(".", MNT_DETACH); chdir("/").
                              // (pivot_root with new_root == put_old stacks the old root under the new one.)
    WARD_OP_CHROOT,           // --no-pivot: fchdir(root fd); mount(".", "/", NULL, MS_MOVE, NULL); chroot("."); chdir("/").

    // --- after pivot: paths are plain container paths, resolved inside "/" without following symlinks out ---
    WARD_OP_MASK,             // masked path: ENOENT is fine; a directory gets a read-only empty tmpfs
                              // (MS_RDONLY|MS_NOSUID|MS_NODEV|MS_NOEXEC), anything else gets /dev/null bound over it.
                              // The container's /dev/null must be the real char device 1:3, not a symlink (ENODEV
                              // otherwise; CVE-2025-31133).
    WARD_OP_READONLY,         // readonly path: ENOENT is fine; rbind onto itself, remount MS_BIND|MS_REMOUNT|MS_RDONLY|locked flags.
    WARD_OP_REMOUNT_ROOT,     // remount "/" with MS_BIND|MS_REMOUNT|a|locked flags (root.readonly: a = MS_RDONLY)
    WARD_OP_ROOT_PROPAGATION, // mount(NULL, "/", NULL, a, NULL) (rootfsPropagation on the new root, e.g. MS_REC|MS_SHARED)
    WARD_OP_SETHOSTNAME,      // sethostname(source, strlen)
    WARD_OP_SETDOMAINNAME,    // setdomainname(source, strlen)
    WARD_OP_WRITE_FILE,       // open(path, O_WRONLY|O_CLOEXEC|O_NOFOLLOW) (path is absolute after pivot: e.g. /proc/sys/net/...),
                              // write source. Used for sysctls and /proc/self/oom_score_adj. Resolved beneath "/" with
                              // RESOLVE_NO_MAGICLINKS; a path under /proc/ must open a procfs file (EXDEV otherwise,
                              // CVE-2025-52881).
    WARD_OP_TERMINAL,         // open /dev/ptmx (the container's, after pivot), unlockpt, open the slave (O_RDWR|O_NOCTTY,
                              // via ioctl TIOCGPTPEER on the master; the console socket fd is closed once sent),
                              // send the master fd: if fd >= 0 it is a console socket (send one SCM_RIGHTS message whose
                              // payload is the pty slave's path), else to the parent over the sync socket as WARD_MSG_TTY.
                              // Then setsid(), ioctl(slave, TIOCSCTTY, 0), dup2 slave onto 0,1,2, close master and slave.

    // --- process stage ---
    WARD_OP_RLIMIT,           // setrlimit(num, {a (soft), b (hard)})
    WARD_OP_SECCOMP,          // seccomp(SECCOMP_SET_MODE_FILTER, a (flags), {len, ptr (struct sock_filter *)})
    WARD_OP_SETGROUPS,        // setgroups(len, (const gid_t *)ptr)
    WARD_OP_SETID,            // prctl(PR_SET_KEEPCAPS, 1); setresgid(b,b,b); setresuid(a,a,a); prctl(PR_SET_KEEPCAPS, 0)
    WARD_OP_CAPS,             // for each cap in (const int *)ptr [len]: cap_drop_bound(cap) (bounding set);
                              // cap_set_proc((cap_t)ptr2) (effective/permitted/inheritable);
                              // cap_reset_ambient(); for each cap in (const int *)ptr3 [len3]: cap_set_ambient(cap, CAP_SET).
    WARD_OP_NO_NEW_PRIVS,     // prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    WARD_OP_PDEATHSIG,        // prctl(PR_SET_PDEATHSIG, num), then if the sync socket's peer is gone (poll POLLHUP with
                              // timeout 0, or recv MSG_PEEK|MSG_DONTWAIT returning 0) _exit(1): the parent died before it.
                              // (commit_creds clears the pdeath signal on setuid, so the plan sets it after SETID.)
    WARD_OP_CLOSE_FDS,        // close every fd >= 3 except the sync socket and fds 3..3+num-1 (preserve-fds), with
                              // close_range over the ranges around the sync socket (which is O_CLOEXEC already); the
                              // preserved fds stay as they are. The root fd is closed too if still open.
                              // CVE-2024-21626: a leaked host fd must not survive to the chdir/exec.
    WARD_OP_CHDIR,            // chdir(path); then getcwd must succeed and start with "/" (a cwd outside the root makes
                              // getcwd return "(unreachable)..." or ENOENT -> fail with ENOENT).
    WARD_OP_UMASK,            // umask(a)
    WARD_OP_SIGNALS_RESET,    // restore every signal's disposition to SIG_DFL (except SIGKILL/SIGSTOP) and unblock all signals.
                              // Required in every plan: the child starts with all signals blocked (ward_clone_and_run).
    WARD_OP_EXEC,             // execve. path = the program. If it contains no '/', search the colon-separated directories in
                              // source (the container's PATH) like execvpe (skip ENOENT/ENOTDIR/EACCES, remember EACCES).
                              // argv = (char *const *)ptr, envp = (char *const *)ptr2. On failure report errno.
    WARD_OP_SYNC_READY,       // send message num (WARD_MSG_READY when 0) to the parent, then wait to be released: if fd >= 0,
                              // by one byte read from fd (the exec fifo, held O_RDWR so read blocks until `ward start`
                              // writes; EOF/error -> _exit(1)), else by WARD_MSG_GO on the sync socket (EOF -> _exit(1)).
    WARD_OP_NEW_KEYRING,      // keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL): a fresh anonymous session keyring.

    // --- secrets (before pivot_root: paths are container paths resolved beneath the root fd) ---
    WARD_OP_WRITE_SECRET,     // resolve the parent of path beneath the root fd (creating missing directories 0755); it
                              // must be on tmpfs or ramfs (EXDEV otherwise: secret bytes never reach a disk). Then
                              // openat(parent, name, O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC, 0), write the a bytes
                              // at ptr (write loop), fchown((uid_t)c, (gid_t)d), fchmod(b), close; on failure the file is
                              // unlinked. The bytes at ptr are wiped (explicit_bzero) afterwards, success or not. The
                              // error detail names path only, never the content.
    WARD_OP_BIND_IN_ROOT,     // like WARD_OP_BIND, but source is a path inside the root too (resolved beneath the root
                              // fd, symlinks followed only while they stay beneath it) instead of a host path. The
                              // destination is created as an empty file (mode 0644) or directory to match the source.
                              // a = MS_BIND [|MS_REC] | remount flags, b = propagation, attr_set/attr_clr as for BIND.
    WARD_OP_OVERLAY_ROOTFS,   // `ward run --image`: the rootfs is an overlay of image-store layers, in place of BIND_ROOTFS.
                              // Mount a tmpfs (data: fstype, e.g. "size=1m,mode=755") on path (an empty host directory,
                              // seen only in this mount namespace), mkdir upper, work and root in it, then mount overlayfs
                              // on path/root: fsopen("overlay"), "lowerdir+" for each '\n'-separated layer directory in
                              // source (topmost first), upperdir/workdir in the tmpfs, "userxattr" (whiteouts and opaque
                              // directories as the image store writes them), fsmount, move_mount. A kernel without
                              // "lowerdir+" (before 6.8) gets mount(2) with the whole option string in data instead
                              // (EINVAL when data is NULL: the string did not fit in a page). path/root opened
                              // O_PATH|O_DIRECTORY becomes the root fd.
    WARD_OP_REMOUNT,          // remount the mount whose root is path (resolved beneath the root fd, or beneath "/" after
                              // pivot_root): mount(NULL, fdpath, NULL, MS_REMOUNT | a | the per-mount flags it already
                              // has (rdonly/nosuid/nodev/noexec/atime, which a remount would otherwise clear, and which
                              // may be locked), data). Without MS_BIND in a this reconfigures the superblock (a =
                              // MS_RDONLY: read-only for every mount of it); with MS_BIND only this mount.
};

// ptr3 of WARD_OP_EXEC, when not NULL: a NULL-terminated char *[] of the envp entries that carry
// secret material (--secret-env; "VAR=content", no NUL inside). The intermediate process of
// WARD_OP_FORK, which never execs, wipes them and every WARD_OP_WRITE_SECRET payload before it waits.

// Recursive mount attributes (mount_setattr, AT_RECURSIVE): attr_set/attr_clr hold MOUNT_ATTR_* bits.
// Applied when attr_set or attr_clr is non-zero to the mount just made, after the propagation change.

struct ward_op {
    uint32_t kind;        // enum ward_op_kind
    int32_t num;          // small integer argument (see each kind)
    int32_t fd;           // an fd opened by the parent, or -1
    int32_t len;          // element count for ptr
    int32_t len3;         // element count for ptr3
    uint32_t attr_set;    // MOUNT_ATTR_* to set recursively (mount_setattr)
    uint32_t attr_clr;    // MOUNT_ATTR_* to clear recursively
    uint32_t pad;
    uint64_t a, b, c, d;  // integer arguments (see each kind)
    const char *path;     // destination / target path (container view for mounts)
    const char *source;   // mount source / text to write / symlink target / PATH list
    const char *fstype;   // filesystem type (MOUNT) / second text (WRITE_IDMAPS)
    const char *data;     // mount data string / setgroups text (WRITE_IDMAPS)
    const void *ptr;      // argv / gid list / bounding-drop list / seccomp program
    const void *ptr2;     // envp / cap_t
    const void *ptr3;     // ambient list
    const char *label;    // human step name for errors, e.g. "mount /proc"
};

// Messages on the sync socket (AF_UNIX, SOCK_SEQPACKET, both ends O_CLOEXEC).
enum ward_msg_type {
    WARD_MSG_GO = 1,      // parent -> child: go on (after id maps are written / at start)
    WARD_MSG_ERROR = 2,   // child -> parent: op index + errno + detail text; the child then _exit(1)s
    WARD_MSG_TTY = 3,     // child -> parent: the pty master rides along as SCM_RIGHTS
    WARD_MSG_READY = 4,   // child -> parent: every setup step before the exec is done (create/start split)
    WARD_MSG_HOOKS = 6,
    WARD_MSG_LISTENER = 7, // child -> parent: the seccomp user-notification fd rides along (--seccomp-report)   // child -> parent: at the createRuntime/createContainer hook point (before pivot_root)
    WARD_MSG_PID = 5,     // intermediate (after WARD_OP_FORK) -> parent: value = the pid of the real init (in
                          // the parent's pid namespace as seen by the sender: the parent should use it only for logs)
};

struct ward_msg {
    int32_t type;
    int32_t op_index;     // WARD_MSG_ERROR: index into the op array (-1: the plan ended without WARD_OP_EXEC)
    int32_t err;          // WARD_MSG_ERROR: errno
    int32_t value;
    char detail[240];     // WARD_MSG_ERROR: extra context (never secret material), NUL-terminated
};

struct ward_launch {
    unsigned long clone_flags;   // CLONE_NEW* flags for clone(2) (never CLONE_NEWTIME: see WARD_OP_TIMENS)
    const struct ward_op *ops;
    size_t nops;
    int sync_child;              // the child's end of the sync socketpair
    int sync_parent;             // the parent's end: the child closes it first thing
};

// Clone the child with l->clone_flags | SIGCHLD. In the parent: returns the child's pid, or -1 with errno.
// In the child: runs the ops in order and never returns (execve, or _exit(1) after reporting
// WARD_MSG_ERROR on sync_child). Every signal is blocked in the calling thread around the clone, so the
// child starts with all signals blocked (the parent's handlers must never run in it) until
// WARD_OP_SIGNALS_RESET.
pid_t ward_clone_and_run(const struct ward_launch *l);

// Helpers the Swift side uses (not in the child).
int ward_send_fd(int sock, int fd, const void *payload, size_t len);      // one SCM_RIGHTS message; 0, or -1 errno
int ward_recv_msg(int sock, struct ward_msg *msg, int *fd_out);           // returns bytes read, 0 on EOF, -1 errno
int ward_send_msg(int sock, const struct ward_msg *msg);                  // 0, or -1 errno
int ward_signalfd(const int *signals, int count);                         // block them and open a signalfd (CLOEXEC)
int ward_sigmask_block(const int *signals, int count);
int ward_sigmask_unblock(const int *signals, int count);
int ward_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve);
const char *ward_errno_name(int err);                                     // "EPERM", "ENOENT", ...; "E<n>" if unknown

// helpers.c: what Swift's Glibc module does not expose (it is built without _GNU_SOURCE).
#define WARD_O_PATH 010000000
int ward_memfd(const char *name);                                         // memfd_create(name, MFD_CLOEXEC)
int ward_timerfd(double seconds);                                         // a CLOCK_MONOTONIC timerfd armed once, CLOEXEC
int ward_read_signal(int signal_fd);                                      // one signalfd record -> signal number, -1 on error
int ward_pipe(int fds[2]);                                                // pipe2(fds, O_CLOEXEC)
int ward_unshare_user(void);                                              // unshare(CLONE_NEWUSER)
int ward_become_root(void);                                               // setgroups(0), setresgid(0,0,0), setresuid(0,0,0)
// Seccomp user notification (--seccomp-report): receive one notification; answer it with -error.
int ward_notif_recv(int fd, uint64_t *id, int32_t *nr, uint32_t *arch, uint64_t args[6]);
int ward_notif_send(int fd, uint64_t id, int32_t error);
int ward_notif_continue(int fd, uint64_t id);                              // let the call run (SECCOMP_USER_NOTIF_FLAG_CONTINUE)
const char *ward_commit(void);                                            // the git commit ward was built from, or "unknown"


// probe.c: raw calls for `ward __probe` (the attack-probe battery) and `ward compare`.
long ward_probe_syscall(long nr, long a, long b, long c, long d, long e, long f);  // result or -errno
long ward_probe_nr(const char *name);                                     // __NR_<name>, -1 if not in the table
int ward_probe_unshare_child(int flags);                                  // unshare in a forked child: 0 or -errno
int ward_probe_mount_child(const char *type, const char *target, int new_userns); // 0 or -errno
int ward_probe_drift(const char *dir, int *stage);                        // write + exec a program in dir
int ward_probe_memfd_exec(int *stage);                                    // memfd_create + execveat
int ward_probe_fork_bounded(int n, int *err);                             // forks (<= 512) that succeeded
int ward_probe_tiocsti(int fd);                                           // 0 or -errno
int ward_probe_connect(const char *addr, int port, int timeout_ms);       // 0 or -errno, sends nothing
int ward_sealed_copy(const char *path);                                   // sealed memfd copy: fd or -errno
int ward_probe_seals(int fd);                                             // F_GET_SEALS

// SHA-256 with the x86 SHA extensions (sha256_ni.c); only when ward_sha256_ni_available().
struct ward_sha256_ctx {
    uint32_t state[8];
    uint64_t length;
    uint8_t buffer[64];
    size_t buffered;
};
int ward_sha256_ni_available(void);
void ward_sha256_ni_init(struct ward_sha256_ctx *ctx);
void ward_sha256_ni_update(struct ward_sha256_ctx *ctx, const void *bytes, size_t n);
void ward_sha256_ni_final(struct ward_sha256_ctx *ctx, uint8_t digest[32]);

// SHA-256 on a second thread (sha256_async.c), SHA-NI only: start returns NULL without it.
// submit hands over one buffer (waiting while the previous one is still pending) and returns its
// sequence number; the buffer must stay untouched until wait(seq) returns. finish drains, joins
// the thread, writes the digest (if non-NULL) and frees.
struct ward_sha256_async;
struct ward_sha256_async *ward_sha256_async_start(void);
uint64_t ward_sha256_async_submit(struct ward_sha256_async *h, const void *bytes, size_t n);
void ward_sha256_async_wait(struct ward_sha256_async *h, uint64_t seq);
void ward_sha256_async_finish(struct ward_sha256_async *h, uint8_t digest[32]);

#ifdef __cplusplus
}
#endif
#endif

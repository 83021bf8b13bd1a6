import CArchive
import WardSystem

#if canImport(Glibc)
import Glibc
#endif

/// Applies image layers to a rootfs directory, never through a path: every entry is created
/// relative to an fd of its parent, opened with openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS)
/// from the rootfs fd, so nothing (`../x`, `/etc/x`, a symlinked parent, a hardlink to a host
/// path, a whiteout of `..`) reaches outside the rootfs. libarchive only reads and decompresses.
///
/// Documented skips: device nodes and sockets (one warning per layer); setuid/setgid bits (the
/// files belong to the caller on the host). A parent directory that is a symlink in the image is
/// refused (RESOLVE_NO_SYMLINKS), not followed.
public final class LayerApplier {
    let root: Int32
    let maxBytes: Int64
    /// Whiteouts stored for overlayfs (a layer of the image store) instead of applied: `.wh.NAME`
    /// becomes a 0/0 character device (creatable unprivileged since Linux 5.8) and
    /// `.wh..wh..opq` the `user.overlay.opaque` xattr (overlayfs's `userxattr` spelling).
    let overlayWhiteouts: Bool
    public private(set) var bytesWritten: Int64 = 0
    /// Inside a subuid-mapped user namespace (`--subuid`): entries get the owners the layer gives
    /// them, and setuid/setgid bits stay where that owner really is mapped.
    public var preserveOwnership = false
    var unmappedOwners = 0
    public var warn: (String) -> Void
    /// Directory modes and mtimes, applied at the end (a 0555 directory must stay writable until then).
    var directoryAttributes: [String: (mode: mode_t, mtime: timespec)] = [:]
    /// Paths this layer created (an opaque whiteout keeps them and removes the lower layers' entries).
    var createdThisLayer: Set<String> = []

    public init(rootfd: Int32, maxBytes: Int64, overlayWhiteouts: Bool = false, warn: @escaping (String) -> Void) {
        root = rootfd
        self.maxBytes = maxBytes
        self.overlayWhiteouts = overlayWhiteouts
        self.warn = warn
    }

    /// `name` as path components beneath the root: a leading `/` or `./` is dropped; `..` is refused.
    static func components(_ name: String, entry: String) throws(ImageError) -> [String] {
        let parts = name.split(separator: "/", omittingEmptySubsequences: true).map(String.init).filter { $0 != "." }
        if parts.contains("..") { throw ImageError("\(entry): \"\(name)\" climbs out with \"..\"; refusing the layer") }
        return parts
    }

    /// Opens the directory `parts` beneath the root (creating missing ones when `create`).
    func openDirectory(_ parts: ArraySlice<String>, create: Bool, entry: String) throws(ImageError) -> Int32 {
        let resolve = Sys.resolveBeneath | Sys.resolveNoSymlinks
        let path = parts.isEmpty ? "." : parts.joined(separator: "/")
        let fd = Sys.openat2(root, path, flags: O_RDONLY | O_DIRECTORY | O_CLOEXEC, resolve: resolve)
        if fd >= 0 { return fd }
        let e = errno
        if e == ENOENT && create {
            var current = Sys.openat2(root, ".", flags: O_RDONLY | O_DIRECTORY | O_CLOEXEC, resolve: resolve)
            for (i, part) in parts.enumerated() {
                if mkdirat(current, part, 0o755) == 0 {
                    let sub = Array(parts.prefix(i + 1)).joined(separator: "/")
                    directoryAttributes[sub] = (0o755, timespec(tv_sec: 0, tv_nsec: 0))
                }
                let next = Sys.openat2(current, part, flags: O_RDONLY | O_DIRECTORY | O_CLOEXEC, resolve: resolve)
                let e2 = errno
                close(current)
                guard next >= 0 else { throw pathError(entry, path, e2) }
                current = next
            }
            return current
        }
        throw pathError(entry, path, e)
    }

    func pathError(_ entry: String, _ path: String, _ e: Int32) -> ImageError {
        if e == ELOOP || e == EXDEV {
            return ImageError("\(entry): the path \"\(path)\" goes through a symlink or out of the rootfs; refusing the layer")
        }
        return ImageError("\(entry): open \"\(path)\": \(ErrnoName.of(e))")
    }

    /// Removes `name` in `dirfd` (a tree, recursively; a symlink itself, never its target).
    static func removeTree(_ dirfd: Int32, _ name: String) -> Bool {
        if unlinkat(dirfd, name, 0) == 0 || errno == ENOENT { return true }
        guard errno == EISDIR || errno == EPERM else { return false }
        let fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return false }
        fchmod(fd, 0o700)
        guard removeChildren(fd, keep: { _ in false }) else { return false }
        return unlinkat(dirfd, name, AT_REMOVEDIR) == 0
    }

    /// Removes every entry of the directory `fd` (closed here) but those `keep` names.
    static func removeChildren(_ fd: Int32, keep: (String) -> Bool) -> Bool {
        defer { close(fd) }
        guard let names = Sys.directoryEntries(fd: fd) else { return false }
        for name in names where !keep(name) && !removeTree(fd, name) { return false }
        return true
    }

    /// Applies one layer read from `fd` (tar, tar+gzip or tar+zstd) from its current offset to
    /// its end: a blob the caller verified already (`ImageSource.openVerifiedBlob`). When `diffID`
    /// is given, the sha256 of the decompressed tar must equal it. Returns that sha256.
    @discardableResult
    public func apply(fd: Int32, label: String, diffID: String? = nil) throws(ImageError) -> String {
        var st = stat()
        let start = lseek(fd, 0, SEEK_CUR)
        guard fstat(fd, &st) == 0, start >= 0 else { throw ImageError("\(label): \(SystemError("fstat/lseek", errno: errno)); expected a regular file") }
        let blob = try BlobReader(fd: fd, start: Int64(start), available: Int64(st.st_size) - Int64(start), descriptor: nil,
                                  label: label, closeFD: false, owner: nil, hashing: false)
        return try apply(blob: blob, label: label, diffID: diffID)
    }

    /// Applies one layer blob verified as it is read, in the same pass: its size and digest
    /// (the reader's descriptor) and, when given, `diffID` (the sha256 of the decompressed tar).
    /// On a mismatch it throws after applying: callers apply into a directory they discard on
    /// failure (ImageUnpacker's rootfs.partial-XXXXXX). Returns the layer's diffID.
    @discardableResult
    public func apply(blob: BlobReader, label: String, diffID: String?, index: Int? = nil) throws(ImageError) -> String {
        let stream = try LayerStream(blob: blob, label: label)
        do {
            try applyEntries(stream.inner, label: label)
        } catch {
            throw stream.blobError() ?? error  // a blob that fails its digest explains any later error
        }
        return try stream.finish(expectedDiffID: diffID, index: index)
    }

    func applyEntries(_ archive: OpaquePointer, label: String) throws(ImageError) {
        createdThisLayer = []
        var skippedDevices = 0
        var strippedSetID = 0
        var xattrs = LayerXattrs()
        var entryPtr: OpaquePointer?
        while true {
            let rc = archive_read_next_header(archive, &entryPtr)
            if rc == ARCHIVE_EOF { break }
            guard rc == ARCHIVE_OK || rc == ARCHIVE_WARN, let entry = entryPtr else {
                throw ImageError("\(label): \(String(cString: archive_error_string(archive)))")
            }
            guard let namePtr = archive_entry_pathname(entry) else { throw ImageError("\(label): entry without a name") }
            let rawName = String(cString: namePtr)
            let where_ = "\(label): \(rawName)"
            let parts = try Self.components(rawName, entry: where_)
            let type = mode_t(archive_entry_filetype(entry)) & S_IFMT
            let mode = mode_t(archive_entry_perm(entry))
            let mtime = timespec(tv_sec: archive_entry_mtime(entry), tv_nsec: archive_entry_mtime_nsec(entry))
            guard let name = parts.last else {
                if type == S_IFDIR { directoryAttributes[""] = (mode, mtime) }
                continue
            }
            let parentParts = parts.dropLast()
            let parentPath = parentParts.joined(separator: "/")
            let path = parts.joined(separator: "/")

            if name.hasPrefix(".wh.") {
                let parent = try openDirectory(parentParts, create: true, entry: where_)
                defer { close(parent) }
                if overlayWhiteouts {
                    try storeWhiteout(parent, name: name, entry: where_)
                } else if name == ".wh..wh..opq" {
                    let dup = fcntl(parent, F_DUPFD_CLOEXEC, 0)
                    let prefix = parentPath.isEmpty ? "" : parentPath + "/"
                    guard Self.removeChildren(dup, keep: { self.createdThisLayer.contains(prefix + $0) }) else {
                        throw ImageError("\(where_): opaque whiteout: \(ErrnoName.of(errno))")
                    }
                } else {
                    let target = try Self.whiteoutTarget(name, entry: where_)
                    guard Self.removeTree(parent, target) else { throw ImageError("\(where_): whiteout: \(ErrnoName.of(errno))") }
                }
                continue
            }

            let parent = try openDirectory(parentParts, create: true, entry: where_)
            defer { close(parent) }

            if let linkPtr = archive_entry_hardlink(entry) {
                let linkName = String(cString: linkPtr)
                let targetParts = try Self.components(linkName, entry: where_)
                guard let targetName = targetParts.last else { throw ImageError("\(where_): hardlink to the root directory") }
                let targetParent = try openDirectory(targetParts.dropLast(), create: false, entry: where_ + " (hardlink target)")
                defer { close(targetParent) }
                _ = Self.removeTree(parent, name)
                guard linkat(targetParent, targetName, parent, name, 0) == 0 else {
                    throw ImageError("\(where_): hardlink to \"\(linkName)\" (looked up inside the rootfs only): \(ErrnoName.of(errno))")
                }
                createdThisLayer.insert(path)
                continue
            }

            switch type {
            case S_IFDIR:
                var st = stat()
                if fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && (st.st_mode & S_IFMT) != S_IFDIR {
                    _ = Self.removeTree(parent, name)
                }
                if mkdirat(parent, name, 0o700) != 0 && errno != EEXIST {
                    throw ImageError("\(where_): mkdir: \(ErrnoName.of(errno))")
                }
                directoryAttributes[path] = (mode, mtime)
                _ = chown(entry, parent, name)
                xattrs.applyToDirectory(entry, parent: parent, name: name)
            case S_IFREG:
                let declared = archive_entry_size(entry)
                if declared > maxBytes - bytesWritten {
                    throw ImageError("\(where_): \(declared) bytes would pass the --max-size limit of \(maxBytes) bytes; refusing the image")
                }
                // Create first; only a name that exists already (a lower layer's) is removed and retried.
                var out = openat(parent, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
                if out < 0 && errno == EEXIST {
                    guard Self.removeTree(parent, name) else { throw ImageError("\(where_): replace: \(ErrnoName.of(errno))") }
                    out = openat(parent, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
                }
                guard out >= 0 else { throw ImageError("\(where_): create: \(ErrnoName.of(errno))") }
                defer { close(out) }
                let end = try copyData(archive, to: out, entry: where_)
                xattrs.apply(entry, fd: out)
                if declared > end { ftruncate(out, off_t(declared)) }  // a sparse tail
                var perm = mode
                let owned = chown(entry, out, nil)
                if perm & (S_ISUID | S_ISGID) != 0 && !owned { perm &= ~(S_ISUID | S_ISGID); strippedSetID += 1 }
                fchmod(out, perm)
                var times = [mtime, mtime]
                futimens(out, &times)
            case S_IFLNK:
                guard let targetPtr = archive_entry_symlink(entry) else { throw ImageError("\(where_): symlink without a target") }
                guard Self.removeTree(parent, name) else { throw ImageError("\(where_): replace: \(ErrnoName.of(errno))") }
                guard symlinkat(targetPtr, parent, name) == 0 else { throw ImageError("\(where_): symlink: \(ErrnoName.of(errno))") }
                _ = chown(entry, parent, name)
                var times = [mtime, mtime]
                utimensat(parent, name, &times, AT_SYMLINK_NOFOLLOW)
                xattrs.skip(entry)
            case S_IFIFO:
                guard Self.removeTree(parent, name) else { throw ImageError("\(where_): replace: \(ErrnoName.of(errno))") }
                guard mkfifoat(parent, name, mode & 0o777) == 0 else { throw ImageError("\(where_): mkfifo: \(ErrnoName.of(errno))") }
                _ = chown(entry, parent, name)
                xattrs.skip(entry)
            default:  // character and block devices, sockets: not creatable rootless, not needed
                skippedDevices += 1
                xattrs.skip(entry)
                continue
            }
            createdThisLayer.insert(path)
        }
        if skippedDevices > 0 { warn("\(label): skipped \(skippedDevices) device node(s) or socket(s): a rootless bundle cannot create them") }
        if strippedSetID > 0 {
            warn("\(label): cleared setuid/setgid on \(strippedSetID) file(s): " + (preserveOwnership ? "their owner is not mapped" : "they would belong to you on the host (keep them with --subuid)"))
        }
        if unmappedOwners > 0 {
            warn("\(label): \(unmappedOwners) \(unmappedOwners == 1 ? "entry" : "entries") owned by ids outside your subordinate range kept root's ownership")
            unmappedOwners = 0
        }
        xattrs.report(label, warn: warn)
    }

    /// With `preserveOwnership`, gives the entry (fd itself when `name` is nil) the layer's owner;
    /// true when it now has it. An id outside the namespace's map (EINVAL) is counted, not fatal.
    func chown(_ entry: OpaquePointer, _ fd: Int32, _ name: String?) -> Bool {
        guard preserveOwnership else { return false }
        let uid = uid_t(truncatingIfNeeded: archive_entry_uid(entry)), gid = gid_t(truncatingIfNeeded: archive_entry_gid(entry))
        let rc = name.map { fchownat(fd, $0, uid, gid, AT_SYMLINK_NOFOLLOW) } ?? fchown(fd, uid, gid)
        if rc != 0 { unmappedOwners += 1 }
        return rc == 0
    }

    /// NAME of a `.wh.NAME` entry: one name in its directory, never `.`, `..` or another whiteout.
    static func whiteoutTarget(_ name: String, entry: String) throws(ImageError) -> String {
        let target = String(name.dropFirst(4))
        guard !target.isEmpty, target != ".", target != "..", !target.hasPrefix(".wh.") else {
            throw ImageError("\(entry): whiteout of \"\(target)\" is not a name in its directory; refusing the layer")
        }
        return target
    }

    /// A whiteout as overlayfs reads it in a lower layer (mounted with `userxattr`).
    func storeWhiteout(_ parent: Int32, name: String, entry: String) throws(ImageError) {
        if name == ".wh..wh..opq" {
            guard fsetxattr(parent, "user.overlay.opaque", "y", 1, 0) == 0 else {
                throw ImageError("\(entry): opaque whiteout: setting user.overlay.opaque: \(ErrnoName.of(errno)); the image store's filesystem must support user xattrs")
            }
            return
        }
        let target = try Self.whiteoutTarget(name, entry: entry)
        guard Self.removeTree(parent, target) else { throw ImageError("\(entry): whiteout: \(ErrnoName.of(errno))") }
        guard mknodat(parent, target, S_IFCHR | 0o000, 0) == 0 else {
            throw ImageError("\(entry): whiteout: mknod 0/0 character device: \(ErrnoName.of(errno)); overlayfs whiteouts need Linux 5.8 or later")
        }
    }

    /// Writes the entry's data blocks; returns the end of the last one written.
    func copyData(_ archive: OpaquePointer, to out: Int32, entry: String) throws(ImageError) -> Int64 {
        var buffer: UnsafeRawPointer?
        var size = 0
        var offset: la_int64_t = 0
        var end: Int64 = 0
        while true {
            let rc = archive_read_data_block(archive, &buffer, &size, &offset)
            if rc == ARCHIVE_EOF { return end }
            guard rc == ARCHIVE_OK || rc == ARCHIVE_WARN else {
                throw ImageError("\(entry): \(String(cString: archive_error_string(archive)))")
            }
            bytesWritten += Int64(size)
            if bytesWritten > maxBytes {
                throw ImageError("\(entry): unpacking passed the --max-size limit of \(maxBytes) bytes; refusing the image")
            }
            var done = 0
            while done < size {
                let n = pwrite(out, buffer! + done, size - done, off_t(offset) + off_t(done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw ImageError("\(entry): write: \(ErrnoName.of(errno))")
                }
                done += n
            }
            end = max(end, Int64(offset) + Int64(size))
        }
    }

    /// Sets the recorded directory modes and mtimes, deepest first.
    public func finish() {
        let resolve = Sys.resolveBeneath | Sys.resolveNoSymlinks
        for (path, attr) in directoryAttributes.sorted(by: { $0.key.split(separator: "/").count > $1.key.split(separator: "/").count }) {
            let fd = Sys.openat2(root, path.isEmpty ? "." : path, flags: O_RDONLY | O_DIRECTORY | O_CLOEXEC, resolve: resolve)
            guard fd >= 0 else { continue }  // removed by a later whiteout
            if attr.mtime.tv_sec != 0 || attr.mtime.tv_nsec != 0 {
                var times = [attr.mtime, attr.mtime]
                futimens(fd, &times)
            }
            fchmod(fd, attr.mode & 0o1777)
            close(fd)
        }
    }
}

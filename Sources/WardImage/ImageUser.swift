import WardPlan
import WardSpec
import WardSystem

#if canImport(Glibc)
import Glibc
#endif

/// The image config's `User`, as process.user: what runc and podman do with it.
public struct ImageUser: Equatable, Sendable {
    public var uid: UInt32
    public var gid: UInt32
    public var additionalGids: [UInt32]
    /// The config's text (`1000`, `nobody:nogroup`), for messages.
    public var spec: String
}

extension ImageUnpacker {
    /// `User` of the image config: `uid`, `uid:gid`, `name`, `name:group` (and mixes). Names are
    /// looked up in the unpacked rootfs's /etc/passwd and /etc/group, opened beneath `rootfd`
    /// with RESOLVE_IN_ROOT (a symlinked /etc/passwd resolves inside the rootfs, never on the
    /// host). A uid with no passwd entry gets gid 0, as runc does; groups listing the user
    /// become additionalGids. nil when the image sets no user (root, ward's default).
    public static func imageUser(_ image: JSONValue, rootfd: Int32) throws(ImageError) -> ImageUser? {
        guard case .string(let text)? = image["config"]?["User"], !text.isEmpty else { return nil }
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let passwd = UserDatabase.parsePasswd(readInRoot(rootfd, "etc/passwd") ?? "")
        let entry = UInt32(parts[0]).map { id in passwd.first { $0.uid == id } } ?? passwd.first { $0.name == parts[0] }
        guard let uid = UInt32(parts[0]) ?? entry?.uid else {
            throw ImageError("image config User \"\(text)\": no user \"\(parts[0])\" in the image's /etc/passwd; fix the image or set process.user in config.json yourself")
        }
        var gid = entry?.gid ?? 0
        let groups = UserDatabase.parseGroup(readInRoot(rootfd, "etc/group") ?? "")
        if parts.count == 2 && !parts[1].isEmpty {
            guard let g = UInt32(parts[1]) ?? groups.first(where: { $0.name == parts[1] })?.gid else {
                throw ImageError("image config User \"\(text)\": no group \"\(parts[1])\" in the image's /etc/group; fix the image or set process.user in config.json yourself")
            }
            gid = g
        }
        var extra: [UInt32] = []
        if let entry {
            for g in groups where g.members.contains(entry.name) && g.gid != gid && !extra.contains(g.gid) { extra.append(g.gid) }
        }
        return ImageUser(uid: uid, gid: gid, additionalGids: extra, spec: text)
    }

    /// Sets process.user; warns when it is not root, since ward's default mapping has no other id.
    static func setUser(_ config: inout JSONValue, _ user: ImageUser, warn: (String) -> Void) throws(ImageError) {
        guard case .object(var top) = config, case .object(var process)? = top["process"] else {
            throw ImageError("default config: no process object")
        }
        var value: [String: JSONValue] = ["uid": .int(Int64(user.uid)), "gid": .int(Int64(user.gid))]
        if !user.additionalGids.isEmpty { value["additionalGids"] = .array(user.additionalGids.map { .int(Int64($0)) }) }
        process["user"] = .object(value)
        top["process"] = .object(process)
        config = .object(top)
        if user.uid != 0 || user.gid != 0 || !user.additionalGids.isEmpty {
            let groups = user.additionalGids.isEmpty ? "" : ", groups \(user.additionalGids.map(String.init).joined(separator: ","))"
            warn("image runs as User \"\(user.spec)\" (uid \(user.uid), gid \(user.gid)\(groups)), kept in config.json's process.user; ward's default user namespace maps only your own id, to 0, so this bundle needs a subuid-mapped run: add linux.uidMappings/gidMappings covering those ids (from your /etc/subuid and /etc/subgid ranges), or set process.user to 0/0 to run as root inside")
        }
    }

    /// A small regular file of the rootfs, resolved inside it; nil when missing or odd.
    static func readInRoot(_ rootfd: Int32, _ relative: String) -> String? {
        let fd = Sys.openat2(rootfd, relative, flags: O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY,
                             resolve: Sys.resolveInRoot | Sys.resolveNoMagiclinks)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_size <= 4 << 20,
              let bytes = try? Sys.readAll(fd: fd, limit: 4 << 20) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }
}

import WardSpec
import WardSystem

#if canImport(Glibc)
import Glibc
#endif

/// One image in the store: its config and its layers by diffID (bottom first).
public struct StoredImage: Sendable {
    /// The hex of the image's identifying digest (the manifest's), as the file `images/<id>.json`.
    public var id: String
    public var names: [String]
    public var diffIDs: [String]
    public var config: JSONValue
    /// Bytes of file content in the image's layers.
    public var size: Int64
    public var created: String
    /// `--subuid` imports: the maps its layers were unpacked under (the run uses them too).
    public var maps: NamespaceMaps?

    /// The directory names of its layers under `layers/`, bottom first.
    public var layerKeys: [String] { diffIDs.map { ImageStore.layerKey($0, maps) } }
}

/// What `ImageStore.importImage` did: the thousandth import of an image unpacks nothing.
public struct ImportReport: Sendable {
    public var image: StoredImage
    public var layersUnpacked = 0
    public var layersReused = 0
    public var bytesWritten: Int64 = 0
    public var alreadyStored = false
}

/// ward's local image store, `$XDG_DATA_HOME/ward` (0700, the caller's own):
///
///     store.lock            flock: shared by imports, exclusive for rm and prune
///     layers/<diffhex>/     one layer, unpacked once, shared by every image that has it:
///         root/             the overlayfs lower directory (whiteouts stored, not applied)
///         size              its content bytes
///     layers/.tmp-XXXXXX/   a layer being unpacked (renamed into place when complete)
///     images/<id>.json      an image: config and diffIDs; runs hold flock(LOCK_SH) on it
///     names/<name>          NAME:TAG -> id ('/' and '%' percent-encoded)
///     configs/<id>-<key>    the config a run of the image starts from, built once per ward build and user
///     mnt/                  empty; each `run --image` mounts its overlay here in its own mount namespace
///
/// Layers and records are renamed into place complete, so a reader never sees half of one, and
/// two concurrent imports of the same layer both succeed (the second discards its copy).
public final class ImageStore {
    public let root: String
    let dirfd: Int32

    /// `$XDG_DATA_HOME/ward`, else `$HOME/.local/share/ward`.
    public static func defaultRoot(environment: [String: String]) -> String? {
        if let xdg = environment["XDG_DATA_HOME"], xdg.hasPrefix("/") { return xdg + "/ward" }
        if let home = environment["HOME"], home.hasPrefix("/") { return home + "/.local/share/ward" }
        return nil
    }

    /// Opens the store, creating it (0700) the first time. One it does not own, or that others
    /// can write, is refused. (An existing store costs one open and one fstat: `run --image` path.)
    public init(root: String) throws(ImageError) {
        self.root = root
        var fd = open(root + "/mnt", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)
        if fd >= 0 {
            close(fd)
        } else {
            if let problem = Sys.makePrivateDirectory(root) {
                throw ImageError("image store \(root): \(problem); set XDG_DATA_HOME to a private directory you can write")
            }
            for sub in ["layers", "images", "names", "configs", "mnt"] {
                if mkdir("\(root)/\(sub)", 0o700) != 0 && errno != EEXIST {
                    throw ImageError("image store \(root)/\(sub): \(SystemError("mkdir", errno: errno))")
                }
            }
        }
        fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { throw ImageError("image store \(root): \(SystemError("open", errno: errno))") }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_uid == geteuid(), st.st_mode & 0o022 == 0 else {
            close(fd)
            throw ImageError("image store \(root): owned by uid \(st.st_uid) or writable by others (EPERM); set XDG_DATA_HOME to a private directory you can write")
        }
        dirfd = fd
    }

    deinit { close(dirfd) }

    public var mountpoint: String { root + "/mnt" }
    /// The overlay lower directories of `image`, topmost first.
    public func layerRoots(_ image: StoredImage) -> [String] { image.layerKeys.reversed().map { "\(root)/layers/\($0)/root" } }

    /// A layer's directory name: its diffID's hex, and the id map's tag when it was unpacked
    /// under a subuid map (those files belong to other host ids).
    static func layerKey(_ diffID: String, _ maps: NamespaceMaps?) -> String { hex(diffID) + (maps.map { "-" + $0.tag } ?? "") }

    static func hex(_ digest: String) -> String { digest.hasPrefix("sha256:") ? String(digest.dropFirst(7)) : digest }

    // MARK: locks

    /// flock on `store.lock`, released when the returned fd is closed.
    func lockStore(exclusive: Bool) throws(ImageError) -> Int32 {
        let fd = openat(dirfd, "store.lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ImageError("image store \(root)/store.lock: \(SystemError("open", errno: errno))") }
        while flock(fd, exclusive ? LOCK_EX : LOCK_SH) != 0 {
            if errno != EINTR { let e = errno; close(fd); throw ImageError("image store \(root)/store.lock: \(SystemError("flock", errno: e))") }
        }
        return fd
    }

    /// Marks the image in use for as long as the returned fd stays open (a `run --image`):
    /// `ward image rm` refuses an image someone holds. Fails if the image was removed meanwhile.
    public func holdImage(_ id: String) throws(ImageError) -> Int32 {
        let fd = openat(dirfd, "images/\(id).json", O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw ImageError("image \(id.prefix(12)): \(SystemError("open \(root)/images/\(id).json", errno: errno)); see 'ward image list'") }
        var st = stat()
        while flock(fd, LOCK_SH) != 0 && errno == EINTR {}
        guard fstat(fd, &st) == 0, st.st_nlink > 0 else {
            close(fd)
            throw ImageError("image \(id.prefix(12)): removed while starting (ENOENT); import it again")
        }
        return fd
    }

    // MARK: names

    /// `NAME` -> `NAME:latest`; a tag is what follows the last ':' after the last '/'.
    public static func normalize(name: String) -> String {
        let lastPart = name.split(separator: "/").last ?? Substring(name)
        return lastPart.contains(":") ? name : name + ":latest"
    }

    /// Docker's rule too: a name of 64 hex digits would read as an image id.
    static func validate(name: String) throws(ImageError) {
        let repository = name.split(separator: ":").first ?? ""
        guard !repository.isEmpty, name.utf8.count <= 255, !name.contains("\n"), !name.contains("\0"),
              !(repository.count == 64 && repository.allSatisfy({ $0.isHexDigit })) else {
            throw ImageError("image name \"\(name)\": invalid; use NAME[:TAG], at most 255 bytes, and not 64 hex digits (that reads as an id)")
        }
    }

    static func fileName(forName name: String) -> String {
        var out = ""
        for c in name.unicodeScalars {
            switch c {
            case "/": out += "%2F"
            case "%": out += "%25"
            default: out.unicodeScalars.append(c)
            }
        }
        return out.hasPrefix(".") ? "%2E" + out.dropFirst() : out
    }

    static func name(fromFileName file: String) -> String {
        file.replacing("%2F", with: "/").replacing("%2E", with: ".")
            .replacing("%25", with: "%")
    }

    func readSmall(_ relative: String, limit: Int = 64 << 20) -> [UInt8]? {
        let fd = openat(dirfd, relative, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        return try? Sys.readAll(fd: fd, limit: limit)
    }

    /// Writes `relative` atomically: a temp file in the same directory, then rename.
    func atomicWrite(_ relative: String, _ text: String) throws(ImageError) {
        let tmp = relative + ".tmp-\(getpid())"
        let fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ImageError("image store \(root)/\(tmp): \(SystemError("create", errno: errno))") }
        let ok = Sys.writeAll(fd: fd, text)
        close(fd)
        guard ok, renameat(dirfd, tmp, dirfd, relative) == 0 else {
            let e = errno
            unlinkat(dirfd, tmp, 0)
            throw ImageError("image store \(root)/\(relative): \(SystemError("write", errno: e))")
        }
    }

    func listDirectory(_ relative: String) -> [String] {
        let fd = openat(dirfd, relative, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        return (Sys.directoryEntries(fd: fd) ?? []).sorted()
    }

    /// name -> id, for every name.
    func nameTable() -> [(name: String, id: String)] {
        listDirectory("names").compactMap { file in
            guard !file.contains(".tmp-"), let bytes = readSmall("names/\(file)", limit: 256) else { return nil }
            return (Self.name(fromFileName: file), String(decoding: bytes, as: UTF8.self))
        }
    }

    // MARK: images

    func record(_ id: String, names: [String]) -> StoredImage? {
        guard let bytes = readSmall("images/\(id).json"),
              let json = try? JSONFile.parse(bytes, file: "images/\(id).json") else { return nil }
        let diffIDs: [String]
        if case .array(let items)? = json["diffIDs"] {
            diffIDs = items.compactMap { if case .string(let s) = $0 { s } else { nil } }
        } else { diffIDs = [] }
        var size: Int64 = 0
        if case .int(let n)? = json["size"] { size = n }
        var created = ""
        if case .string(let c)? = json["created"] { created = c }
        var maps: NamespaceMaps?
        if case .array(let u)? = json["uidMappings"], case .array(let g)? = json["gidMappings"] {
            func lines(_ items: [JSONValue]) -> [[Int64]] {
                items.map { item in ["containerID", "hostID", "size"].map { if case .int(let n)? = item[$0] { n } else { 0 } } }
            }
            maps = NamespaceMaps(uid: lines(u), gid: lines(g))
        }
        return StoredImage(id: id, names: names, diffIDs: diffIDs, config: json["config"] ?? .object([:]), size: size,
                           created: created, maps: maps)
    }

    /// Every image, with its names.
    public func list() -> [StoredImage] {
        let names = nameTable()
        return listDirectory("images").compactMap { file -> StoredImage? in
            guard file.hasSuffix(".json"), !file.contains(".tmp-") else { return nil }
            let id = String(file.dropLast(5))
            return record(id, names: names.filter { $0.id == id }.map(\.name).sorted())
        }
    }

    /// A stored image by name (`NAME[:TAG]`), full id or unique id prefix (at least 4 hex digits,
    /// optionally `sha256:`). nil when nothing matches.
    public func lookup(_ reference: String) throws(ImageError) -> StoredImage? {
        let normalized = Self.normalize(name: reference)
        if let bytes = readSmall("names/\(Self.fileName(forName: normalized))", limit: 256) {
            // The name it was found by (the others need a scan of names/, which a run does not).
            return record(String(decoding: bytes, as: UTF8.self), names: [normalized])
        }
        let prefix = Self.hex(reference)
        guard prefix.count >= 4, prefix.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else { return nil }
        let matches = listDirectory("images").filter { $0.hasSuffix(".json") && $0.hasPrefix(prefix) && !$0.contains(".tmp-") }
        guard matches.count <= 1 else {
            throw ImageError("image \"\(reference)\": the id prefix matches \(matches.count) images; give more digits")
        }
        guard let file = matches.first else { return nil }
        let id = String(file.dropLast(5))
        return record(id, names: nameTable().filter { $0.id == id }.map(\.name).sorted())
    }

    // MARK: import

    /// `PATH[:TAG|@sha256:DIGEST]` -> the name the store gives it by default: a docker archive's
    /// RepoTag, else the file name without its extension, and the tag (or `latest`).
    public static func defaultName(_ reference: ImageReference, _ image: ResolvedImage? = nil) -> String {
        if let image, image.kind == .dockerArchive, let tag = image.names.first { return tag }
        var base = String(reference.layout.split(separator: "/").last ?? "image")
        for ext in [".tar", ".oci", ".oci-archive", ".docker"] where base.hasSuffix(ext) { base = String(base.dropLast(ext.count)) }
        if case .tag(let tag) = reference.selector { return "\(base):\(tag)" }
        return base + ":latest"
    }

    /// Imports the image at `reference` (`PATH[:TAG|@sha256:DIGEST]`), named `name` or its default name.
    public func importImage(reference: String, name: String?, options: ImageUnpacker.Options) throws(ImageError) -> ImportReport {
        let ref = try ImageReference(parsing: reference)
        let (source, image) = try ImageSources.openImage(reference: reference, maxBytes: options.maxBytes)
        // The image id is its config's digest (as docker and podman have it), whatever the input.
        guard let hex = image.configDescriptor.sha256Hex else { throw ImageError("config \(image.configDescriptor.digest): not a sha256 digest") }
        // The same image imported under a subuid map is another image: its files have other owners.
        let id = hex + (options.maps.map { "-" + $0.tag } ?? "")
        return try importImage(image, id: id, name: name ?? Self.defaultName(ref, image), source: source, options: options)
    }

    /// Puts an image into the store: each layer not already there is verified and unpacked once
    /// into `layers/<diffhex>/root`, in overlayfs lower form. `name` (NAME[:TAG]) then points at it.
    public func importImage(_ image: ResolvedImage, id: String, name: String?, source: ImageSource,
                            options: ImageUnpacker.Options) throws(ImageError) -> ImportReport {
        let lock = try lockStore(exclusive: false)
        defer { close(lock) }
        let diffIDs = try Self.diffIDs(image)
        var size: Int64 = 0
        var report = ImportReport(image: StoredImage(id: id, names: [], diffIDs: diffIDs, config: image.config, size: 0, created: "",
                                                     maps: options.maps))
        let keys = report.image.layerKeys
        if let existing = record(id, names: []) {
            report.alreadyStored = true
            report.layersReused = existing.diffIDs.count
            report.image = existing
        } else {
            let total = image.layers.reduce(0) { $0 + $1.size }
            var before: Int64 = 0
            for (i, layer) in image.layers.enumerated() {
                defer { before += layer.size }
                let label = "layer \(i + 1)/\(image.layers.count) (\(layer.digest))"
                if let bytes = readSmall("layers/\(keys[i])/size", limit: 32),
                   let n = Int64(String(decoding: bytes, as: UTF8.self)) {
                    options.debug("image store: \(label): cached as \(diffIDs[i])")
                    report.layersReused += 1
                    size += n
                    continue
                }
                let blob = try source.openBlob(layer)
                var written: Int64 = 0
                try options.tracking(blob, layer: i, of: image.layers, before: before, total: total) { () throws(ImageError) in
                    written = try unpackLayer(blob, diffID: diffIDs[i], key: keys[i], label: label, options: options)
                }
                options.debug("image store: \(label): unpacked \(written) bytes into layers/\(keys[i])")
                report.layersUnpacked += 1
                report.bytesWritten += written
                size += written
            }
            report.image.size = size
            report.image.created = Timestamp.rfc3339Now()
            var fields: [String: JSONValue] = [
                "id": .string(id), "diffIDs": .array(diffIDs.map { .string($0) }), "config": image.config,
                "size": .int(size), "created": .string(report.image.created),
            ]
            if let maps = options.maps {
                fields["uidMappings"] = maps.mappings(maps.uid)
                fields["gidMappings"] = maps.mappings(maps.gid)
            }
            let doc = JSONValue.object(fields)
            try atomicWrite("images/\(id).json", doc.jsonText)
        }
        if let name {
            let normalized = Self.normalize(name: name)
            try Self.validate(name: normalized)
            try atomicWrite("names/\(Self.fileName(forName: normalized))", id)
        }
        report.image.names = nameTable().filter { $0.id == id }.map(\.name).sorted()
        return report
    }

    /// The image's diffIDs, checked to be sha256 digests: they name directories of the store.
    static func diffIDs(_ image: ResolvedImage) throws(ImageError) -> [String] {
        let ids = image.diffIDs
        guard ids.count == image.layers.count else {
            throw ImageError("image config: rootfs.diff_ids lists \(ids.count) layer(s), the manifest \(image.layers.count); refusing the image")
        }
        for d in ids {
            let hex = hex(d)
            guard d.hasPrefix("sha256:"), hex.count == 64, hex.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
                throw ImageError("image config: rootfs.diff_ids: \"\(d)\" is not a sha256 digest")
            }
        }
        return ids
    }

    /// Unpacks one layer into `layers/.tmp-XXXXXX`, verifying the blob's digest and the diffID in
    /// the same pass, then renames it to `layers/<key>`: a layer is only ever stored under a
    /// diffID its content was checked to have.
    func unpackLayer(_ blob: BlobReader, diffID: String, key: String, label: String,
                     options: ImageUnpacker.Options) throws(ImageError) -> Int64 {
        var template = Array("\(root)/layers/.tmp-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw ImageError("image store \(root)/layers: \(SystemError("mkdtemp", errno: errno))") }
        let tmpName = "layers/" + (String(cString: made).split(separator: "/").last.map(String.init) ?? "")
        var done = false
        defer { if !done { _ = LayerApplier.removeTree(dirfd, tmpName) } }
        guard mkdirat(dirfd, tmpName + "/root", 0o755) == 0 else {
            throw ImageError("image store \(root)/\(tmpName)/root: \(SystemError("mkdir", errno: errno))")
        }
        let rootfd = Sys.openat2(dirfd, tmpName + "/root", flags: O_RDONLY | O_DIRECTORY | O_CLOEXEC,
                                 resolve: Sys.resolveBeneath | Sys.resolveNoSymlinks)
        guard rootfd >= 0 else { throw ImageError("image store \(root)/\(tmpName)/root: \(SystemError("open", errno: errno))") }
        defer { close(rootfd) }
        let applier = LayerApplier(rootfd: rootfd, maxBytes: options.maxBytes, overlayWhiteouts: true, warn: options.warn)
        applier.preserveOwnership = options.maps != nil
        _ = try applier.apply(blob: blob, label: label, diffID: diffID)
        applier.finish()
        try atomicWrite(tmpName + "/size", String(applier.bytesWritten))
        let final = "layers/\(key)"
        if renameat(dirfd, tmpName, dirfd, final) != 0 {
            guard errno == EEXIST || errno == ENOTEMPTY else {
                throw ImageError("image store \(root)/\(final): \(SystemError("rename", errno: errno))")
            }
            options.debug("image store: \(label): another import stored it first; using that copy")
        } else {
            done = true
        }
        return applier.bytesWritten
    }

    // MARK: derived configs

    /// A config built for a run of image `id` before (`key` names what it depends on).
    public func cachedConfig(id: String, key: String) -> String? {
        readSmall("configs/\(id)-\(key).json", limit: 16 << 20).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Keeps `text` for the next run; a failure only costs that run the building.
    public func saveConfig(id: String, key: String, _ text: String) {
        if mkdirat(dirfd, "configs", 0o700) != 0 && errno != EEXIST { return }
        try? atomicWrite("configs/\(id)-\(key).json", text)
    }

    func removeConfigs(keeping ids: Set<String>) {
        for file in listDirectory("configs") where !ids.contains(where: { file.hasPrefix($0 + "-") }) {
            unlinkat(dirfd, "configs/\(file)", 0)
        }
    }

    // MARK: rm and prune

    /// Whether a --subuid import left layers owned by subordinate ids (removable only from inside that map).
    public var hasSubIDLayers: Bool { listDirectory("layers").contains { $0.contains("-s") } }

    /// Removes a name; the image goes when no name is left (or at once when `reference` is an id),
    /// and with it every layer no other image uses. An image a running sandbox holds is refused
    /// unless `force`. Returns the ids removed.
    public func remove(_ reference: String, force: Bool, inUseElsewhere: (String) -> Bool = { _ in false }) throws(ImageError) -> [String] {
        let lock = try lockStore(exclusive: true)
        defer { close(lock) }
        guard var image = try lookup(reference) else {
            throw ImageError("image \"\(reference)\": not in the store (ENOENT); see 'ward image list'")
        }
        image.names = nameTable().filter { $0.id == image.id }.map(\.name)
        let normalized = Self.normalize(name: reference)
        let byName = image.names.contains(normalized)
        if byName && image.names.count > 1 {
            unlinkat(dirfd, "names/\(Self.fileName(forName: normalized))", 0)
            return []
        }
        if !force && inUseElsewhere(image.id) {
            throw ImageError("image \(image.names.first ?? String(image.id.prefix(12))): in use by a detached container (EBUSY; see 'ward list'); delete it first, or pass --force")
        }
        let fd = openat(dirfd, "images/\(image.id).json", O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        if fd >= 0 {
            defer { close(fd) }
            if flock(fd, LOCK_EX | LOCK_NB) != 0 && !force {
                throw ImageError("image \(image.names.first ?? image.id.prefix(12).description): in use by a running sandbox (EBUSY); stop it first, or pass --force")
            }
        }
        for name in image.names { unlinkat(dirfd, "names/\(Self.fileName(forName: name))", 0) }
        unlinkat(dirfd, "images/\(image.id).json", 0)
        _ = removeUnreferencedLayers()
        removeConfigs(keeping: Set(list().map(\.id)))
        return [image.id]
    }

    public struct PruneReport: Sendable {
        public var layers = 0
        public var bytes: Int64 = 0
        public var partials = 0
        public var images: [String] = []
    }

    /// Removes images without a name, layers no image uses and what crashed imports left behind.
    public func prune() throws(ImageError) -> PruneReport {
        let lock = try lockStore(exclusive: true)
        defer { close(lock) }
        var report = PruneReport()
        let named = Set(nameTable().map(\.id))
        for image in list() where !named.contains(image.id) {
            let fd = openat(dirfd, "images/\(image.id).json", O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { continue }  // in use: keep it
            unlinkat(dirfd, "images/\(image.id).json", 0)
            report.images.append(image.id)
        }
        for dir in ["layers", "images", "names"] {
            for file in listDirectory(dir) where file.contains(".tmp-") {
                if LayerApplier.removeTree(dirfd, "\(dir)/\(file)") { report.partials += 1 }
            }
        }
        let removed = removeUnreferencedLayers()
        removeConfigs(keeping: Set(list().map(\.id)))
        report.layers = removed.count
        report.bytes = removed.bytes
        return report
    }

    func removeUnreferencedLayers() -> (count: Int, bytes: Int64) {
        let used = Set(list().flatMap(\.layerKeys))
        var count = 0
        var bytes: Int64 = 0
        for layer in listDirectory("layers") where !layer.hasPrefix(".") && !used.contains(layer) {
            let size = readSmall("layers/\(layer)/size", limit: 32).flatMap { Int64(String(decoding: $0, as: UTF8.self)) } ?? 0
            if LayerApplier.removeTree(dirfd, "layers/\(layer)") { count += 1; bytes += size }
        }
        return (count, bytes)
    }
}

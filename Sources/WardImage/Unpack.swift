import WardSpec
import WardSystem

#if canImport(Glibc)
import Glibc
#endif

/// How far an unpack is: blob bytes read (compressed, as stored) of all the layers.
public struct UnpackProgress: Sendable {
    public enum Phase: String, Sendable { case layer, layerDone = "layer-done", done }
    public var phase: Phase
    /// 1-based; the layer being read (for `.done`: the last).
    public var layer: Int
    public var layers: Int
    public var bytes: Int64
    public var total: Int64
    public var layerBytes: Int64
    public var layerSize: Int64
    public var digest: String
}

/// `ward unpack`: an image (OCI layout, oci-archive, docker save) -> an OCI bundle
/// (BUNDLE/rootfs + BUNDLE/config.json).
///
/// All or nothing: the layers are applied in BUNDLE/rootfs.partial-XXXXXX, renamed to
/// BUNDLE/rootfs only when every blob verified and every layer applied, removed otherwise.
/// Each layer blob is verified (size, digest, diffID) in the pass that applies it: a bad blob
/// fails the unpack and its partial rootfs goes with it.
public enum ImageUnpacker {
    public struct Options {
        public var maxBytes: Int64 = 4 << 30
        public var warn: (String) -> Void = { Sys.stderr("ward: warning: \($0)") }
        public var debug: (String) -> Void = { _ in }
        /// `--subuid`: ward runs in a subuid-mapped user namespace; files keep their owners.
        public var maps: NamespaceMaps?
        /// Called as blobs are read (about every MiB), at each layer's end, and once at the end.
        public var progress: ((UnpackProgress) -> Void)?
        public init() {}

        /// Runs `apply` on layer `index`'s blob with progress reported as it is read, and when done.
        func tracking(_ blob: BlobReader, layer index: Int, of layers: [Descriptor], before: Int64, total: Int64,
                      _ apply: () throws(ImageError) -> Void) throws(ImageError) {
            let layer = layers[index]
            var state = UnpackProgress(phase: .layer, layer: index + 1, layers: layers.count, bytes: before, total: total,
                                       layerBytes: 0, layerSize: layer.size, digest: layer.digest)
            if let report = progress {
                report(state)
                blob.onRead = { n in
                    state.layerBytes += Int64(n)
                    state.bytes += Int64(n)
                    report(state)
                }
            }
            try apply()
            progress?(UnpackProgress(phase: .layerDone, layer: index + 1, layers: layers.count, bytes: before + layer.size, total: total,
                                     layerBytes: layer.size, layerSize: layer.size, digest: layer.digest))
        }
    }

    /// - Parameter baseConfig: the config to start from (ward's hardened default), as JSON text.
    public static func unpack(reference: String, bundle: String, baseConfig: String, options: Options) throws(ImageError) {
        let (source, image) = try ImageSources.openImage(reference: reference, maxBytes: options.maxBytes)
        options.debug("\(image.kind.rawValue) \(source.description): manifest \(image.manifest.digest), \(image.layers.count) layer(s)")
        var config = try bundleConfig(base: baseConfig, image: image.config)
        if let maps = options.maps { config = maps.apply(to: config) }

        if mkdir(bundle, 0o755) != 0 && errno != EEXIST { throw ImageError("\(bundle): \(SystemError("mkdir", errno: errno))") }
        let bundlefd = open(bundle, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard bundlefd >= 0 else { throw ImageError("\(bundle): \(SystemError("open", errno: errno))") }
        defer { close(bundlefd) }
        for name in ["rootfs", "config.json"] {
            var st = stat()
            if fstatat(bundlefd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 {
                throw ImageError("\(bundle)/\(name) exists; ward unpack does not overwrite a bundle")
            }
        }
        var template = Array("\(bundle)/rootfs.partial-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw ImageError("\(bundle): \(SystemError("mkdtemp", errno: errno))") }
        let partialPath = String(cString: made)
        let partialName = String(partialPath.split(separator: "/").last ?? "")
        var done = false
        defer { if !done { _ = LayerApplier.removeTree(bundlefd, partialName) } }
        let rootfd = Sys.openat2(bundlefd, partialName, flags: O_RDONLY | O_DIRECTORY | O_CLOEXEC,
                                 resolve: Sys.resolveBeneath | Sys.resolveNoSymlinks)
        guard rootfd >= 0 else { throw ImageError("\(partialPath): \(SystemError("open", errno: errno))") }
        defer { close(rootfd) }

        let applier = LayerApplier(rootfd: rootfd, maxBytes: options.maxBytes, warn: options.warn)
        applier.preserveOwnership = options.maps != nil
        let total = image.layers.reduce(0) { $0 + $1.size }
        var before: Int64 = 0
        for (i, layer) in image.layers.enumerated() {
            let blob = try source.openBlob(layer)
            options.debug("layer \(i + 1)/\(image.layers.count) \(layer.digest) (\(layer.size) bytes), diffID \(image.diffIDs[i])")
            try options.tracking(blob, layer: i, of: image.layers, before: before, total: total) { () throws(ImageError) in
                _ = try applier.apply(blob: blob, label: "layer \(i + 1) (\(layer.digest))", diffID: image.diffIDs[i], index: i)
            }
            before += layer.size
        }
        // Mount points for the image's volumes (the rootfs is read-only at run time).
        for volume in try volumes(image.config) {
            let parts = try LayerApplier.components(volume, entry: "Volumes")
            close(try applier.openDirectory(parts[...], create: true, entry: "volume \(volume)"))
        }
        applier.finish()
        options.debug("\(applier.bytesWritten) bytes written")
        if let user = try imageUser(image.config, rootfd: rootfd) {
            try setUser(&config, user, warn: options.warn)
        }

        let text = config.prettyJSONText
        let cfd = openat(bundlefd, "config.json", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard cfd >= 0 else { throw ImageError("\(bundle)/config.json: \(SystemError("create", errno: errno))") }
        let wrote = Sys.writeAll(fd: cfd, text)
        close(cfd)
        guard wrote, renameat(bundlefd, partialName, bundlefd, "rootfs") == 0 else {
            let e = errno
            unlinkat(bundlefd, "config.json", 0)
            throw ImageError("\(bundle): writing config.json or renaming \(partialName) to rootfs: \(ErrnoName.of(e))")
        }
        done = true
        config = .null
        options.progress?(UnpackProgress(phase: .done, layer: image.layers.count, layers: image.layers.count, bytes: total, total: total,
                                         layerBytes: image.layers.last?.size ?? 0, layerSize: image.layers.last?.size ?? 0,
                                         digest: image.manifest.digest))
    }

    static func strings(_ value: JSONValue?) -> [String] {
        guard case .array(let items)? = value else { return [] }
        return items.compactMap { if case .string(let s) = $0 { s } else { nil } }
    }

    static func volumes(_ image: JSONValue) throws(ImageError) -> [String] {
        guard case .object(let vols)? = image["config"]?["Volumes"] else { return [] }
        return vols.keys.sorted()
    }

    /// The base config with the image's Entrypoint+Cmd, Env, WorkingDir and Volumes laid over it.
    public static func bundleConfig(base: String, image: JSONValue) throws(ImageError) -> JSONValue {
        var config: JSONValue
        do { config = try JSONFile.parse(Array(base.utf8), file: "default config") } catch { throw ImageError("\(error)") }
        guard case .object(var top) = config, case .object(var process)? = top["process"] else {
            throw ImageError("default config: no process object")
        }
        let c = image["config"] ?? .object([:])
        let args = strings(c["Entrypoint"]) + strings(c["Cmd"])
        if !args.isEmpty { process["args"] = .array(args.map { .string($0) }) }
        // Env: the image's variables over the defaults, by name.
        var env = strings(process["env"])
        for entry in strings(c["Env"]) {
            let key = entry.split(separator: "=", maxSplits: 1).first.map(String.init) ?? entry
            env.removeAll { $0.split(separator: "=", maxSplits: 1).first.map(String.init) == key }
            env.append(entry)
        }
        process["env"] = .array(env.map { .string($0) })
        if case .string(let cwd)? = c["WorkingDir"], !cwd.isEmpty {
            guard cwd.hasPrefix("/") else { throw ImageError("image config: WorkingDir \"\(cwd)\" is not absolute") }
            process["cwd"] = .string(cwd)
        }
        top["process"] = .object(process)
        if case .array(var mounts)? = top["mounts"] {
            let existing = Set(mounts.compactMap { if case .string(let d)? = $0["destination"] { d } else { nil } })
            for volume in try volumes(image) {
                let dest = "/" + (try LayerApplier.components(volume, entry: "image config Volumes")).joined(separator: "/")
                if existing.contains(dest) || dest == "/" { continue }
                mounts.append(.object(["destination": .string(dest), "type": .string("tmpfs"), "source": .string("tmpfs"),
                                       "options": .array(["nosuid", "nodev", "noexec", "mode=755", "size=65536k"].map { .string($0) })]))
            }
            top["mounts"] = .array(mounts)
        }
        config = .object(top)
        return config
    }
}

/// The id maps of the user namespace ward runs in (`--subuid`: 0 -> the caller, 1... -> the
/// subordinate range), read from /proc/self/{uid,gid}_map. They go into config.json so that the
/// sandbox sees the files' owners exactly as they were unpacked.
public struct NamespaceMaps: Sendable, Equatable {
    public var uid: [[Int64]]
    public var gid: [[Int64]]

    /// nil in the initial user namespace (a single 0 0 4294967295 line) or if unreadable.
    public static func current() -> NamespaceMaps? {
        func read(_ file: String) -> [[Int64]]? {
            guard let bytes = try? Sys.readFile(file) else { return nil }
            return String(decoding: bytes, as: UTF8.self).split(separator: "\n").map {
                $0.split(separator: " ").compactMap { Int64($0) }
            }.filter { $0.count == 3 }
        }
        guard let u = read("/proc/self/uid_map"), let g = read("/proc/self/gid_map"), u != [[0, 0, 4294967295]] else { return nil }
        return NamespaceMaps(uid: u, gid: g)
    }

    /// Names the mapping in the image store ("s100000x65535"): layers unpacked under one map are
    /// owned by those host ids and shared only by images of the same map.
    public var tag: String {
        let sub = uid.first { $0[0] == 1 } ?? uid.last ?? [0, 0, 0]
        return "s\(sub[1])x\(sub[2])"
    }

    func mappings(_ lines: [[Int64]]) -> JSONValue {
        .array(lines.map { .object(["containerID": .int($0[0]), "hostID": .int($0[1]), "size": .int($0[2])]) })
    }

    /// The config with linux.uidMappings/gidMappings set to these maps.
    public func apply(to config: JSONValue) -> JSONValue {
        guard case .object(var top) = config else { return config }
        var linux: [String: JSONValue] = [:]
        if case .object(let l)? = top["linux"] { linux = l }
        linux["uidMappings"] = mappings(uid)
        linux["gidMappings"] = mappings(gid)
        top["linux"] = .object(linux)
        return .object(top)
    }
}

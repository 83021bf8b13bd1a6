import WardSpec
import WardSystem

#if canImport(Glibc)
import Glibc
#endif

/// A failure to read, verify or unpack an image; the message is for the person at the terminal.
public struct ImageError: Error, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// An OCI content descriptor (image-spec descriptor.md): what a blob must be before it is used.
public struct Descriptor: Sendable, Equatable {
    public var mediaType: String
    public var digest: String
    public var size: Int64
    public var annotations: [String: String]
    public var platform: (os: String, architecture: String, variant: String?)?

    public static func == (a: Descriptor, b: Descriptor) -> Bool { a.digest == b.digest && a.size == b.size && a.mediaType == b.mediaType }

    init(_ value: JSONValue, where context: String) throws(ImageError) {
        guard case .string(let digest)? = value["digest"] else { throw ImageError("\(context): descriptor has no digest") }
        let size: Int64
        switch value["size"] {
        case .int(let n)? where n >= 0: size = n
        default: throw ImageError("\(context): descriptor \(digest) has no valid size")
        }
        if case .string(let m)? = value["mediaType"] { mediaType = m } else { mediaType = "" }
        self.digest = digest
        self.size = size
        var notes: [String: String] = [:]
        if case .object(let members)? = value["annotations"] {
            for (k, v) in members { if case .string(let s) = v { notes[k] = s } }
        }
        annotations = notes
        if case .object(let p)? = value["platform"], case .string(let os)? = p["os"], case .string(let arch)? = p["architecture"] {
            var variant: String?
            if case .string(let v)? = p["variant"] { variant = v }
            platform = (os, arch, variant)
        } else {
            platform = nil
        }
    }

    /// The hex part of a `sha256:` digest, checked (64 lowercase hex digits: it names a file).
    var sha256Hex: String? {
        guard digest.hasPrefix("sha256:") else { return nil }
        let hex = digest.dropFirst(7)
        guard hex.count == 64, hex.allSatisfy({ ("0"..."9").contains($0) || ("a"..."f").contains($0) }) else { return nil }
        return String(hex)
    }
}

/// `PATH`, `PATH:TAG` or `PATH@sha256:HEX`, where PATH is an OCI layout directory, an
/// oci-archive or a `docker save` archive. A TAG may itself hold colons (`img.tar:busybox:latest`):
/// PATH is the longest prefix before a colon that exists, else the text before the last colon.
public struct ImageReference: Sendable, Equatable {
    public enum Selector: Sendable, Equatable { case only, tag(String), digest(String) }
    /// The path of the layout directory or archive file.
    public var layout: String
    public var selector: Selector

    public init(parsing text: String, exists: (String) -> Bool = ImageReference.pathExists) throws(ImageError) {
        if let at = text.lastIndex(of: "@"), text[text.index(after: at)...].hasPrefix("sha256:") {
            layout = String(text[..<at])
            selector = .digest(String(text[text.index(after: at)...]))
        } else if exists(text) || !text.contains(":") {
            layout = text
            selector = .only
        } else {
            let colons = text.indices.filter { text[$0] == ":" }
            let split = colons.reversed().first { exists(String(text[..<$0])) } ?? colons.last!
            layout = String(text[..<split])
            let tag = String(text[text.index(after: split)...])
            guard !tag.isEmpty else { throw ImageError("\(text): empty tag after ':'") }
            selector = .tag(tag)
        }
        guard !layout.isEmpty else { throw ImageError("\(text): no image layout directory or archive") }
    }

    public static func pathExists(_ path: String) -> Bool {
        var st = stat()
        return !path.isEmpty && stat(path, &st) == 0
    }

    /// The names a reference like `docker.io/library/busybox:latest` also answers to:
    /// `busybox:latest`, `busybox`, `latest` (and the same without `localhost/`).
    static func aliases(_ name: String) -> Set<String> {
        var out: Set<String> = [name]
        for prefix in ["docker.io/library/", "index.docker.io/library/", "docker.io/", "localhost/"] where name.hasPrefix(prefix) {
            out.insert(String(name.dropFirst(prefix.count)))
        }
        for n in out {
            let slash = n.lastIndex(of: "/").map { n.index(after: $0) } ?? n.startIndex
            if let colon = n[slash...].lastIndex(of: ":") {
                out.insert(String(n[n.index(after: colon)...]))  // the tag alone
                if n.hasSuffix(":latest") { out.insert(String(n[..<colon])) }
            }
        }
        return out
    }

    /// The candidates `tag` names: exact matches if any, else matches through `aliases`.
    static func matching<T>(_ tag: String, _ candidates: [(names: [String], item: T)]) -> [T] {
        let exact = candidates.filter { $0.names.contains(tag) }
        if !exact.isEmpty { return exact.map(\.item) }
        return candidates.filter { $0.names.contains { aliases($0).contains(tag) } }.map(\.item)
    }
}

/// An OCI image layout directory (image-spec image-layout.md), opened once; every blob is read
/// beneath it and checked against its descriptor before anything uses it.
public final class ImageLayout: OCIStore {
    public var description: String { path }
    public let path: String
    let dirfd: Int32

    public init(path: String) throws(ImageError) {
        self.path = path
        dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dirfd >= 0 else { throw ImageError("\(path): \(SystemError("open", errno: errno)); expected an OCI image layout directory") }
        guard let marker = try? readFile("oci-layout", limit: 1 << 16),
              case .string(let version)? = (try? JSONFile.parse(marker, file: "oci-layout"))?["imageLayoutVersion"] else {
            close(dirfd)
            throw ImageError("\(path): no valid oci-layout file; not an OCI image layout")
        }
        _ = version
    }

    deinit { close(dirfd) }

    func readFile(_ name: String, limit: Int) throws(ImageError) -> [UInt8] {
        let fd = Sys.openat2(dirfd, name, flags: O_RDONLY | O_CLOEXEC, resolve: Sys.resolveBeneath)
        guard fd >= 0 else { throw ImageError("\(path)/\(name): \(SystemError("open", errno: errno))") }
        defer { close(fd) }
        do { return try Sys.readAll(fd: fd, limit: limit) } catch { throw ImageError("\(path)/\(name): \(error)") }
    }

    /// The blob of `descriptor`, unverified: its reader checks size and digest as it goes.
    public func openBlob(_ descriptor: Descriptor) throws(ImageError) -> BlobReader {
        guard let hex = descriptor.sha256Hex else {
            throw ImageError("blob \(descriptor.digest): unsupported or malformed digest (ward verifies sha256 only)")
        }
        let name = "blobs/sha256/\(hex)"
        let fd = Sys.openat2(dirfd, name, flags: O_RDONLY | O_CLOEXEC, resolve: Sys.resolveBeneath)
        guard fd >= 0 else { throw ImageError("blob \(descriptor.digest): \(SystemError("open \(path)/\(name)", errno: errno))") }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let e = errno
            close(fd)
            throw ImageError("blob \(path)/\(name): \(SystemError("fstat", errno: e))")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw ImageError("blob \(path)/\(name): not a regular file; refusing it")
        }
        return try BlobReader(fd: fd, start: 0, available: Int64(st.st_size), descriptor: descriptor,
                              label: "\(path)/\(name)", closeFD: true, owner: nil)
    }

    /// Opens the blob of `descriptor` and verifies its size and sha256 digest, reading it all.
    /// Returns the fd positioned at 0: the caller uses the bytes it verified, not a second open.
    public func openVerifiedBlob(_ descriptor: Descriptor) throws(ImageError) -> Int32 {
        let reader = try openBlob(descriptor)
        try reader.verify()
        let fd = fcntl(reader.fd, F_DUPFD_CLOEXEC, 0)
        guard fd >= 0 else { throw ImageError("blob \(descriptor.digest): \(SystemError("dup", errno: errno))") }
        return fd  // a dup shares the offset; pread left it at 0
    }

    public func resolve(_ selector: ImageReference.Selector) throws(ImageError) -> ResolvedImage {
        try ImageResolver.resolve(self, selector)
    }

    /// The top-level `index.json` (it has no descriptor to check against).
    public func rootIndex() throws(ImageError) -> JSONValue {
        let bytes = try readFile("index.json", limit: 16 << 20)
        do { return try JSONFile.parse(bytes, file: "\(path)/index.json") } catch { throw ImageError("\(error)") }
    }
}

/// What `resolve` found: the manifest, the image config and the layers, in order, with the
/// uncompressed digest (diffID) each layer must have.
public struct ResolvedImage {
    public enum Kind: String, Sendable { case layout = "oci-layout", ociArchive = "oci-archive", dockerArchive = "docker-archive" }
    public var kind: Kind
    /// The manifest (for a `docker save` archive: the Docker v2 manifest ward builds from its
    /// manifest.json entry, with the layers' uncompressed digests, as skopeo does).
    public var manifest: Descriptor
    public var configDescriptor: Descriptor
    public var config: JSONValue
    public var layers: [Descriptor]
    /// The config's rootfs.diff_ids: `diffIDs[i]` is the sha256 of layer i decompressed.
    public var diffIDs: [String]
    /// The names the image goes by in its source (OCI ref.name annotations, docker RepoTags).
    public var names: [String]
}

/// An OCI layout, in a directory or in an archive: its index.json and its blobs.
protocol OCIStore: ImageSource {
    func rootIndex() throws(ImageError) -> JSONValue
}

public enum ImageResolver {
    static let indexTypes: Set<String> = ["application/vnd.oci.image.index.v1+json",
                                          "application/vnd.docker.distribution.manifest.list.v2+json"]
    static let manifestTypes: Set<String> = ["application/vnd.oci.image.manifest.v1+json",
                                             "application/vnd.docker.distribution.manifest.v2+json"]

    /// The platform ward runs: linux and this machine's architecture, in OCI's spelling.
    public static var hostArchitecture: String {
        #if arch(x86_64)
        return "amd64"
        #elseif arch(arm64)
        return "arm64"
        #else
        return "unknown"
        #endif
    }

    static func names(_ d: Descriptor) -> [String] {
        ["org.opencontainers.image.ref.name", "io.containerd.image.name"].compactMap { d.annotations[$0] }
    }

    /// rootfs.diff_ids of `config`: one valid sha256 digest per layer.
    static func diffIDs(_ config: JSONValue, layers: Int, where context: String) throws(ImageError) -> [String] {
        guard case .array(let items)? = config["rootfs"]?["diff_ids"] else {
            throw ImageError("\(context): no rootfs.diff_ids list; every layer needs its uncompressed digest")
        }
        let ids = items.compactMap { if case .string(let s) = $0 { s } else { nil } }
        guard ids.count == items.count, ids.count == layers else {
            throw ImageError("\(context): rootfs.diff_ids lists \(items.count) entries for \(layers) layer(s); refusing the image")
        }
        for id in ids where Descriptor(mediaType: "", digest: id, size: 0).sha256Hex == nil {
            throw ImageError("\(context): rootfs.diff_ids entry \"\(id)\" is not a sha256 digest")
        }
        return ids
    }

    static func descriptors(_ index: JSONValue, where context: String) throws(ImageError) -> [Descriptor] {
        guard case .array(let items)? = index["manifests"] else { throw ImageError("\(context): no manifests list") }
        var out: [Descriptor] = []
        for item in items { out.append(try Descriptor(item, where: context)) }
        return out
    }

    /// index.json -> (tag or digest) -> nested indexes by platform -> manifest -> config and layers.
    public static func resolve(_ layout: ImageLayout, _ selector: ImageReference.Selector) throws(ImageError) -> ResolvedImage {
        try resolve(store: layout, selector, kind: .layout)
    }

    static func resolve(store layout: some OCIStore, _ selector: ImageReference.Selector, kind: ResolvedImage.Kind) throws(ImageError) -> ResolvedImage {
        let top = try descriptors(try layout.rootIndex(), where: "\(layout.description)/index.json")
        var chosen: Descriptor
        var imageNames: [String] = []
        switch selector {
        case .tag(let tag):
            let matches = ImageReference.matching(tag, top.map { (names($0), $0) })
            guard let first = matches.first else {
                let tags = top.flatMap(names)
                throw ImageError("\(layout.description): no image tagged \"\(tag)\" in index.json (tags: \(tags.isEmpty ? "none" : tags.joined(separator: ", ")))")
            }
            guard matches.allSatisfy({ $0.digest == first.digest }) else {
                throw ImageError("\(layout.description): \"\(tag)\" names \(matches.count) images (\(matches.flatMap(names).joined(separator: ", "))); use the full name or @sha256:DIGEST")
            }
            chosen = first
        case .digest(let digest):
            guard let found = try find(digest: digest, in: top, layout: layout, depth: 0) else {
                throw ImageError("\(layout.description): no manifest or index \(digest) reachable from index.json")
            }
            chosen = found
        case .only:
            guard top.count == 1 else {
                let tags = top.flatMap(names)
                throw ImageError("\(layout.description): index.json lists \(top.count) images; name one as PATH:TAG or PATH@sha256:DIGEST (tags: \(tags.joined(separator: ", ")))")
            }
            chosen = top[0]
        }
        imageNames = names(chosen)
        var depth = 0
        while indexTypes.contains(chosen.mediaType) {
            depth += 1
            guard depth <= 8 else { throw ImageError("\(layout.description): image indexes nested more than 8 deep") }
            let nested = try descriptors(try layout.json(chosen), where: chosen.digest)
            let arch = hostArchitecture
            guard let match = nested.first(where: { $0.platform?.os == "linux" && $0.platform?.architecture == arch })
                ?? (nested.count == 1 && nested[0].platform == nil ? nested[0] : nil) else {
                let have = nested.compactMap { $0.platform.map { "\($0.os)/\($0.architecture)" } }
                throw ImageError("index \(chosen.digest): no manifest for linux/\(arch) (has: \(have.joined(separator: ", ")))")
            }
            chosen = match
        }
        let manifest = try layout.json(chosen)
        if !chosen.mediaType.isEmpty && !manifestTypes.contains(chosen.mediaType) {
            throw ImageError("\(chosen.digest): media type \(chosen.mediaType) is not an image manifest")
        }
        guard let configValue = manifest["config"] else { throw ImageError("manifest \(chosen.digest): no config") }
        let configDescriptor = try Descriptor(configValue, where: "manifest \(chosen.digest) config")
        let config = try layout.json(configDescriptor)
        guard case .array(let layerValues)? = manifest["layers"] else { throw ImageError("manifest \(chosen.digest): no layers list") }
        var layers: [Descriptor] = []
        for (i, value) in layerValues.enumerated() {
            let layer = try Descriptor(value, where: "manifest \(chosen.digest) layers[\(i)]")
            guard layer.mediaType.contains("tar") || layer.mediaType.isEmpty, !layer.mediaType.contains("encrypted") else {
                throw ImageError("layer \(layer.digest): media type \(layer.mediaType) is not a (compressed) tar ward can apply")
            }
            layers.append(layer)
        }
        let ids = try diffIDs(config, layers: layers.count, where: "image config \(configDescriptor.digest)")
        return ResolvedImage(kind: kind, manifest: chosen, configDescriptor: configDescriptor, config: config,
                             layers: layers, diffIDs: ids, names: imageNames)
    }

    static func find(digest: String, in list: [Descriptor], layout: some OCIStore, depth: Int) throws(ImageError) -> Descriptor? {
        if let hit = list.first(where: { $0.digest == digest }) { return hit }
        guard depth < 8 else { return nil }
        for d in list where indexTypes.contains(d.mediaType) {
            if let hit = try find(digest: digest, in: try descriptors(try layout.json(d), where: d.digest), layout: layout, depth: depth + 1) {
                return hit
            }
        }
        return nil
    }
}

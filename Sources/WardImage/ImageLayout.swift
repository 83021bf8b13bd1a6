import FoundationEssentials
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

/// `LAYOUT`, `LAYOUT:TAG` or `LAYOUT@sha256:HEX`.
public struct ImageReference: Sendable, Equatable {
    public enum Selector: Sendable, Equatable { case only, tag(String), digest(String) }
    public var layout: String
    public var selector: Selector

    public init(parsing text: String) throws(ImageError) {
        if let at = text.lastIndex(of: "@"), text[text.index(after: at)...].hasPrefix("sha256:") {
            layout = String(text[..<at])
            selector = .digest(String(text[text.index(after: at)...]))
        } else if let colon = text.lastIndex(of: ":"), !text[text.index(after: colon)...].contains("/") {
            layout = String(text[..<colon])
            let tag = String(text[text.index(after: colon)...])
            guard !tag.isEmpty else { throw ImageError("\(text): empty tag after ':'") }
            selector = .tag(tag)
        } else {
            layout = text
            selector = .only
        }
        guard !layout.isEmpty else { throw ImageError("\(text): no image layout directory") }
    }
}

/// An OCI image layout directory (image-spec image-layout.md), opened once; every blob is read
/// beneath it and checked against its descriptor before anything uses it.
public final class ImageLayout {
    public let path: String
    let dirfd: Int32

    public init(path: String) throws(ImageError) {
        self.path = path
        dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dirfd >= 0 else { throw ImageError("\(path): \(SystemError("open", errno: errno)); expected an OCI image layout directory") }
        guard let marker = try? readFile("oci-layout", limit: 1 << 16),
              case .string(let version)? = (try? JSONFile.parse(Data(marker), file: "oci-layout"))?["imageLayoutVersion"] else {
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

    /// Opens the blob of `descriptor` and verifies its size and sha256 digest, reading it all.
    /// Returns the fd positioned at 0: the caller uses the bytes it verified, not a second open.
    public func openVerifiedBlob(_ descriptor: Descriptor) throws(ImageError) -> Int32 {
        guard let hex = descriptor.sha256Hex else {
            throw ImageError("blob \(descriptor.digest): unsupported or malformed digest (ward verifies sha256 only)")
        }
        let name = "blobs/sha256/\(hex)"
        let fd = Sys.openat2(dirfd, name, flags: O_RDONLY | O_CLOEXEC, resolve: Sys.resolveBeneath)
        guard fd >= 0 else { throw ImageError("blob \(descriptor.digest): \(SystemError("open \(path)/\(name)", errno: errno))") }
        var ok = false
        defer { if !ok { close(fd) } }
        var hasher = SHA256.Stream()
        var total: Int64 = 0
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ImageError("blob \(descriptor.digest): \(SystemError("read", errno: errno))")
            }
            if n == 0 { break }
            total += Int64(n)
            if total > descriptor.size {
                throw ImageError("blob \(descriptor.digest): larger than the \(descriptor.size) bytes its descriptor states; refusing it")
            }
            buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
        guard total == descriptor.size else {
            throw ImageError("blob \(descriptor.digest): \(total) bytes, but its descriptor states \(descriptor.size); refusing it")
        }
        let actual = "sha256:" + SHA256.hex(hasher.finish())
        guard actual == descriptor.digest else {
            throw ImageError("blob \(path)/\(name): digest mismatch: the descriptor expects \(descriptor.digest), the content is \(actual); refusing it")
        }
        guard lseek(fd, 0, SEEK_SET) == 0 else { throw ImageError("blob \(descriptor.digest): \(SystemError("lseek", errno: errno))") }
        ok = true
        return fd
    }

    /// A verified JSON blob (index, manifest, config), parsed.
    public func json(_ descriptor: Descriptor, limit: Int = 16 << 20) throws(ImageError) -> JSONValue {
        guard descriptor.size <= Int64(limit) else { throw ImageError("blob \(descriptor.digest): \(descriptor.size) bytes is too large for JSON metadata") }
        let fd = try openVerifiedBlob(descriptor)
        defer { close(fd) }
        let bytes: [UInt8]
        do { bytes = try Sys.readAll(fd: fd, limit: limit) } catch { throw ImageError("blob \(descriptor.digest): \(error)") }
        do { return try JSONFile.parse(Data(bytes), file: descriptor.digest) } catch { throw ImageError("\(error)") }
    }

    /// The top-level `index.json` (it has no descriptor to check against).
    public func rootIndex() throws(ImageError) -> JSONValue {
        let bytes = try readFile("index.json", limit: 16 << 20)
        do { return try JSONFile.parse(Data(bytes), file: "\(path)/index.json") } catch { throw ImageError("\(error)") }
    }
}

/// What `resolve` found: the manifest, the image config and the layers, in order.
public struct ResolvedImage {
    public var manifest: Descriptor
    public var config: JSONValue
    public var layers: [Descriptor]
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

    static func descriptors(_ index: JSONValue, where context: String) throws(ImageError) -> [Descriptor] {
        guard case .array(let items)? = index["manifests"] else { throw ImageError("\(context): no manifests list") }
        var out: [Descriptor] = []
        for item in items { out.append(try Descriptor(item, where: context)) }
        return out
    }

    /// index.json -> (tag or digest) -> nested indexes by platform -> manifest -> config and layers.
    public static func resolve(_ layout: ImageLayout, _ selector: ImageReference.Selector) throws(ImageError) -> ResolvedImage {
        let top = try descriptors(try layout.rootIndex(), where: "\(layout.path)/index.json")
        var chosen: Descriptor
        switch selector {
        case .tag(let tag):
            let matches = top.filter { $0.annotations["org.opencontainers.image.ref.name"] == tag }
            guard let first = matches.first else {
                let tags = top.compactMap { $0.annotations["org.opencontainers.image.ref.name"] }
                throw ImageError("\(layout.path): no image tagged \"\(tag)\" in index.json (tags: \(tags.isEmpty ? "none" : tags.joined(separator: ", ")))")
            }
            chosen = first
        case .digest(let digest):
            guard let found = try find(digest: digest, in: top, layout: layout, depth: 0) else {
                throw ImageError("\(layout.path): no manifest or index \(digest) reachable from index.json")
            }
            chosen = found
        case .only:
            guard top.count == 1 else {
                let tags = top.compactMap { $0.annotations["org.opencontainers.image.ref.name"] }
                throw ImageError("\(layout.path): index.json lists \(top.count) images; name one as LAYOUT:TAG or LAYOUT@sha256:DIGEST (tags: \(tags.joined(separator: ", ")))")
            }
            chosen = top[0]
        }
        var depth = 0
        while indexTypes.contains(chosen.mediaType) {
            depth += 1
            guard depth <= 8 else { throw ImageError("\(layout.path): image indexes nested more than 8 deep") }
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
        return ResolvedImage(manifest: chosen, config: config, layers: layers)
    }

    static func find(digest: String, in list: [Descriptor], layout: ImageLayout, depth: Int) throws(ImageError) -> Descriptor? {
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

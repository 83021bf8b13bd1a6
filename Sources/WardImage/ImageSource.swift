import WardSpec
import WardSystem
import CArchive
import CWardShim

#if canImport(Glibc)
import Glibc
#endif

/// Where an image comes from: an OCI layout directory, an oci-archive (a tar of a layout) or a
/// `docker save` archive. Whatever the kind, every blob is checked against its descriptor
/// (size and sha256) before or while it is used, and archive members are read in place
/// (`TarIndex`), never extracted.
public protocol ImageSource: AnyObject {
    /// The path, for messages.
    var description: String { get }
    /// The image `selector` names: manifest, config, layers and their diffIDs (metadata verified).
    func resolve(_ selector: ImageReference.Selector) throws(ImageError) -> ResolvedImage
    /// The blob of `descriptor`, to be read once: the reader hashes as it goes and `verify()`
    /// checks size and digest at the end (for verifying while applying).
    func openBlob(_ descriptor: Descriptor) throws(ImageError) -> BlobReader
    /// The blob of `descriptor`, verified in full first: an fd (O_CLOEXEC, at offset 0) holding
    /// exactly the bytes that were hashed. The caller closes it.
    func openVerifiedBlob(_ descriptor: Descriptor) throws(ImageError) -> Int32
}

extension ImageSource {
    /// A JSON blob (manifest, index, config), verified, then parsed.
    public func json(_ descriptor: Descriptor, limit: Int = 16 << 20) throws(ImageError) -> JSONValue {
        guard descriptor.size <= Int64(limit) else { throw ImageError("blob \(descriptor.digest): \(descriptor.size) bytes is too large for JSON metadata") }
        let reader = try openBlob(descriptor)
        var bytes = [UInt8](repeating: 0, count: Int(descriptor.size))
        var filled = 0
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
        defer { buffer.deallocate() }
        while filled < bytes.count {
            let n = try reader.read(into: buffer)
            if n == 0 { break }
            bytes.replaceSubrange(filled..<(filled + n), with: UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            filled += n
        }
        try reader.verify()
        do { return try JSONFile.parse(bytes, file: descriptor.digest) } catch { throw ImageError("\(error)") }
    }

    /// For archives: the member copied, while it is hashed, into a private unlinked file
    /// (O_TMPFILE in $TMPDIR or /tmp, else a memfd), so the bytes the caller reads are the bytes
    /// that were verified whatever happens to the archive afterwards.
    public func openVerifiedBlob(_ descriptor: Descriptor) throws(ImageError) -> Int32 {
        let reader = try openBlob(descriptor)
        let fd = try PrivateFile.create(label: "blob \(descriptor.digest)")
        var ok = false
        defer { if !ok { close(fd) } }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = try reader.read(into: buffer)
            if n == 0 { break }
            guard Sys.writeAll(fd: fd, Array(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))) else {
                throw ImageError("blob \(descriptor.digest): \(SystemError("write to a private temporary file", errno: errno, hint: "is $TMPDIR full?"))")
            }
        }
        try reader.verify()
        guard lseek(fd, 0, SEEK_SET) == 0 else { throw ImageError("blob \(descriptor.digest): \(SystemError("lseek", errno: errno))") }
        ok = true
        return fd
    }
}

enum PrivateFile {
    static let oTmpfile: Int32 = 0o20000000 | O_DIRECTORY  // O_TMPFILE (a macro Swift does not import)

    static func create(label: String) throws(ImageError) -> Int32 {
        let dir = getenv("TMPDIR").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        let fd = open(dir, oTmpfile | O_RDWR | O_CLOEXEC, 0o600)
        if fd >= 0 { return fd }
        let mem = ward_memfd("ward-blob")
        guard mem >= 0 else { throw ImageError("\(label): \(SystemError("open(O_TMPFILE) in \(dir) and memfd_create", errno: errno))") }
        return mem
    }
}

/// Opens image references of every kind.
public enum ImageSources {
    /// `PATH[:TAG|@sha256:DIGEST]` -> the source and the image it names, resolved and with its
    /// metadata verified. The layers are not read yet: `source.openBlob` / `openVerifiedBlob`.
    public static func openImage(reference: String, maxBytes: Int64 = 4 << 30) throws(ImageError) -> (source: ImageSource, image: ResolvedImage) {
        let ref = try ImageReference(parsing: reference)
        let source = try open(path: ref.layout, maxBytes: maxBytes)
        return (source, try source.resolve(ref.selector))
    }

    /// A directory is an OCI layout; a file is a tar holding either `oci-layout` (oci-archive)
    /// or `manifest.json` (`docker save`).
    /// A gzip or zstd compressed archive (`docker save | gzip`) is decompressed first, into a
    /// private unlinked file, at most `maxBytes` of it (a decompression bomb stops there).
    public static func open(path: String, maxBytes: Int64 = 4 << 30) throws(ImageError) -> ImageSource {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw ImageError("\(path): \(SystemError("stat", errno: errno)); expected an OCI layout directory, an oci-archive or a docker save archive")
        }
        if (st.st_mode & S_IFMT) == S_IFDIR { return try ImageLayout(path: path) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw ImageError("\(path): neither a directory nor a regular file") }
        var fd = Glibc.open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)
        guard fd >= 0 else { throw ImageError("\(path): \(SystemError("open", errno: errno))") }
        var magic = [UInt8](repeating: 0, count: 4)
        let got = magic.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 4, 0) }
        if got == 4 && (magic[0...1].elementsEqual([0x1f, 0x8b]) || magic.elementsEqual([0x28, 0xb5, 0x2f, 0xfd])) {
            let compressed = fd
            defer { close(compressed) }
            fd = try decompress(compressed, path: path, maxBytes: maxBytes)
        }
        let index = try TarIndex(path: path, fd: fd)  // owns fd from here, closed also when it throws
        if index.members["oci-layout"] != nil { return try OCIArchive(index) }
        if index.members["manifest.json"] != nil { return DockerArchive(index) }
        throw ImageError("\(path): a tar with neither oci-layout (oci-archive) nor manifest.json (docker save); not an image archive")
    }
}

extension ImageSources {
    /// The decompressed stream of `fd` (gzip or zstd, through libarchive's raw format) in a
    /// private unlinked file, positioned at 0.
    static func decompress(_ fd: Int32, path: String, maxBytes: Int64) throws(ImageError) -> Int32 {
        guard let archive = archive_read_new() else { throw ImageError("\(path): archive_read_new failed") }
        defer { archive_read_free(archive) }
        archive_read_support_filter_gzip(archive)
        archive_read_support_filter_zstd(archive)
        archive_read_support_format_raw(archive)
        var entry: OpaquePointer?
        guard archive_read_open_fd(archive, fd, 1 << 16) == ARCHIVE_OK, archive_read_next_header(archive, &entry) == ARCHIVE_OK else {
            throw ImageError("\(path): not a readable gzip or zstd stream: \(String(cString: archive_error_string(archive)))")
        }
        let out = try PrivateFile.create(label: path)
        var ok = false
        defer { if !ok { close(out) } }
        var total: Int64 = 0
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = archive_read_data(archive, buffer.baseAddress, buffer.count)
            if n == 0 { break }
            guard n > 0 else { throw ImageError("\(path): decompressing: \(String(cString: archive_error_string(archive)))") }
            total += Int64(n)
            guard total <= maxBytes else {
                throw ImageError("\(path): decompresses to more than the --max-size limit of \(maxBytes) bytes; refusing it")
            }
            guard Sys.writeAll(fd: out, Array(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))) else {
                throw ImageError("\(path): \(SystemError("write to a private temporary file", errno: errno, hint: "is $TMPDIR full?"))")
            }
        }
        guard lseek(out, 0, SEEK_SET) == 0 else { throw ImageError("\(path): \(SystemError("lseek", errno: errno))") }
        ok = true
        return out
    }
}

/// An oci-archive: an OCI image layout as a tar (`podman save --format oci-archive`, skopeo).
final class OCIArchive: OCIStore {
    let index: TarIndex
    var description: String { index.path }

    init(_ index: TarIndex) throws(ImageError) {
        self.index = index
        let marker = try index.read(try index.regularFile("oci-layout"), limit: 1 << 16)
        guard case .string? = (try? JSONFile.parse(marker, file: "oci-layout"))?["imageLayoutVersion"] else {
            throw ImageError("\(index.path): no valid oci-layout member; not an oci-archive")
        }
    }

    func rootIndex() throws(ImageError) -> JSONValue {
        let bytes = try index.read(try index.regularFile("index.json"), limit: 16 << 20)
        do { return try JSONFile.parse(bytes, file: "\(index.path):index.json") } catch { throw ImageError("\(error)") }
    }

    func resolve(_ selector: ImageReference.Selector) throws(ImageError) -> ResolvedImage {
        try ImageResolver.resolve(store: self, selector, kind: .ociArchive)
    }

    func openBlob(_ descriptor: Descriptor) throws(ImageError) -> BlobReader {
        guard let hex = descriptor.sha256Hex else {
            throw ImageError("blob \(descriptor.digest): unsupported or malformed digest (ward verifies sha256 only)")
        }
        let name = "blobs/sha256/\(hex)"
        let member = try index.regularFile(name)
        return try BlobReader(fd: index.fd, start: member.offset, available: member.size, descriptor: descriptor,
                              label: "\(index.path):\(name)", closeFD: false, owner: self)
    }
}

/// A `docker save` archive (Docker image spec v1.2, also podman's docker-archive): manifest.json
/// lists each image's Config (`HEX.json`, HEX being the config's sha256: the image id), RepoTags
/// and Layers (uncompressed tars: `ID/layer.tar`, `HEX.tar` or `blobs/sha256/HEX`). A layer with
/// no content address in its name is checked against its diffID, the digest docker gives it.
final class DockerArchive: ImageSource {
    let index: TarIndex
    var description: String { index.path }
    /// digest -> member name, filled by resolve.
    var blobMembers: [String: String] = [:]

    static let configType = "application/vnd.docker.container.image.v1+json"
    static let layerType = "application/vnd.docker.image.rootfs.diff.tar"
    static let manifestType = "application/vnd.docker.distribution.manifest.v2+json"

    init(_ index: TarIndex) { self.index = index }
    struct Entry {
        var config: String
        var tags: [String]
        var layers: [String]
    }

    func entries() throws(ImageError) -> [Entry] {
        let bytes = try index.read(try index.regularFile("manifest.json"), limit: 16 << 20)
        let value: JSONValue
        do { value = try JSONFile.parse(bytes, file: "\(index.path):manifest.json") } catch { throw ImageError("\(error)") }
        guard case .array(let items) = value, !items.isEmpty else { throw ImageError("\(index.path):manifest.json: expected a non-empty array of images") }
        var out: [Entry] = []
        for (i, item) in items.enumerated() {
            guard case .string(let config)? = item["Config"], case .array(let layers)? = item["Layers"] else {
                throw ImageError("\(index.path):manifest.json[\(i)]: no Config or no Layers")
            }
            out.append(Entry(config: config, tags: ImageUnpacker.strings(item["RepoTags"]),
                             layers: layers.compactMap { if case .string(let s) = $0 { s } else { nil } }))
            guard out[i].layers.count == layers.count else { throw ImageError("\(index.path):manifest.json[\(i)].Layers: not all strings") }
        }
        // The legacy `repositories` file ({"repo": {"tag": "TOP-LAYER-ID"}}) names images too.
        if let member = try? index.regularFile("repositories"), let bytes = try? index.read(member, limit: 1 << 20),
           case .object(let repos)? = try? JSONFile.parse(bytes, file: "repositories") {
            for (repo, tags) in repos {
                guard case .object(let byTag) = tags else { continue }
                for (tag, id) in byTag {
                    guard case .string(let id) = id, let top = try? index.regularFile(id + "/layer.tar") else { continue }
                    for i in out.indices where out[i].layers.last.flatMap({ try? index.regularFile($0) })?.offset == top.offset {
                        if !out[i].tags.contains(repo + ":" + tag) { out[i].tags.append(repo + ":" + tag) }
                    }
                }
            }
        }
        return out
    }

    /// `HEX.json`, `HEX.tar` or `blobs/sha256/HEX` -> `sha256:HEX`.
    static func contentDigest(_ name: String) -> String? {
        let parts = name.split(separator: "/")
        var hex = parts.last.map(String.init) ?? ""
        if parts.count == 3, parts[0] == "blobs", parts[1] == "sha256" {
        } else if parts.count == 1, let dot = hex.lastIndex(of: "."), [".json", ".tar"].contains(String(hex[dot...])) {
            hex = String(hex[..<dot])
        } else {
            return nil
        }
        let d = "sha256:" + hex
        return Descriptor(mediaType: "", digest: d, size: 0).sha256Hex == nil ? nil : d
    }

    func resolve(_ selector: ImageReference.Selector) throws(ImageError) -> ResolvedImage {
        let all = try entries()
        let path = index.path
        let entry: Entry
        switch selector {
        case .only:
            guard all.count == 1 else {
                throw ImageError("\(path): manifest.json lists \(all.count) images; name one as PATH:TAG or PATH@sha256:ID (tags: \(all.flatMap(\.tags).joined(separator: ", ")))")
            }
            entry = all[0]
        case .tag(let tag):
            let matches = ImageReference.matching(tag, all.map { ($0.tags, $0) })
            guard let first = matches.first else {
                let tags = all.flatMap(\.tags)
                throw ImageError("\(path): no image tagged \"\(tag)\" in manifest.json (tags: \(tags.isEmpty ? "none" : tags.joined(separator: ", ")))")
            }
            guard matches.allSatisfy({ $0.config == first.config }) else {
                throw ImageError("\(path): \"\(tag)\" names \(matches.count) images (\(matches.flatMap(\.tags).joined(separator: ", "))); use the full tag or @sha256:ID")
            }
            entry = first
        case .digest(let digest):
            guard let hit = all.first(where: { Self.contentDigest($0.config) == digest }) else {
                throw ImageError("\(path): no image with id \(digest) (its config's digest) in manifest.json")
            }
            entry = hit
        }
        guard let configDigest = Self.contentDigest(entry.config) else {
            throw ImageError("\(path):manifest.json: Config \"\(entry.config)\" does not name its sha256 (HEX.json or blobs/sha256/HEX); ward cannot verify it")
        }
        let configMember = try index.regularFile(entry.config)
        let configDescriptor = Descriptor(mediaType: Self.configType, digest: configDigest, size: configMember.size)
        blobMembers[configDigest] = entry.config
        let config = try json(configDescriptor)
        let diffIDs = try ImageResolver.diffIDs(config, layers: entry.layers.count, where: "\(path):\(entry.config)")
        var layers: [Descriptor] = []
        for (i, name) in entry.layers.enumerated() {
            let member = try index.regularFile(name)
            // Named by content (blobs/sha256/HEX, HEX.tar): that digest; else (ID/layer.tar) its diffID.
            let digest = Self.contentDigest(name) ?? diffIDs[i]
            layers.append(Descriptor(mediaType: Self.layerType, digest: digest, size: member.size))
            if let other = blobMembers[digest], other != name, try index.regularFile(other).offset != member.offset {
                throw ImageError("\(path): \(name) and \(other) claim the same digest \(digest) with different content")
            }
            blobMembers[digest] = name
        }
        // The manifest docker-archive readers (skopeo, containers/image) derive: the layers as
        // uncompressed tars under their digests.
        func desc(_ d: Descriptor) -> JSONValue { .object(["mediaType": .string(d.mediaType), "digest": .string(d.digest), "size": .int(d.size)]) }
        let manifestText = JSONValue.object(["schemaVersion": .int(2), "mediaType": .string(Self.manifestType),
                                             "config": desc(configDescriptor), "layers": .array(layers.map(desc))]).jsonText
        let manifest = Descriptor(mediaType: Self.manifestType, digest: "sha256:" + SHA256.hex(SHA256.hash(Array(manifestText.utf8))),
                                  size: Int64(manifestText.utf8.count))
        return ResolvedImage(kind: .dockerArchive, manifest: manifest, configDescriptor: configDescriptor, config: config,
                             layers: layers, diffIDs: diffIDs, names: entry.tags)
    }

    func openBlob(_ descriptor: Descriptor) throws(ImageError) -> BlobReader {
        guard let name = blobMembers[descriptor.digest] else {
            throw ImageError("blob \(descriptor.digest): not part of an image resolved from \(index.path)")
        }
        let member = try index.regularFile(name)
        return try BlobReader(fd: index.fd, start: member.offset, available: member.size, descriptor: descriptor,
                              label: "\(index.path):\(name)", closeFD: false, owner: self)
    }
}

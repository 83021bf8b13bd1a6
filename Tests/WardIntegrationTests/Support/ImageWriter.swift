import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Writes OCI image layouts for the image tests: layers are ustar archives built here entry by
/// entry (so a test can write the hostile ones no real tar would: `../x`, `.wh...`), or made by
/// /bin/tar from a directory; gzip'd with /bin/gzip when asked.
struct TarWriter {
    enum Kind { case file(Data), directory, symlink(String), hardlink(String), charDevice }
    var data = Data()

    mutating func add(_ name: String, _ kind: Kind, mode: Int = 0o644, mtime: Int = 1_700_000_000, xattrs: [(String, String)] = [], uid: Int = 0, gid: Int = 0) {
        if !xattrs.isEmpty {
            // A pax extended header: "LEN SCHILY.xattr.NAME=VALUE\n" records (LEN counts itself).
            var records = Data()
            for (key, value) in xattrs {
                let body = " SCHILY.xattr.\(key)=\(value)\n"
                var len = body.utf8.count + 1
                while String(len).count + body.utf8.count != len { len += 1 }
                records.append(contentsOf: Array((String(len) + body).utf8))
            }
            addRaw("PaxHeaders/" + String(name.suffix(80)), type: "x", link: "", body: records, mode: 0o644, mtime: mtime)
        }
        var body = Data()
        var type = "0"
        var link = ""
        switch kind {
        case .file(let d): body = d
        case .directory: type = "5"
        case .symlink(let t): type = "2"; link = t
        case .hardlink(let t): type = "1"; link = t
        case .charDevice: type = "3"
        }
        addRaw(name, type: type, link: link, body: body, mode: mode, mtime: mtime, uid: uid, gid: gid)
    }

    mutating func addRaw(_ name: String, type: String, link: String, body: Data, mode: Int, mtime: Int, uid: Int = 0, gid: Int = 0) {
        var header = [UInt8](repeating: 0, count: 512)
        func put(_ s: String, _ offset: Int, _ length: Int) {
            let bytes = Array(s.utf8)
            precondition(bytes.count <= length, "tar field too long: \(s)")
            for (i, b) in bytes.enumerated() { header[offset + i] = b }
        }
        func octal(_ n: Int, _ offset: Int, _ length: Int) {
            let s = String(n, radix: 8)
            put(String(repeating: "0", count: length - 1 - s.count) + s, offset, length - 1)
        }
        put(name, 0, 100)
        octal(mode, 100, 8)
        octal(uid, 108, 8)
        octal(gid, 116, 8)
        octal(body.count, 124, 12)
        octal(mtime, 136, 12)
        put(String(repeating: " ", count: 8), 148, 8)
        put(type, 156, 1)
        put(link, 157, 100)
        put("ustar", 257, 6)
        put("00", 263, 2)
        let sum = header.reduce(0) { $0 + Int($1) }
        let s = String(sum, radix: 8)
        put(String(repeating: "0", count: 6 - s.count) + s, 148, 6)
        header[154] = 0
        header[155] = 0x20
        data.append(contentsOf: header)
        data.append(body)
        let pad = (512 - body.count % 512) % 512
        data.append(Data(count: pad))
    }

    func finished() -> Data { data + Data(count: 1024) }
}

struct ImageWriter {
    let layout: String
    var layers: [[String: Any]] = []
    /// sha256:HEX of each layer's uncompressed tar (the config's rootfs.diff_ids).
    var diffIDs: [String] = []

    init(at layout: String) throws {
        self.layout = layout
        try FileManager.default.createDirectory(atPath: layout + "/blobs/sha256", withIntermediateDirectories: true)
        try Data(#"{"imageLayoutVersion":"1.0.0"}"#.utf8).write(to: URL(fileURLWithPath: layout + "/oci-layout"))
    }

    static func sha256(_ data: Data) throws -> String {
        let dir = Harness.makeTempDirectory(prefix: "ward-it-sha")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try data.write(to: URL(fileURLWithPath: dir + "/blob"))
        let out = try Child.check(["/usr/bin/sha256sum", dir + "/blob"])
        return String(out.prefix(64))
    }

    /// Stores a blob; returns its descriptor.
    @discardableResult
    func blob(_ data: Data, mediaType: String) throws -> [String: Any] {
        let hex = try Self.sha256(data)
        try data.write(to: URL(fileURLWithPath: "\(layout)/blobs/sha256/\(hex)"))
        return ["mediaType": mediaType, "digest": "sha256:\(hex)", "size": data.count]
    }

    static func gzip(_ data: Data) throws -> Data {
        let dir = Harness.makeTempDirectory(prefix: "ward-it-gz")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try data.write(to: URL(fileURLWithPath: dir + "/layer"))
        _ = try Child.check(["/bin/gzip", "-n", dir + "/layer"])
        return try Data(contentsOf: URL(fileURLWithPath: dir + "/layer.gz"))
    }

    /// /bin/tar of a directory's contents.
    static func tarDirectory(_ dir: String) throws -> Data {
        let tmp = Harness.makeTempDirectory(prefix: "ward-it-tar")
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        _ = try Child.check(["/bin/tar", "--numeric-owner", "--owner=0", "--group=0", "-C", dir, "-cf", tmp + "/l.tar", "."])
        return try Data(contentsOf: URL(fileURLWithPath: tmp + "/l.tar"))
    }

    /// A tar+zstd layer (/usr/bin/zstd).
    mutating func addZstdLayer(_ tar: Data) throws {
        diffIDs.append("sha256:" + (try Self.sha256(tar)))
        let dir = Harness.makeTempDirectory(prefix: "ward-it-zst")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try tar.write(to: URL(fileURLWithPath: dir + "/layer"))
        _ = try Child.check(["/usr/bin/zstd", "-q", dir + "/layer"])
        layers.append(try blob(try Data(contentsOf: URL(fileURLWithPath: dir + "/layer.zst")), mediaType: "application/vnd.oci.image.layer.v1.tar+zstd"))
    }

    mutating func addLayer(_ tar: Data, gzip: Bool) throws {
        diffIDs.append("sha256:" + (try Self.sha256(tar)))
        if gzip {
            layers.append(try blob(try Self.gzip(tar), mediaType: "application/vnd.oci.image.layer.v1.tar+gzip"))
        } else {
            layers.append(try blob(tar, mediaType: "application/vnd.oci.image.layer.v1.tar"))
        }
    }

    /// Writes the config, the manifest and index.json (the manifest tagged `tag`); returns the manifest digest.
    @discardableResult
    func finish(tag: String, config: [String: Any], diffIDs: [String]? = nil) throws -> String {
        let image: [String: Any] = ["architecture": "amd64", "os": "linux", "config": config,
                                    "rootfs": ["type": "layers", "diff_ids": diffIDs ?? self.diffIDs]]
        let configDesc = try blob(try JSONSerialization.data(withJSONObject: image, options: [.sortedKeys]),
                                  mediaType: "application/vnd.oci.image.config.v1+json")
        let manifest: [String: Any] = ["schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                                       "config": configDesc, "layers": layers]
        var desc = try blob(try JSONSerialization.data(withJSONObject: manifest, options: [.sortedKeys]),
                            mediaType: "application/vnd.oci.image.manifest.v1+json")
        desc["annotations"] = ["org.opencontainers.image.ref.name": tag]
        desc["platform"] = ["os": "linux", "architecture": "amd64"]
        let index: [String: Any] = ["schemaVersion": 2, "manifests": [desc]]
        try JSONSerialization.data(withJSONObject: index, options: [.sortedKeys]).write(to: URL(fileURLWithPath: layout + "/index.json"))
        return desc["digest"] as! String
    }
}

/// Archives of image layouts for the input tests: an oci-archive (the layout directory as a
/// tar) and a `docker save` archive written the way docker writes one.
enum ArchiveWriter {
    /// `tar -cf ARCHIVE` of DIR's entries, named without a leading "./" (as podman and docker write them).
    static func tar(_ dir: String, to archive: String) throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        _ = try Child.check(["/bin/tar", "--numeric-owner", "--owner=0", "--group=0", "-C", dir, "-cf", archive] + names)
    }

    /// A docker save archive: ID/layer.tar per layer (a repeated layer is a symlink to the first,
    /// as docker writes it), HEX.json config, manifest.json, repositories.
    static func dockerSave(layers: [Data], config: [String: Any], tags: [String], to archive: String) throws {
        let dir = Harness.makeTempDirectory(prefix: "ward-it-docker")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var diffIDs: [String] = []
        var names: [String] = []
        var firstByDigest: [String: String] = [:]
        for (i, layer) in layers.enumerated() {
            let hex = try ImageWriter.sha256(layer)
            diffIDs.append("sha256:" + hex)
            let id = String(repeating: String(i % 10), count: 8) + String(hex.prefix(56))
            try FileManager.default.createDirectory(atPath: "\(dir)/\(id)", withIntermediateDirectories: false)
            if let first = firstByDigest[hex] {
                try FileManager.default.createSymbolicLink(atPath: "\(dir)/\(id)/layer.tar", withDestinationPath: "../\(first)")
            } else {
                try layer.write(to: URL(fileURLWithPath: "\(dir)/\(id)/layer.tar"))
                firstByDigest[hex] = "\(id)/layer.tar"
            }
            try Data("1.0".utf8).write(to: URL(fileURLWithPath: "\(dir)/\(id)/VERSION"))
            names.append("\(id)/layer.tar")
        }
        let image: [String: Any] = ["architecture": "amd64", "os": "linux", "config": config,
                                    "rootfs": ["type": "layers", "diff_ids": diffIDs]]
        let configData = try JSONSerialization.data(withJSONObject: image, options: [.sortedKeys])
        let configHex = try ImageWriter.sha256(configData)
        try configData.write(to: URL(fileURLWithPath: "\(dir)/\(configHex).json"))
        let manifest: [[String: Any]] = [["Config": "\(configHex).json", "RepoTags": tags, "Layers": names]]
        try JSONSerialization.data(withJSONObject: manifest).write(to: URL(fileURLWithPath: dir + "/manifest.json"))
        var repositories: [String: [String: String]] = [:]
        for tag in tags {
            let colon = tag.lastIndex(of: ":")!
            let top = String(names.last!.split(separator: "/")[0])
            repositories[String(tag[..<colon]), default: [:]][String(tag[tag.index(after: colon)...])] = top
        }
        try JSONSerialization.data(withJSONObject: repositories).write(to: URL(fileURLWithPath: dir + "/repositories"))
        try tar(dir, to: archive)
    }
}

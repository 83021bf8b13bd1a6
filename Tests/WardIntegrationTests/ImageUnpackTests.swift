import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `ward unpack LAYOUT[:TAG] BUNDLE`: OCI image layout -> bundle, all or nothing, and nothing
/// written outside the rootfs whatever the layers say.
@Suite("ImageUnpack")
struct ImageUnpackTests {
    /// A sentinel directory beside the bundle, with one file; hostile layers aim at it.
    static func makeSentinel(_ dir: String) throws -> String {
        let sentinel = dir + "/sentinel"
        try FileManager.default.createDirectory(atPath: sentinel, withIntermediateDirectories: false)
        try Data("untouched\n".utf8).write(to: URL(fileURLWithPath: sentinel + "/keep"))
        return sentinel
    }

    static func checkSentinel(_ sentinel: String, _ label: String) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: sentinel)) ?? []
        #expect(names == ["keep"], "\(label): sentinel now holds \(names)")
        #expect((try? String(contentsOfFile: sentinel + "/keep", encoding: .utf8)) == "untouched\n", "\(label): sentinel file changed")
        var st = stat()
        #expect(lstat(sentinel + "/keep", &st) == 0 && st.st_nlink == 1, "\(label): sentinel file got a hard link")
    }

    static func unpack(_ sb: Sandbox, _ args: [String]) async throws -> Child.Result {
        try await sb.chownToUser(sb.dir)
        return try await Child(sb.invocation(["unpack"] + args, as: .testUser), outputDirectory: sb.dir).wait()
    }

    static func leftovers(_ bundle: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: bundle)) ?? []).filter { $0.hasPrefix("rootfs") || $0 == "config.json" }
    }

    @Test("a three-layer image (gzip and plain tar) with whiteouts, an opaque dir, links and a device unpacks and runs")
    func unpacksAndRuns() async throws {
        try await withSandbox(args: ["/bin/true"]) { sb in
            let layout = sb.dir + "/image"
            var image = try ImageWriter(at: layout)
            try image.addLayer(try ImageWriter.tarDirectory(Harness.rootfsTemplate), gzip: true)
            var lower = TarWriter()
            lower.add("etc/remove-me", .file(Data("old\n".utf8)))
            lower.add("opaque/", .directory, mode: 0o755)
            lower.add("opaque/old", .file(Data("old\n".utf8)))
            lower.add("opaque/sub/", .directory, mode: 0o755)
            lower.add("opaque/sub/deep", .file(Data("old\n".utf8)))
            lower.add("keepdir/a", .file(Data("a\n".utf8)))
            try image.addLayer(lower.finished(), gzip: false)
            var upper = TarWriter()
            upper.add("etc/.wh.remove-me", .file(Data()))
            upper.add("opaque/", .directory, mode: 0o755)
            upper.add("opaque/.wh..wh..opq", .file(Data()))
            upper.add("opaque/new", .file(Data("new\n".utf8)))
            upper.add("etc/msg", .file(Data("hello from layer 3\n".utf8)), mode: 0o640, mtime: 1_600_000_000)
            upper.add("etc/msg-link", .hardlink("etc/msg"))
            upper.add("etc/msg-sym", .symlink("msg"))
            upper.add("dev/null", .charDevice)
            upper.add("private/", .directory, mode: 0o750)
            upper.add("/abs/made-relative", .file(Data("x\n".utf8)))
            try image.addLayer(upper.finished(), gzip: true)
            try image.finish(tag: "v1", config: [
                "Entrypoint": ["/bin/sh", "-c"],
                "Cmd": ["cat /etc/msg; ls /opaque; test -e /etc/remove-me || echo removed; echo greeting=$GREETING; pwd"],
                "Env": ["GREETING=hi", "PATH=/bin:/usr/bin"],
                "WorkingDir": "/opaque",
                "Volumes": ["/data": [:] as [String: Any]],
            ])
            let out = sb.dir + "/out"
            let r = try await Self.unpack(sb, [layout + ":v1", out])
            #expect(r.status == 0, "\(r)")
            #expect(r.stderr.contains("skipped 1 device node"), "\(r)")
            let rootfs = out + "/rootfs"
            let fm = FileManager.default
            #expect(!fm.fileExists(atPath: rootfs + "/etc/remove-me"))
            #expect((try? fm.contentsOfDirectory(atPath: rootfs + "/opaque")) == ["new"])
            #expect(fm.fileExists(atPath: rootfs + "/keepdir/a"))
            #expect(fm.fileExists(atPath: rootfs + "/abs/made-relative"))
            #expect(!fm.fileExists(atPath: rootfs + "/dev/null"))
            #expect((try? String(contentsOfFile: rootfs + "/etc/msg", encoding: .utf8)) == "hello from layer 3\n")
            var msg = stat(), link = stat(), priv = stat(), sym = stat()
            #expect(lstat(rootfs + "/etc/msg", &msg) == 0 && lstat(rootfs + "/etc/msg-link", &link) == 0)
            #expect(msg.st_ino == link.st_ino && msg.st_nlink == 2)
            #expect(msg.st_mode & 0o7777 == 0o640 && msg.st_mtim.tv_sec == 1_600_000_000)
            #expect(msg.st_uid == sb.user.uid)
            #expect(lstat(rootfs + "/etc/msg-sym", &sym) == 0 && sym.st_mode & S_IFMT == S_IFLNK)
            #expect(lstat(rootfs + "/private", &priv) == 0 && priv.st_mode & 0o7777 == 0o750)
            #expect(fm.fileExists(atPath: rootfs + "/data"))
            #expect(Self.leftovers(out).sorted() == ["config.json", "rootfs"])

            let config = try Config(contentsOf: out + "/config.json")
            #expect(config["process.cwd"] as? String == "/opaque")
            #expect((config["process.args"] as? [String])?.first == "/bin/sh")
            #expect((config["process.env"] as? [String])?.contains("GREETING=hi") == true)
            let mounts = config["mounts"] as? [[String: Any]] ?? []
            let data = mounts.first { $0["destination"] as? String == "/data" }
            #expect(data?["type"] as? String == "tmpfs")
            let dataOptions: [String] = data?["options"] as? [String] ?? []
            #expect(Set(dataOptions).isSuperset(of: ["nosuid", "nodev", "noexec"]), "\(dataOptions)")

            let run = try await Child(sb.invocation(["run", "--bundle", out, sb.id], as: .testUser), outputDirectory: sb.dir).wait()
            #expect(run.status == 0, "\(run)")
            #expect(run.stdout == "hello from layer 3\nnew\nremoved\ngreeting=hi\n/opaque\n", "\(run)")

            // The same image by digest works too; an unknown tag is a clear error.
            let byTag = try await Self.unpack(sb, [layout + ":nope", sb.dir + "/out2"])
            #expect(byTag.status != 0 && byTag.stderr.contains("no image tagged \"nope\""), "\(byTag)")
        }
    }

    @Test("a layer whose digest does not match its descriptor is refused and leaves no rootfs")
    func digestMismatch() async throws {
        try await withSandbox(args: ["/bin/true"]) { sb in
            let layout = sb.dir + "/image"
            var image = try ImageWriter(at: layout)
            var layer = TarWriter()
            layer.add("etc/file", .file(Data("original\n".utf8)))
            try image.addLayer(layer.finished(), gzip: true)
            try image.finish(tag: "latest", config: ["Cmd": ["/bin/true"]])
            let digest = try #require(image.layers[0]["digest"] as? String)
            let path = "\(layout)/blobs/sha256/\(digest.dropFirst(7))"
            var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            bytes[bytes.count - 5] ^= 0xFF
            try bytes.write(to: URL(fileURLWithPath: path))
            let actual = "sha256:" + (try ImageWriter.sha256(bytes))
            let out = sb.dir + "/out"
            let r = try await Self.unpack(sb, [layout, out])
            #expect(r.status != 0, "\(r)")
            #expect(r.stderr.contains("digest mismatch") && r.stderr.contains(digest) && r.stderr.contains(actual), "\(r)")
            #expect(Self.leftovers(out).isEmpty, "left behind: \(Self.leftovers(out))")
        }
    }

    /// One layer per attack: (label, entries, ward options, the error expected or nil when made harmless).
    static func hostileCases(sentinel: String) -> [(String, [(String, TarWriter.Kind)], [String], String?)] {
        let bomb = Data(count: 2 << 20)
        return [
                ("dotdot", [("../../sentinel/dotdot", .file(Data("x".utf8)))], [], "climbs out"),
                ("dotdot-deep", [("a/../../../sentinel/x", .file(Data("x".utf8)))], [], "climbs out"),
                ("symlink-then-file", [("evil", .symlink(sentinel)), ("evil/pwned", .file(Data("x".utf8)))], [], "symlink"),
                ("relative-symlink-then-file", [("evil", .symlink("../../sentinel")), ("evil/pwned", .file(Data("x".utf8)))], [], "symlink"),
                ("hardlink-dotdot", [("h", .hardlink("../../sentinel/keep"))], [], "climbs out"),
                ("hardlink-host-absolute", [("h", .hardlink(sentinel + "/keep"))], [], "hardlink"),
                ("whiteout-dotdot", [(".wh...", .file(Data()))], [], "whiteout"),
                ("whiteout-dotdot-sub", [("sub/", .directory), ("sub/.wh...", .file(Data()))], [], "whiteout"),
                ("size-bomb", [("bomb", .file(bomb))], ["--max-size", "1M"], "--max-size"),
                ("absolute-name", [("/sentinel/abs", .file(Data("x".utf8)))], [], nil),
        ]
    }

    /// The layout of a one-layer image holding `entries`.
    static func hostileImage(_ layout: String, _ label: String, _ entries: [(String, TarWriter.Kind)]) throws {
        var image = try ImageWriter(at: layout)
        var layer = TarWriter()
        for (name, kind) in entries { layer.add(name, kind) }
        try image.addLayer(layer.finished(), gzip: label == "size-bomb")
        try image.finish(tag: "latest", config: ["Cmd": ["/bin/true"]])
    }

    @Test("hostile layers are refused (or made harmless) and write nothing outside the rootfs")
    func hostileLayers() async throws {
        try await withSandbox(args: ["/bin/true"]) { sb in
            let sentinel = try Self.makeSentinel(sb.dir)
            for (i, (label, entries, options, error)) in Self.hostileCases(sentinel: sentinel).enumerated() {
                let layout = sb.dir + "/image-\(i)"
                try Self.hostileImage(layout, label, entries)
                let out = sb.dir + "/out-\(i)"
                let r = try await Self.unpack(sb, options + [layout, out])
                if let error {
                    #expect(r.status != 0, "\(label): \(r)")
                    #expect(r.stderr.contains(error), "\(label): \(r)")
                    #expect(Self.leftovers(out).isEmpty, "\(label): left behind \(Self.leftovers(out))")
                } else {
                    #expect(r.status == 0, "\(label): \(r)")
                    #expect(FileManager.default.fileExists(atPath: out + "/rootfs/sentinel/abs"), "\(label)")
                }
                Self.checkSentinel(sentinel, label)
            }
        }
    }
}

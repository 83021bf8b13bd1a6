import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `ward unpack` inputs besides an OCI layout directory (oci-archive, docker save), diffID
/// checks, the image's User, xattrs, --progress json, and a file-by-file comparison with
/// `umoci unpack --rootless`. ward runs as the unprivileged test user throughout.
@Suite("ImageInputs")
struct ImageInputTests {
    static let podman: String? = ["/usr/bin/podman", "/usr/local/bin/podman"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static let umoci: String? = ["/usr/bin/umoci", "/usr/local/bin/umoci"].first { FileManager.default.isExecutableFile(atPath: $0) }

    static func unpack(_ sb: Sandbox, _ args: [String]) async throws -> Child.Result {
        try await ImageUnpackTests.unpack(sb, args)
    }

    /// path -> "type mode size content-or-target" for every entry under `root`, and the groups
    /// of paths sharing an inode (hardlinks).
    static func tree(_ root: String) throws -> (entries: [String: String], links: Set<[String]>) {
        var entries: [String: String] = [:]
        var inodes: [UInt64: [String]] = [:]
        let walker = FileManager.default.enumerator(atPath: root)
        while let rel = walker?.nextObject() as? String {
            let path = root + "/" + rel
            var st = stat()
            guard lstat(path, &st) == 0 else { throw TestFailure("lstat \(path): errno \(errno)") }
            let mode = String(st.st_mode & 0o7777, radix: 8)
            switch st.st_mode & S_IFMT {
            case S_IFDIR: entries[rel] = "dir \(mode)"
            case S_IFLNK: entries[rel] = "symlink -> \((try? FileManager.default.destinationOfSymbolicLink(atPath: path)) ?? "?")"
            case S_IFREG:
                let data = try Data(contentsOf: URL(fileURLWithPath: path))
                entries[rel] = "file \(mode) \(st.st_size) \(try ImageWriter.sha256(data).prefix(16))"
                if st.st_nlink > 1 { inodes[UInt64(st.st_ino), default: []].append(rel) }
            default: entries[rel] = "other \(String(st.st_mode, radix: 8))"
            }
        }
        return (entries, Set(inodes.values.map { $0.sorted() }))
    }

    /// ARGV run as the unprivileged test user, with a clean environment.
    static func asTestUser(_ sb: Sandbox, _ argv: [String]) -> [String] {
        let env = ["/usr/bin/env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=\(sb.home)", "LANG=C"]
        guard sb.user.switchUser else { return env + argv }
        return ["/usr/bin/setpriv", "--reuid=\(sb.user.name)", "--regid=\(sb.user.name)", "--init-groups", "--reset-env"] + env + argv
    }

    static func podmanAsRoot(_ sb: Sandbox, _ args: [String]) throws -> String {
        let globals = ["--root", sb.dir + "/podman-storage", "--runroot", sb.dir + "/podman-run", "--storage-driver", "vfs",
                       "--cgroup-manager=cgroupfs", "--events-backend", "file"]
        return try Child.check([podman!] + globals + args)
    }

    @Test("oci-archive and docker-archive saved by podman unpack to the same rootfs as the layout",
          .enabled(if: Harness.isRoot && podman != nil, "needs root (podman builds the fixtures as root) and podman"))
    func podmanArchives() async throws {
        try await withSandbox(args: ["/bin/true"]) { sb in
            let bb = sb.dir + "/bb.tar"
            _ = try Child.check(["/bin/tar", "--numeric-owner", "-C", Harness.rootfsTemplate, "-cf", bb, "."])
            _ = try Self.podmanAsRoot(sb, ["import", "--change", #"CMD ["/bin/sh"]"#, bb, "localhost/wardtest-img:v1"])
            _ = try Self.podmanAsRoot(sb, ["save", "--format", "oci-archive", "-o", sb.dir + "/oci.tar", "localhost/wardtest-img:v1"])
            _ = try Self.podmanAsRoot(sb, ["save", "--format", "docker-archive", "-o", sb.dir + "/docker.tar", "localhost/wardtest-img:v1"])
            _ = try? Self.podmanAsRoot(sb, ["rmi", "-a", "-f"])
            try? FileManager.default.removeItem(atPath: sb.dir + "/podman-storage")

            let expected = try Self.tree(Harness.rootfsTemplate).entries.keys.sorted()
            for (label, reference) in [("oci-archive", "oci.tar:localhost/wardtest-img:v1"), ("oci-archive by short tag", "oci.tar:wardtest-img:v1"),
                                       ("docker-archive", "docker.tar:localhost/wardtest-img:v1"), ("docker-archive only image", "docker.tar"),
                                       ("docker-archive by tag", "docker.tar:v1")] {
                let out = sb.dir + "/out-" + label.replacingOccurrences(of: " ", with: "-")
                let r = try await Self.unpack(sb, ["--progress", "none", sb.dir + "/" + reference, out])
                #expect(r.status == 0, "\(label): \(r)")
                let got = try Self.tree(out + "/rootfs").entries.keys.sorted()
                #expect(got == expected, "\(label): rootfs differs from the image's source tree")
                let config = try Config(contentsOf: out + "/config.json")
                #expect(config["process.args"] as? [String] == ["/bin/sh"], "\(label)")
            }
            let wrong = try await Self.unpack(sb, [sb.dir + "/docker.tar:other:v1", sb.dir + "/out-wrong"])
            #expect(wrong.status != 0 && wrong.stderr.contains("no image tagged \"other:v1\"") && wrong.stderr.contains("localhost/wardtest-img:v1"), "\(wrong)")
            #expect(ImageUnpackTests.leftovers(sb.dir + "/out-wrong").isEmpty)
        }
    }

    /// Two small layers: etc/base, then its whiteout and etc/top (0600).
    static func baseAndTop() -> (base: TarWriter, top: TarWriter) {
        var base = TarWriter()
        base.add("etc/", .directory, mode: 0o755)
        base.add("etc/base", .file(Data("base\n".utf8)))
        var top = TarWriter()
        top.add("etc/.wh.base", .file(Data()))
        top.add("etc/top", .file(Data("top\n".utf8)), mode: 0o600)
        return (base, top)
    }

    @Test("docker save as docker writes it (ID/layer.tar, a repeated layer as a symlink, repositories) and an oci-archive of a layout")
    func writtenArchives() async throws {
        try await withSandbox(args: ["/bin/true"]) { sb in
            let (base, top) = Self.baseAndTop()
            let docker = sb.dir + "/saved.tar"
            // base, top, base again: the third layer is the symlink ../ID/layer.tar docker writes.
            try ArchiveWriter.dockerSave(layers: [base.finished(), top.finished(), base.finished()], config: ["Cmd": ["/bin/true"]],
                                         tags: ["docker.io/library/app:1.0", "app:latest"], to: docker)
            let members = try Child.check(["/bin/tar", "-tvf", docker])
            #expect(members.contains("layer.tar -> ../"), "the fixture has a symlinked layer: \(members)")

            for (label, ref) in [("RepoTag", "app:1.0"), ("docker.io spelling", "docker.io/library/app:1.0"), ("implied latest", "app")] {
                let out = sb.dir + "/out-" + label.replacingOccurrences(of: " ", with: "-")
                let r = try await Self.unpack(sb, [docker + ":" + ref, out])
                #expect(r.status == 0, "\(label): \(r)")
                let got = try Self.tree(out + "/rootfs").entries
                #expect(got == ["etc": "dir 755", "etc/base": "file 644 5 \(try ImageWriter.sha256(Data("base\n".utf8)).prefix(16))",
                                "etc/top": "file 600 4 \(try ImageWriter.sha256(Data("top\n".utf8)).prefix(16))"], "\(label): \(got)")
            }
            let ambiguous = try await Self.unpack(sb, [docker, sb.dir + "/out-only"])
            #expect(ambiguous.status == 0, "one image in manifest.json needs no tag: \(ambiguous)")

            // The same layout as a directory and as an oci-archive: the same tree.
            let layout = sb.dir + "/layout"
            var image = try ImageWriter(at: layout)
            try image.addLayer(base.finished(), gzip: true)
            try image.addLayer(top.finished(), gzip: false)
            try image.finish(tag: "v2", config: ["Cmd": ["/bin/true"]])
            try ArchiveWriter.tar(layout, to: sb.dir + "/layout.tar")
            let fromDir = try await Self.unpack(sb, [layout + ":v2", sb.dir + "/out-dir"])
            let fromTar = try await Self.unpack(sb, [sb.dir + "/layout.tar:v2", sb.dir + "/out-tar"])
            #expect(fromDir.status == 0 && fromTar.status == 0, "\(fromDir)\n\(fromTar)")
            #expect(try Self.tree(sb.dir + "/out-dir/rootfs").entries == (try Self.tree(sb.dir + "/out-tar/rootfs").entries))
        }
    }

    @Test("bad inputs are refused with a clear error and leave nothing: diffID mismatch, corrupt or hostile archives")
    func badInputs() async throws {
        try await withSandbox(args: ["/bin/true"]) { sb in
            var layer = TarWriter()
            layer.add("etc/file", .file(Data("original\n".utf8)))
            var other = TarWriter()
            other.add("etc/file", .file(Data("other\n".utf8)))
            let otherDiff = "sha256:" + (try ImageWriter.sha256(other.finished()))

            // 1. The config's diff_ids name another layer (valid blob digests, wrong uncompressed content).
            let mismatched = sb.dir + "/mismatch"
            var image = try ImageWriter(at: mismatched)
            try image.addLayer(layer.finished(), gzip: true)
            try image.finish(tag: "t", config: ["Cmd": ["/bin/true"]], diffIDs: [otherDiff])
            // 2. The same, in a docker archive: a layer whose content is not its diffID.
            let badDocker = sb.dir + "/bad-docker.tar"
            try ArchiveWriter.dockerSave(layers: [layer.finished()], config: [:], tags: ["x:1"], to: badDocker)
            let dockerBytes = try Data(contentsOf: URL(fileURLWithPath: badDocker))
            let marker = try #require(dockerBytes.range(of: Data("original\n".utf8)))
            var tampered = dockerBytes
            tampered[marker.lowerBound] = UInt8(ascii: "O")
            try tampered.write(to: URL(fileURLWithPath: sb.dir + "/tampered-docker.tar"))
            // 3. A truncated archive, 4. the tampered one gzip'd (decompressed first, then refused), 5. one whose layer member links out of the archive.
            try dockerBytes.prefix(marker.lowerBound + 3).write(to: URL(fileURLWithPath: sb.dir + "/truncated.tar"))
            _ = try Child.check(["/bin/sh", "-c", "gzip -c '\(sb.dir)/tampered-docker.tar' > '\(sb.dir)/compressed.tar.gz'"])
            let escapeDir = Harness.makeTempDirectory(prefix: "ward-it-escape")
            defer { try? FileManager.default.removeItem(atPath: escapeDir) }
            try FileManager.default.createDirectory(atPath: escapeDir + "/abc", withIntermediateDirectories: false)
            try FileManager.default.createSymbolicLink(atPath: escapeDir + "/abc/layer.tar", withDestinationPath: "../../../../etc/passwd")
            let cfg = try JSONSerialization.data(withJSONObject: ["rootfs": ["type": "layers", "diff_ids": [otherDiff]]])
            let cfgHex = try ImageWriter.sha256(cfg)
            try cfg.write(to: URL(fileURLWithPath: "\(escapeDir)/\(cfgHex).json"))
            try Data(#"[{"Config":"\#(cfgHex).json","RepoTags":["e:1"],"Layers":["abc/layer.tar"]}]"#.utf8)
                .write(to: URL(fileURLWithPath: escapeDir + "/manifest.json"))
            try ArchiveWriter.tar(escapeDir, to: sb.dir + "/escape.tar")
            // 6. A docker archive whose config is not the image id its name claims.
            let wrongConfig = Harness.makeTempDirectory(prefix: "ward-it-cfg")
            defer { try? FileManager.default.removeItem(atPath: wrongConfig) }
            try cfg.write(to: URL(fileURLWithPath: "\(wrongConfig)/\(String(repeating: "ab", count: 32)).json"))
            try Data(#"[{"Config":"\#(String(repeating: "ab", count: 32)).json","RepoTags":[],"Layers":[]}]"#.utf8)
                .write(to: URL(fileURLWithPath: wrongConfig + "/manifest.json"))
            try ArchiveWriter.tar(wrongConfig, to: sb.dir + "/wrong-config.tar")

            let cases: [(String, String, String)] = [
                ("diffID mismatch", mismatched + ":t", "uncompressed digest mismatch"),
                ("docker layer tampered", sb.dir + "/tampered-docker.tar", "digest mismatch"),
                ("truncated archive", sb.dir + "/truncated.tar", "truncated"),
                ("compressed archive, decompressed then checked", sb.dir + "/compressed.tar.gz", "digest mismatch"),
                ("member links out of the archive", sb.dir + "/escape.tar", "outside the archive"),
                ("config digest wrong", sb.dir + "/wrong-config.tar", "digest mismatch"),
                ("not an image", sb.dir + "/mismatch/oci-layout", "not an image archive"),
            ]
            for (i, (label, reference, message)) in cases.enumerated() {
                let out = sb.dir + "/out-\(i)"
                let r = try await Self.unpack(sb, [reference, out])
                #expect(r.status != 0, "\(label): \(r)")
                #expect(r.stderr.contains(message), "\(label): expected \"\(message)\": \(r)")
                #expect(ImageUnpackTests.leftovers(out).isEmpty, "\(label): left behind \(ImageUnpackTests.leftovers(out))")
            }
            let diff = try await Self.unpack(sb, [mismatched + ":t", sb.dir + "/out-x"])
            #expect(diff.stderr.contains(otherDiff) && diff.stderr.contains("rootfs.diff_ids[0]"), "\(diff)")
        }
    }

    @Test("the image's User goes into process.user, names resolved in the rootfs (a symlinked /etc/passwd stays inside)")
    func imageUser() async throws {
        try await withSandbox(args: ["/bin/true"]) { sb in
            var layer = TarWriter()
            layer.add("etc/", .directory, mode: 0o755)
            layer.add("etc/group", .file(Data("root:x:0:\napp:x:1500:\nextra:x:2000:app,other\n".utf8)))
            layer.add("users/", .directory, mode: 0o755)
            layer.add("users/passwd", .file(Data("root:x:0:0::/root:/bin/sh\napp:x:1234:1500::/home/app:/bin/sh\n".utf8)))
            // Absolute: followed on the host it would miss (or read the host's); in the rootfs it is users/passwd.
            layer.add("etc/passwd", .symlink("/users/passwd"))
            let cases: [(String, [String: Any]?, String?)] = [
                ("app", ["uid": 1234, "gid": 1500, "additionalGids": [2000]], "subuid-mapped"),
                ("app:extra", ["uid": 1234, "gid": 2000], "subuid-mapped"),
                ("77:88", ["uid": 77, "gid": 88], "subuid-mapped"),
                ("4321", ["uid": 4321, "gid": 0], "subuid-mapped"),
                ("root", ["uid": 0, "gid": 0], nil),
                ("nobody", nil, "no user \"nobody\" in the image's /etc/passwd"),
            ]
            for (i, (user, expected, message)) in cases.enumerated() {
                let layout = sb.dir + "/image-\(i)"
                var image = try ImageWriter(at: layout)
                try image.addLayer(layer.finished(), gzip: true)
                try image.finish(tag: "t", config: ["User": user, "Cmd": ["/bin/true"]])
                let out = sb.dir + "/out-\(i)"
                let r = try await Self.unpack(sb, [layout, out])
                if let expected {
                    #expect(r.status == 0, "\(user): \(r)")
                    let config = try Config(contentsOf: out + "/config.json")
                    let got = config["process.user"] as? [String: Any] ?? [:]
                    #expect(got["uid"] as? Int == expected["uid"] as? Int && got["gid"] as? Int == expected["gid"] as? Int, "\(user): \(got)")
                    #expect((got["additionalGids"] as? [Int]) == (expected["additionalGids"] as? [Int]), "\(user): \(got)")
                    if let message { #expect(r.stderr.contains(message), "\(user): \(r)") } else { #expect(!r.stderr.contains("warning"), "\(user): \(r)") }
                } else {
                    #expect(r.status != 0 && r.stderr.contains(message!), "\(user): \(r)")
                    #expect(ImageUnpackTests.leftovers(out).isEmpty, "\(user): left behind \(ImageUnpackTests.leftovers(out))")
                }
            }
        }
    }

    @Test("user.* xattrs are kept on files and directories; security.capability, trusted.* and user.overlay.* are dropped and counted")
    func xattrs() async throws {
        try await withSandbox(args: ["/bin/true"]) { sb in
            var layer = TarWriter()
            layer.add("data/", .directory, mode: 0o755, xattrs: [("user.dir", "d1"), ("user.overlay.opaque", "y")])
            layer.add("data/file", .file(Data("x\n".utf8)), mode: 0o444,
                      xattrs: [("user.mime_type", "text/plain"), ("security.capability", "caps"), ("trusted.x", "t")])
            layer.add("data/link", .symlink("file"), xattrs: [("user.on-link", "l")])
            let layout = sb.dir + "/image"
            var image = try ImageWriter(at: layout)
            try image.addLayer(layer.finished(), gzip: false)
            try image.finish(tag: "t", config: [:])
            let out = sb.dir + "/out"
            let r = try await Self.unpack(sb, [layout, out])
            #expect(r.status == 0, "\(r)")
            #expect(r.stderr.contains("dropped 3 extended attribute(s) outside user.* (1 security.capability, 1 trusted.*, 1 user.overlay.*)"), "\(r)")
            #expect(r.stderr.contains("skipped 1 user.* attribute(s) on symlinks"), "\(r)")
            let script = """
            import os, sys
            r = sys.argv[1]
            for p in ("data", "data/file"):
                print(p, sorted((n, os.getxattr(os.path.join(r, p), n).decode()) for n in os.listxattr(os.path.join(r, p))))
            """
            let listing = try Child.check(["/usr/bin/python3", "-c", script, out + "/rootfs"])
            #expect(listing == "data [('user.dir', 'd1')]\ndata/file [('user.mime_type', 'text/plain')]\n", "\(listing)")
            var st = stat()
            #expect(lstat(out + "/rootfs/data/file", &st) == 0 && st.st_mode & 0o7777 == 0o444)
        }
    }

    @Test("--progress json: one JSON line per layer start and end and at the end, bytes reaching total")
    func progressJSON() async throws {
        try await withSandbox(args: ["/bin/true"]) { sb in
            let layout = sb.dir + "/image"
            var image = try ImageWriter(at: layout)
            var a = TarWriter(); a.add("a", .file(Data(count: 3 << 20)))
            var b = TarWriter(); b.add("b", .file(Data("b".utf8)))
            try image.addLayer(a.finished(), gzip: true)
            try image.addLayer(b.finished(), gzip: false)
            try image.finish(tag: "t", config: [:])
            let total = image.layers.reduce(0) { $0 + ($1["size"] as! Int) }
            let r = try await Self.unpack(sb, ["--progress", "json", layout, sb.dir + "/out"])
            #expect(r.status == 0, "\(r)")
            let events = r.stderr.split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
            #expect(events.count == r.stderr.split(separator: "\n").count, "every stderr line is JSON: \(r.stderr)")
            let phases = events.map { "\($0["phase"] as? String ?? "?")\($0["layer"] as? Int ?? -1)" }
            #expect(phases.first == "layer1" && phases.contains("layer-done1") && phases.contains("layer2") && phases.last == "done2", "\(phases)")
            #expect(events.allSatisfy { $0["layers"] as? Int == 2 && $0["total"] as? Int == total }, "\(events)")
            #expect(events.last?["bytes"] as? Int == total)
            let bytes = events.compactMap { $0["bytes"] as? Int }
            #expect(bytes == bytes.sorted(), "bytes never go back: \(bytes)")
            let quiet = try await Self.unpack(sb, [layout, sb.dir + "/out2"])
            #expect(quiet.status == 0 && quiet.stderr.isEmpty, "not a terminal: no progress by default: \(quiet)")
        }
    }

    @Test("round trip: a multi-layer image unpacked by umoci --rootless and by ward gives the same tree",
          .enabled(if: umoci != nil, "umoci is not installed (scripts/install-deps installs it)"))
    func matchesUmoci() async throws {
        try await withSandbox(args: ["/bin/true"]) { sb in
            let layout = sb.dir + "/image"
            var image = try ImageWriter(at: layout)
            var l1 = TarWriter()
            for d in ["bin/", "etc/", "opt/", "opt/sub/", "keep/", "ro/"] { l1.add(d, .directory, mode: 0o755) }
            l1.add("bin/tool", .file(Data("#!/bin/sh\necho tool\n".utf8)), mode: 0o755)
            l1.add("bin/tool-hard", .hardlink("bin/tool"))
            l1.add("bin/tool-sym", .symlink("tool"))
            l1.add("etc/gone", .file(Data("gone\n".utf8)))
            l1.add("etc/dir-gone/", .directory, mode: 0o700)
            l1.add("etc/dir-gone/x", .file(Data("x".utf8)))
            l1.add("opt/old", .file(Data("old".utf8)))
            l1.add("opt/sub/deep", .file(Data("deep".utf8)))
            l1.add("keep/a", .file(Data("a".utf8)), mode: 0o600)
            l1.add("ro/file", .file(Data("ro".utf8)), mode: 0o444)
            l1.add("empty", .file(Data()), mode: 0o640)
            var l2 = TarWriter()
            l2.add("etc/.wh.gone", .file(Data()))
            l2.add("etc/.wh.dir-gone", .file(Data()))
            l2.add("opt/", .directory, mode: 0o711)
            l2.add("opt/.wh..wh..opq", .file(Data()))
            l2.add("opt/new", .file(Data("new\n".utf8)), mode: 0o640)
            l2.add("keep/a", .file(Data("replaced".utf8)), mode: 0o604)
            l2.add("bin/tool-sym", .symlink("/bin/tool"))
            l2.add("link-to-dir", .symlink("opt"))
            l2.add("dangling", .symlink("../../nowhere"))
            var l3 = TarWriter()
            l3.add("bin/.wh.tool-hard", .file(Data()))
            l3.add("etc/hosts", .file(Data("127.0.0.1 localhost\n".utf8)), mode: 0o644)
            l3.add("etc/hosts-link", .hardlink("etc/hosts"))
            l3.add("ro/", .directory, mode: 0o555)
            l3.add("big", .file(Data((0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })), mode: 0o600)
            try image.addLayer(l1.finished(), gzip: true)
            try image.addLayer(l2.finished(), gzip: false)
            try image.addLayer(l3.finished(), gzip: true)
            try image.finish(tag: "rt", config: ["Cmd": ["/bin/tool"]])
            try await sb.chownToUser(sb.dir)

            let umociOut = sb.dir + "/umoci-bundle"
            let u = try await Child(Self.asTestUser(sb, [Self.umoci!, "unpack", "--rootless", "--image", layout + ":rt", umociOut]),
                                    outputDirectory: sb.dir).wait(timeout: 60)
            try #require(u.status == 0, "umoci: \(u)")
            let r = try await Self.unpack(sb, [layout + ":rt", sb.dir + "/ward-bundle"])
            try #require(r.status == 0, "\(r)")
            let theirs = try Self.tree(umociOut + "/rootfs")
            let ours = try Self.tree(sb.dir + "/ward-bundle/rootfs")
            for key in Set(theirs.entries.keys).union(ours.entries.keys).sorted() where theirs.entries[key] != ours.entries[key] {
                Issue.record("\(key): umoci \(theirs.entries[key] ?? "absent"), ward \(ours.entries[key] ?? "absent")")
            }
            #expect(theirs.links == ours.links, "hardlink groups: umoci \(theirs.links), ward \(ours.links)")
            #expect(ours.entries["etc/hosts"] != nil && ours.entries["opt/new"] != nil && ours.entries["opt/old"] == nil)
        }
    }
}

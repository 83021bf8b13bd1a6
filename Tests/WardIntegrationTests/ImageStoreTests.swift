import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The image store and `ward run --image`: layers unpacked once by diffID, shared between
/// images, mounted as a rootless overlay; rm/prune and concurrent imports.
@Suite("ImageStore")
struct ImageStoreTests {
    static func ward(_ sb: Sandbox, _ args: [String]) async throws -> Child.Result {
        try await Child(sb.invocation(args, as: .testUser), outputDirectory: sb.dir).wait()
    }

    static func store(_ sb: Sandbox) -> String { sb.home + "/.local/share/ward" }

    static func entries(_ dir: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
    }

    /// busybox, then a layer with files to hide, then one with a whiteout, an opaque dir and a
    /// file of its own: the overlay must show exactly what a flattened unpack shows.
    static func makeImage(_ sb: Sandbox, at layout: String, tag: String = "v1", extra: String = "top") throws {
        var image = try ImageWriter(at: layout)
        try image.addLayer(try ImageWriter.tarDirectory(Harness.rootfsTemplate), gzip: true)
        var lower = TarWriter()
        lower.add("etc/remove-me", .file(Data("old\n".utf8)))
        lower.add("opaque/", .directory, mode: 0o755)
        lower.add("opaque/old", .file(Data("old\n".utf8)))
        lower.add("keepdir/a", .file(Data("a\n".utf8)))
        try image.addLayer(lower.finished(), gzip: false)
        var upper = TarWriter()
        upper.add("etc/.wh.remove-me", .file(Data()))
        upper.add("opaque/", .directory, mode: 0o755)
        upper.add("opaque/.wh..wh..opq", .file(Data()))
        upper.add("opaque/new", .file(Data("new\n".utf8)))
        upper.add("etc/msg", .file(Data("\(extra)\n".utf8)), mode: 0o640)
        try image.addLayer(upper.finished(), gzip: true)
        try image.finish(tag: tag, config: [
            "Entrypoint": ["/bin/sh", "-c"],
            "Cmd": ["cat /etc/msg; ls /opaque; test -e /etc/remove-me || echo removed; ls /keepdir; echo greeting=$GREETING"],
            "Env": ["GREETING=hi", "PATH=/bin:/usr/bin"],
        ])
    }

    @Test("run --image: an overlay of the store's layers, read-only, whiteouts honoured; the second run unpacks nothing")
    func runImage() async throws {
        try await withSandbox(args: ["/bin/true"]) { sb in
            let layout = sb.dir + "/image"
            try Self.makeImage(sb, at: layout)
            try await sb.chownToUser(sb.dir)
            let first = try await Self.ward(sb, ["--debug", "run", "--image", layout + ":v1", sb.id])
            #expect(first.status == 0, "\(first)")
            #expect(first.stdout == "top\nnew\nremoved\na\ngreeting=hi\n", "\(first)")
            #expect(first.stderr.contains("3 layer(s) unpacked, 0 reused"), "\(first)")
            let layers = Self.entries(Self.store(sb) + "/layers")
            #expect(layers.count == 3 && !layers.contains { $0.hasPrefix(".") }, "\(layers)")
            var before = stat()
            #expect(lstat(Self.store(sb) + "/layers/\(layers[0])/root", &before) == 0)

            // By the name the import gave it: nothing unpacked, the layer directories untouched.
            let second = try await Self.ward(sb, ["--debug", "run", "--image", "image:v1", sb.id + "-2"])
            #expect(second.status == 0 && second.stdout == first.stdout, "\(second)")
            #expect(!second.stderr.contains("layer(s) unpacked"), "\(second)")
            #expect(second.stderr.contains("3 layer(s) from the store, nothing unpacked"), "\(second)")
            var after = stat()
            #expect(lstat(Self.store(sb) + "/layers/\(layers[0])/root", &after) == 0)
            #expect(before.st_ino == after.st_ino && before.st_mtim.tv_nsec == after.st_mtim.tv_nsec)

            // The root is read-only (the default profile) and the layers are never written.
            let write = try await Self.ward(sb, ["run", "--image", "image:v1", sb.id + "-3", "--", "/bin/sh", "-c",
                                                 "touch /etc/msg 2>&1; echo x > /opaque/new 2>&1; grep ' / ' /proc/self/mountinfo"])
            #expect(write.stdout.contains("Read-only file system") && write.stdout.contains(" - overlay "), "\(write)")
            #expect(layers.contains { (try? String(contentsOfFile: Self.store(sb) + "/layers/\($0)/root/opaque/new", encoding: .utf8)) == "new\n" })

            // A writable root (the permissive profile) writes to the tmpfs upper only.
            let rw = try await Self.ward(sb, ["run", "--image", "image:v1", "--profile", "permissive", sb.id + "-4", "--",
                                              "/bin/sh", "-c", "echo changed > /etc/msg && cat /etc/msg && rm /keepdir/a && ls /keepdir | wc -l"])
            #expect(rw.status == 0 && rw.stdout == "changed\n0\n", "\(rw)")
            let again = try await Self.ward(sb, ["run", "--image", "image:v1", sb.id + "-5"])
            #expect(again.stdout == first.stdout, "a writable run changed the image: \(again)")
            let states = try await Self.ward(sb, ["list", "--quiet"])
            #expect(!states.stdout.contains(sb.id), "\(states)")
        }
    }

    @Test("images that share a base layer share its directory; list, rm and prune keep what others use")
    func sharedLayers() async throws {
        try await withSandbox(args: ["/bin/true"]) { sb in
            try Self.makeImage(sb, at: sb.dir + "/a", extra: "image a")
            try Self.makeImage(sb, at: sb.dir + "/b", extra: "image b")
            try await sb.chownToUser(sb.dir)
            let a = try await Self.ward(sb, ["image", "import", sb.dir + "/a:v1", "--name", "test/a"])
            #expect(a.status == 0 && a.stdout.contains("3 layer(s) unpacked"), "\(a)")
            let b = try await Self.ward(sb, ["image", "import", sb.dir + "/b:v1", "--name", "test/b:2"])
            #expect(b.status == 0 && b.stdout.contains("1 layer(s) unpacked") && b.stdout.contains("2 reused"), "\(b)")
            #expect(Self.entries(Self.store(sb) + "/layers").count == 4)
            let again = try await Self.ward(sb, ["image", "import", sb.dir + "/a:v1", "--name", "test/a"])
            #expect(again.status == 0 && again.stdout.contains("already stored"), "\(again)")

            let list = try await Self.ward(sb, ["image", "list", "--format", "json"])
            let items = try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]] ?? []
            #expect(Set(items.flatMap { $0["names"] as? [String] ?? [] }) == ["test/a:latest", "test/b:2"], "\(list)")
            let runB = try await Self.ward(sb, ["run", "--image", "test/b:2", sb.id])
            #expect(runB.stdout.hasPrefix("image b\n"), "\(runB)")

            // A second name: removing one only untags.
            #expect(try await Self.ward(sb, ["image", "import", sb.dir + "/a:v1", "--name", "test/a2"]).status == 0)
            let untag = try await Self.ward(sb, ["image", "rm", "test/a2"])
            #expect(untag.status == 0 && untag.stdout == "untagged test/a2\n", "\(untag)")
            #expect(Self.entries(Self.store(sb) + "/layers").count == 4)
            let rmA = try await Self.ward(sb, ["image", "rm", "test/a"])
            #expect(rmA.status == 0 && rmA.stdout.hasPrefix("removed "), "\(rmA)")
            #expect(Self.entries(Self.store(sb) + "/layers").count == 3, "a's own layer goes, the shared ones stay")
            let runB2 = try await Self.ward(sb, ["run", "--image", "test/b:2", sb.id + "-2"])
            #expect(runB2.status == 0 && runB2.stdout == runB.stdout, "\(runB2)")
            let missing = try await Self.ward(sb, ["run", "--image", "test/a", sb.id + "-3"])
            #expect(missing.status == 125 && missing.stderr.contains("no such image in the store"), "\(missing)")
            let rmB = try await Self.ward(sb, ["image", "rm", "test/b:2"])
            #expect(rmB.status == 0, "\(rmB)")
            #expect(Self.entries(Self.store(sb) + "/layers").isEmpty)
            #expect(Self.entries(Self.store(sb) + "/images").isEmpty)
            #expect(Self.entries(Self.store(sb) + "/names").isEmpty)
        }
    }

    @Test("two concurrent imports of one image both succeed and leave one copy of each layer")
    func concurrentImports() async throws {
        try await withSandbox(args: ["/bin/true"]) { sb in
            try Self.makeImage(sb, at: sb.dir + "/image")
            try await sb.chownToUser(sb.dir)
            let children = try (0..<4).map { _ in
                try Child(sb.invocation(["image", "import", sb.dir + "/image:v1"], as: .testUser), outputDirectory: sb.dir)
            }
            var results: [Child.Result] = []
            for c in children { results.append(await c.wait()) }
            for r in results { #expect(r.status == 0, "\(r)") }
            let layers = Self.entries(Self.store(sb) + "/layers")
            #expect(layers.count == 3, "\(layers)")
            #expect(Self.entries(Self.store(sb) + "/images").count == 1)
            let run = try await Self.ward(sb, ["run", "--image", "image:v1", sb.id])
            #expect(run.status == 0 && run.stdout.hasPrefix("top\n"), "\(run)")
        }
    }

    @Test("an image in use is not removed; prune clears unnamed images and crashed imports")
    func inUseAndPrune() async throws {
        try await withSandbox(args: ["/bin/true"]) { sb in
            try Self.makeImage(sb, at: sb.dir + "/image")
            try await sb.chownToUser(sb.dir)
            #expect(try await Self.ward(sb, ["image", "import", sb.dir + "/image:v1"]).status == 0)
            let running = try Child(sb.invocation(["run", "--image", "image:v1", sb.id, "--", "/bin/sh", "-c", "echo up; sleep 30"],
                                                  as: .testUser), outputDirectory: sb.dir)
            #expect(await running.waitForOutput("up"))
            let busy = try await Self.ward(sb, ["image", "rm", "image:v1"])
            #expect(busy.status == 125 && busy.stderr.contains("EBUSY") && busy.stderr.contains("--force"), "\(busy)")
            #expect(Self.entries(Self.store(sb) + "/layers").count == 3)
            running.signal(SIGKILL)  // the sandbox goes with it (parent-death signal)
            _ = await running.wait()

            // A detached container outlives its ward process: its state names the image.
            var sleeper = try ImageWriter(at: sb.dir + "/sleeper")
            try sleeper.addLayer(try ImageWriter.tarDirectory(Harness.rootfsTemplate), gzip: false)
            try sleeper.finish(tag: "v1", config: ["Cmd": ["/bin/sleep", "30"]])
            try await sb.chownToUser(sb.dir)
            let detached = try await Self.ward(sb, ["run", "-d", "--image", sb.dir + "/sleeper:v1", sb.id + "-d"])
            #expect(detached.status == 0, "\(detached)")
            let busyDetached = try await Self.ward(sb, ["image", "rm", "sleeper:v1"])
            #expect(busyDetached.status == 125 && busyDetached.stderr.contains("detached container (EBUSY"), "\(busyDetached)")
            #expect(try await Self.ward(sb, ["delete", "--force", sb.id + "-d"]).status == 0)
            let rmSleeper = try await Self.ward(sb, ["image", "rm", "sleeper:v1"])
            #expect(rmSleeper.status == 0, "\(rmSleeper)")

            // A crashed import's partial layer, and an image whose name moved away.
            let partial = Self.store(sb) + "/layers/.tmp-crashed"
            try FileManager.default.createDirectory(atPath: partial + "/root/etc", withIntermediateDirectories: true)
            try await sb.chownToUser(Self.store(sb))
            try Self.makeImage(sb, at: sb.dir + "/image2", extra: "second")
            try await sb.chownToUser(sb.dir)
            #expect(try await Self.ward(sb, ["image", "import", sb.dir + "/image2:v1", "--name", "image:v1"]).status == 0)
            let prune = try await Self.ward(sb, ["image", "prune"])
            #expect(prune.status == 0 && prune.stdout.contains("pruned 1 unnamed image(s), 1 layer(s)") && prune.stdout.contains("1 partial"), "\(prune)")
            #expect(!FileManager.default.fileExists(atPath: partial))
            #expect(Self.entries(Self.store(sb) + "/layers").count == 3)
            let run = try await Self.ward(sb, ["run", "--image", "image:v1", sb.id + "-2"])
            #expect(run.stdout.hasPrefix("second\n"), "\(run)")
        }
    }

    @Test("--subuid: files keep the image's owners (uid 33 is uid 33 in the sandbox), setuid stays where mapped; rm and unshare clean up")
    func subuidOwnership() async throws {
        try await withSandbox(args: ["/bin/true"]) { sb in
            var image = try ImageWriter(at: sb.dir + "/owned")
            try image.addLayer(try ImageWriter.tarDirectory(Harness.rootfsTemplate), gzip: true)
            var tar = TarWriter()
            tar.add("srv/www", .file(Data("w\n".utf8)), uid: 33, gid: 33)
            tar.add("bin/suid", .file(Data("s\n".utf8)), mode: 0o4755)
            tar.add("srv/far", .file(Data("f\n".utf8)), uid: 200_000, gid: 200_000)
            tar.add("var/www/", .directory, mode: 0o755, uid: 33, gid: 33)
            tar.add("var/www/index", .file(Data("i\n".utf8)), uid: 33, gid: 33)
            try image.addLayer(tar.finished(), gzip: false)
            try image.finish(tag: "v1", config: ["Cmd": ["/bin/sh", "-c", "stat -c '%u:%g %a %n' /srv/www /srv/far /bin/suid"]])
            try await sb.chownToUser(sb.dir)
            let expected = "33:33 644 /srv/www\n0:0 644 /srv/far\n0:0 4755 /bin/suid\n"

            let bundle = sb.dir + "/b"
            let unpack = try await Self.ward(sb, ["unpack", "--subuid", sb.dir + "/owned:v1", bundle])
            #expect(unpack.status == 0 && unpack.stderr.contains("1 entry owned by ids outside your subordinate range"), "\(unpack)")
            var st = stat()
            #expect(lstat(bundle + "/rootfs/srv/www", &st) == 0 && st.st_uid != sb.user.uid && st.st_uid != 33, "a subordinate id on the host")
            let run = try await Self.ward(sb, ["run", "--bundle", bundle, sb.id])
            #expect(run.status == 0 && run.stdout == expected, "\(run)")
            // Without --subuid every file is the caller's and setuid goes.
            let plain = try await Self.ward(sb, ["run", "--image", sb.dir + "/owned:v1", sb.id + "-p"])
            #expect(plain.stdout == "0:0 644 /srv/www\n0:0 644 /srv/far\n0:0 755 /bin/suid\n", "\(plain)")
            #expect(try await Self.ward(sb, ["image", "rm", "owned:v1"]).status == 0)

            let viaImage = try await Self.ward(sb, ["run", "--subuid", "--image", sb.dir + "/owned:v1", sb.id + "-2"])
            #expect(viaImage.status == 0 && viaImage.stdout == expected, "\(viaImage)")
            #expect(Self.entries(Self.store(sb) + "/layers").allSatisfy { $0.contains("-s") })
            let rm = try await Self.ward(sb, ["image", "rm", "owned:v1"])
            #expect(rm.status == 0, "\(rm)")
            #expect(Self.entries(Self.store(sb) + "/layers").isEmpty)

            // The caller can't empty a directory a subordinate id owns; `ward unshare` can.
            let direct = try await Child(["/usr/bin/setpriv", "--reuid=\(sb.user.name)", "--regid=\(sb.user.name)", "--init-groups",
                                          "/bin/rm", "-rf", bundle], outputDirectory: sb.dir).wait()
            #expect(direct.status != 0)
            let unshare = try await Self.ward(sb, ["unshare", "--", "/bin/rm", "-rf", bundle])
            #expect(unshare.status == 0 && !FileManager.default.fileExists(atPath: bundle), "\(unshare)")
        }
    }

    @Test("the hostile-layer corpus through image import: refused or harmless, nothing outside the store, no partial layer")
    func hostileImports() async throws {
        try await withSandbox(args: ["/bin/true"]) { sb in
            let sentinel = try ImageUnpackTests.makeSentinel(sb.dir)
            for (i, (label, entries, options, error)) in ImageUnpackTests.hostileCases(sentinel: sentinel).enumerated() {
                let layout = sb.dir + "/image-\(i)"
                try ImageUnpackTests.hostileImage(layout, label, entries)
                try await sb.chownToUser(sb.dir)
                let r = try await Self.ward(sb, ["image", "import", layout] + options)
                let layers = Self.entries(Self.store(sb) + "/layers")
                if let error {
                    #expect(r.status == 125 && r.stderr.contains(error), "\(label): \(r)")
                    #expect(layers.isEmpty, "\(label): left \(layers)")
                } else {
                    #expect(r.status == 0, "\(label): \(r)")
                    #expect(layers.count == 1 && FileManager.default.fileExists(atPath: "\(Self.store(sb))/layers/\(layers[0])/root/sentinel/abs"))
                }
                ImageUnpackTests.checkSentinel(sentinel, label)
            }
        }
    }

    @Test("a docker save archive through run --image: named by its RepoTag, a repeated layer stored once, whiteouts in order")
    func dockerArchive() async throws {
        try await withSandbox(args: ["/bin/true"]) { sb in
            let (base, top) = ImageInputTests.baseAndTop()
            let docker = sb.dir + "/saved.tar"
            try ArchiveWriter.dockerSave(layers: [base.finished(), top.finished(), base.finished()], config: ["Cmd": ["/bin/true"]],
                                         tags: ["docker.io/library/app:1.0"], to: docker)
            try await sb.chownToUser(sb.dir)
            let r = try await Self.ward(sb, ["--debug", "run", "--image", docker + ":app:1.0", sb.id, "--", "/bin/true"])
            // No busybox in this image: the exec fails with 127, but the rootfs was mounted.
            #expect(r.stderr.contains("2 layer(s) unpacked, 1 reused"), "\(r)")
            #expect(Self.entries(Self.store(sb) + "/layers").count == 2, "the repeated layer is stored once")
            let list = try await Self.ward(sb, ["image", "list"])
            #expect(list.stdout.contains("docker.io/library/app:1.0"), "\(list)")

            // `docker save | gzip` and `| zstd`: decompressed into a private file first, capped.
            _ = try Child.check(["/bin/sh", "-c", "gzip -c '\(docker)' > '\(docker).gz' && zstd -q -c '\(docker)' > '\(docker).zst'"])
            for compressed in [docker + ".gz", docker + ".zst"] {
                let out = compressed + "-bundle"
                let r = try await Self.ward(sb, ["unpack", compressed + ":app:1.0", out])
                #expect(r.status == 0 && FileManager.default.fileExists(atPath: out + "/rootfs/etc/base"), "\(compressed): \(r)")
            }
            _ = try Child.check(["/bin/sh", "-c", "head -c 3000000 /dev/zero | gzip -c > '\(sb.dir)/bomb.tar.gz'"])
            let bomb = try await Self.ward(sb, ["unpack", "--max-size", "1M", sb.dir + "/bomb.tar.gz", sb.dir + "/bomb-out"])
            #expect(bomb.status == 125 && bomb.stderr.contains("decompresses to more than the --max-size limit"), "\(bomb)")
            #expect(ImageUnpackTests.leftovers(sb.dir + "/bomb-out").isEmpty)
        }
    }

    @Test("a layer whose content does not have the diffID its config claims is never stored under that diffID")
    func diffIDPoisoning() async throws {
        try await withSandbox(args: ["/bin/true"]) { sb in
            try Self.makeImage(sb, at: sb.dir + "/good")
            var evil = try ImageWriter(at: sb.dir + "/evil")
            var layer = TarWriter()
            layer.add("etc/msg", .file(Data("poisoned\n".utf8)))
            try evil.addLayer(layer.finished(), gzip: false)
            // The evil config claims the good image's busybox layer's diffID for its own content.
            var probe = try ImageWriter(at: sb.dir + "/probe")
            try probe.addLayer(try ImageWriter.tarDirectory(Harness.rootfsTemplate), gzip: true)
            try evil.finish(tag: "v1", config: ["Cmd": ["/bin/true"]], diffIDs: [probe.diffIDs[0]])
            try await sb.chownToUser(sb.dir)
            let r = try await Self.ward(sb, ["image", "import", sb.dir + "/evil:v1"])
            #expect(r.status == 125 && r.stderr.contains("diffID"), "\(r)")
            #expect(Self.entries(Self.store(sb) + "/layers").isEmpty)
            let ok = try await Self.ward(sb, ["run", "--image", sb.dir + "/good:v1", sb.id])
            #expect(ok.status == 0 && ok.stdout.hasPrefix("top\n"), "\(ok)")
        }
    }

    @Test("a tar+zstd layer, unpacked with --profile strict and run from the store")
    func zstdAndProfile() async throws {
        try await withSandbox(args: ["/bin/true"]) { sb in
            var image = try ImageWriter(at: sb.dir + "/zst")
            try image.addZstdLayer(try ImageWriter.tarDirectory(Harness.rootfsTemplate))
            var top = TarWriter()
            top.add("etc/msg", .file(Data("zstd layer\n".utf8)))
            try image.addZstdLayer(top.finished())
            try image.finish(tag: "v1", config: ["Cmd": ["/bin/cat", "/etc/msg"]])
            try await sb.chownToUser(sb.dir)
            let unpack = try await Self.ward(sb, ["unpack", "--profile", "strict", sb.dir + "/zst:v1", sb.dir + "/b"])
            #expect(unpack.status == 0, "\(unpack)")
            let spec = try await Self.ward(sb, ["spec", "--profile", "strict", "-b", sb.dir, "--", "/bin/cat", "/etc/msg"])
            #expect(spec.status == 0, "\(spec)")
            let strict = try Config(contentsOf: sb.dir + "/config.json"), got = try Config(contentsOf: sb.dir + "/b/config.json")
            #expect(got["process.args"] as? [String] == ["/bin/cat", "/etc/msg"])
            let want = try JSONSerialization.data(withJSONObject: strict["linux.seccomp"] ?? [:], options: [.sortedKeys])
            let have = try JSONSerialization.data(withJSONObject: got["linux.seccomp"] ?? [:], options: [.sortedKeys])
            #expect(want == have, "config.json carries the strict profile's filter")
            let run = try await Self.ward(sb, ["run", "--bundle", sb.dir + "/b", sb.id])
            #expect(run.status == 0 && run.stdout == "zstd layer\n", "\(run)")
            let viaStore = try await Self.ward(sb, ["run", "--image", sb.dir + "/zst:v1", "--profile", "strict", sb.id + "-2"])
            #expect(viaStore.status == 0 && viaStore.stdout == "zstd layer\n", "\(viaStore)")
        }
    }

    @Test("compare --image runs the probe battery and the workload on the image's overlay")
    func compareImage() async throws {
        try await withSandbox(args: ["/bin/true"]) { sb in
            try Self.makeImage(sb, at: sb.dir + "/image")
            try await sb.chownToUser(sb.dir)
            let r = try await Self.ward(sb, ["compare", "--image", sb.dir + "/image:v1", "--profile", "default", "--profile", "strict",
                                             "--format", "json", "--", "/bin/cat", "/etc/msg"])
            #expect(r.status == 0, "\(r)")
            let report = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any] ?? [:]
            #expect(report["bundle"] as? String == "image image:v1", "\(report)")
            let profiles = report["profiles"] as? [[String: Any]] ?? []
            #expect(profiles.count == 2)
            for p in profiles {
                #expect((p["probes"] as? [Any])?.isEmpty == false, "\(p)")
                #expect((p["workload"] as? [String: Any])?["exitCode"] as? Int == 0, "\(p)")
            }
        }
    }

    @Test("bad --image input: a clear error, and no state, mount, store partial or write outside the store")
    func badInput() async throws {
        try await withSandbox(args: ["/bin/true"]) { sb in
            let sentinel = try ImageUnpackTests.makeSentinel(sb.dir)
            var image = try ImageWriter(at: sb.dir + "/hostile")
            var evil = TarWriter()
            evil.add("escape", .symlink("../../../../sentinel"))
            evil.add("escape/owned", .file(Data("x\n".utf8)))
            try image.addLayer(evil.finished(), gzip: false)
            try image.finish(tag: "v1", config: ["Cmd": ["/bin/true"]])
            try Self.makeImage(sb, at: sb.dir + "/good")
            try await sb.chownToUser(sb.dir)
            let cases: [([String], String)] = [
                (["run", "--image", "no-such-image", sb.id], "no such image in the store"),
                (["run", "--image", sb.dir + "/good:v1", "--bundle", sb.bundle, sb.id], "--image can't be combined with --bundle"),
                (["run", "--image", sb.dir + "/good:nope", sb.id], "no image tagged \"nope\""),
                (["run", "--image", sb.dir + "/hostile:v1", sb.id], "goes through a symlink"),
                (["image", "import", sb.dir + "/good:v1", "--name", String(repeating: "ab", count: 32)], "64 hex digits"),
                (["image", "rm", "never-imported"], "not in the store (ENOENT)"),
                (["image", "frobnicate"], "unknown subcommand"),
            ]
            for (args, message) in cases {
                let r = try await Self.ward(sb, args)
                #expect(r.status == 125 && r.stderr.contains(message), "\(args): \(r)")
            }
            ImageUnpackTests.checkSentinel(sentinel, "hostile layer through run --image")
            let layers = Self.entries(Self.store(sb) + "/layers")
            #expect(!layers.contains { $0.hasPrefix(".tmp-") }, "\(layers)")
            #expect(Self.entries(Self.store(sb) + "/mnt").isEmpty)

            // A store directory others can write is refused, not used.
            chmod(Self.store(sb), 0o777)
            let open = try await Self.ward(sb, ["image", "list"])
            #expect(open.status == 125 && open.stderr.contains("writable by others"), "\(open)")
            chmod(Self.store(sb), 0o700)
        }
    }
}

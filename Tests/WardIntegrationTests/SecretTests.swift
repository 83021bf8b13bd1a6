import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Host-mounted secrets (`--secret`, `--secret-env`): what the workload sees, that the bytes reach
/// nothing else (state, cache, bundle, output, argv, ward's environment), and that bad input is
/// refused before anything starts.
@Suite("Secrets")
struct SecretTests {
    /// Looks at /run/secrets/NAME from inside: key=value lines.
    static func probe(_ path: String = "/run/secrets/db") -> String {
        """
        f=\(path)
        echo "content=$(cat $f)"
        echo "stat=$(stat -c '%a %u %g' $f)"
        echo "me=$(id -u) $(id -g)"
        if (echo x > $f) 2>/dev/null; then echo write=allowed; else echo write=refused; fi
        if (echo x >> $f) 2>/dev/null; then echo append=allowed; else echo append=refused; fi
        if chmod 0755 $f 2>/dev/null; then echo chmod=allowed; else echo chmod=refused; fi
        if $f 2>/dev/null; then echo exec=allowed; else echo exec=refused; fi
        if (echo x > /run/secrets/new) 2>/dev/null; then echo create=allowed; else echo create=refused; fi
        if rm -f $f 2>/dev/null && [ ! -e $f ]; then echo remove=allowed; else echo remove=refused; fi
        awk -v p=$f '$5 == p { print "mountinfo=" $0 }' /proc/self/mountinfo
        awk '$5 == "/run/secrets" { print "dirinfo=" $0 }' /proc/self/mountinfo
        """
    }

    /// A mountinfo line: per-mount options, fs type, superblock options.
    struct MountInfo {
        var options: Set<String>
        var type: String
        var superOptions: Set<String>
        init?(_ line: String?) {
            guard let line else { return nil }
            let halves = line.components(separatedBy: " - ")
            let left = halves[0].split(separator: " "), right = halves.count > 1 ? halves[1].split(separator: " ") : []
            guard left.count > 5, right.count > 2 else { return nil }
            options = Set(left[5].split(separator: ",").map(String.init))
            type = String(right[0])
            superOptions = Set(right[2].split(separator: ",").map(String.init))
        }
        /// Memory-backed and never swapped: tmpfs with noswap, tmpfs on a host without swap (in a
        /// user namespace the kernel refuses noswap), or else ramfs.
        var unswappable: Bool {
            type == "ramfs" || (type == "tmpfs" && (superOptions.contains("noswap") || !hostHasSwap))
        }
        var hostHasSwap: Bool {
            ((try? String(contentsOfFile: "/proc/swaps", encoding: .utf8)) ?? "x\ny").split(separator: "\n").count > 1
        }
        /// A size cap on a tmpfs (ramfs has none).
        var sizeCapped: Bool { type == "ramfs" || superOptions.contains { $0.hasPrefix("size=") } }
        var hardened: Bool { options.isSuperset(of: ["ro", "nosuid", "nodev", "noexec"]) }
        var description: String { "\(type) \(options.sorted()) \(superOptions.sorted())" }
    }

    /// `bound`: the file is a bind mount of its own (a target outside /run/secrets).
    static func expectLockedDown(_ r: Child.Result, content: String, owner: String, mode: String = "400", bound: Bool = false,
                                 sourceLocation: SourceLocation = #_sourceLocation) {
        let kv = keyValues(r.stdout)
        #expect(r.status == 0, "\(r)", sourceLocation: sourceLocation)
        #expect(kv["content"] == content, "\(r)", sourceLocation: sourceLocation)
        #expect(kv["stat"] == "\(mode) \(owner)", "\(r)", sourceLocation: sourceLocation)
        for op in ["write", "append", "chmod", "exec", "create", "remove"] {
            #expect(kv[op] == "refused", "\(op): \(r)", sourceLocation: sourceLocation)
        }
        for key in bound ? ["mountinfo", "dirinfo"] : ["dirinfo"] {
            let m = MountInfo(kv[key])
            #expect(m?.hardened == true, "\(key) \(m?.description ?? "missing"): \(r)", sourceLocation: sourceLocation)
            #expect(m?.unswappable == true, "\(key) \(m?.description ?? "missing"): \(r)", sourceLocation: sourceLocation)
            #expect(m?.sizeCapped == true, "\(key) \(m?.description ?? "missing"): \(r)", sourceLocation: sourceLocation)
        }
    }

    @Test("--secret NAME: readable by the container's user, mode 0400, owned by it; can't be written, chmodded, executed or removed; ro,nosuid,nodev,noexec, never swapped")
    func defaultSecret() async throws {
        try await withSandbox(script: Self.probe()) { sb in
            let value = "s3cret-\(UUID().uuidString)"
            try await sb.addDefaultSecret("db", value)
            let r = try await sb.run(["--secret", "db"])
            Self.expectLockedDown(r, content: value, owner: "0 0")
            #expect(keyValues(r.stdout)["me"] == "0 0", "\(r)")
        }
    }

    @Test("create and run --detach mount secrets too: the detached container's files are there for exec")
    func detachedSecrets() async throws {
        try await withSandbox(script: "trap 'exit 0' TERM; while :; do sleep 0.1; done") { sb in
            let value = "detached-\(UUID().uuidString)"
            try await sb.addDefaultSecret("db", value)
            for verb in [["create"], ["run", "-d"]] {
                let id = "\(sb.id)-\(verb[0])"
                let made = try await sb.ward(verb + ["-b", sb.bundle, "--secret", "db", id])
                #expect(made.status == 0, "\(made)")
                if verb[0] == "create" { #expect(try await sb.ward(["start", id]).status == 0) }
                let read = try await sb.ward(["exec", id, "/bin/cat", "/run/secrets/db"])
                #expect(read.status == 0 && read.stdout == value, "\(read)")
                #expect(try await sb.ward(["delete", "--force", id]).status == 0)
            }
            #expect(sb.stateEntries().isEmpty)
        }
    }

    @Test("a non-root process.user owns its secrets (uid 1000 through newuidmap)",
          .enabled(if: Harness.userHasSubIDs, "the test user has no /etc/subuid and /etc/subgid ranges"))
    func nonRootUser() async throws {
        let user = Harness.user
        let sub = try #require(user.subIDRange("/etc/subuid"))
        let subg = try #require(user.subIDRange("/etc/subgid"))
        try await withSandbox(script: Self.probe("/run/secrets/api/token"), configure: {
            $0.mapWithSubIDs(of: user, sub: sub, subg: subg)
            $0["process.env"] = ["PATH=/bin", "HOME=/"]
        }) { sb in
            let path = try await sb.addSecretFile("token", "tok-\(UUID().uuidString)")
            let value = try String(contentsOfFile: path, encoding: .utf8)
            let r = try await sb.run(["--secret", "source=\(path),target=api/token"])
            Self.expectLockedDown(r, content: value, owner: "1000 1000")
            #expect(keyValues(r.stdout)["me"] == "1000 1000", "\(r)")
        }
    }

    @Test("uid=, gid=, mode= and an absolute target outside /run/secrets (bound read-only; the rootfs gets an empty mount point at most)")
    func absoluteTargetAndOwnership() async throws {
        try await withSandbox(script: Self.probe("/etc/app-key") + "\necho \"listing=$(ls /run/secrets | tr '\\n' ' ')\"") { sb in
            let path = try await sb.addSecretFile("app", "key-\(UUID().uuidString)")
            let value = try String(contentsOfFile: path, encoding: .utf8)
            let r = try await sb.run(["--secret", "source=\(path),target=/etc/app-key,uid=0,gid=0,mode=0440"])
            Self.expectLockedDown(r, content: value, owner: "0 0", mode: "440", bound: true)
            let mountPoint = sb.rootfs + "/etc/app-key"
            if FileManager.default.fileExists(atPath: mountPoint) {
                #expect(try Data(contentsOf: URL(fileURLWithPath: mountPoint)).isEmpty, "the mount point in the rootfs has content")
            }
        }
    }

    @Test("source=fd:N reads a pipe ward inherited (and stdin as fd:0); nothing of it on disk")
    func fromPipe() async throws {
        try await withSandbox(script: #"echo "p=$(cat /run/secrets/piped)"; echo "q=$(cat /run/secrets/stdin)"; ls /proc/self/fd | tr '\n' ' '"#) { sb in
            let value = "pipe-\(UUID().uuidString)"
            let fds = try makePipe(containing: value)
            defer { close(fds) }
            let r = try await sb.run(["--secret", "source=fd:5,target=piped", "--secret", "source=fd:0,target=stdin"],
                                     stdin: "from-stdin", extraFDs: [5: fds])
            let kv = keyValues(r.stdout)
            #expect(r.status == 0, "\(r)")
            #expect(kv["p"] == value, "\(r)")
            #expect(kv["q"] == "from-stdin", "\(r)")
        }
    }

    @Test("--secret-env VAR=NAME puts the secret in the workload's env, with one warning; a NAME not mounted comes from the secrets directory")
    func environment() async throws {
        let script = #"echo "db=$DB_PASSWORD"; echo "tok=$API_TOKEN"; if [ -e /run/secrets/tok ]; then echo tokfile=yes; else echo tokfile=no; fi"#
        try await withSandbox(script: script) { sb in
            let db = "db-\(UUID().uuidString)", tok = "tok-\(UUID().uuidString)"
            try await sb.addDefaultSecret("db", db)
            try await sb.addDefaultSecret("tok", tok)
            let r = try await sb.run(["--secret", "db", "--secret-env", "DB_PASSWORD=db", "--secret-env", "API_TOKEN=tok"])
            let kv = keyValues(r.stdout)
            #expect(r.status == 0, "\(r)")
            #expect(kv["db"] == db, "\(r)")
            #expect(kv["tok"] == tok, "\(r)")
            #expect(kv["tokfile"] == "no", "--secret-env alone must not mount: \(r)")
            let warnings = r.stderr.split(separator: "\n").filter { $0.contains("warning") }
            #expect(warnings.count == 1, "\(r)")
            #expect(warnings.first?.contains("/proc") == true && warnings.first?.contains("DB_PASSWORD") == true, "\(r)")
            #expect(!r.stderr.contains(db) && !r.stderr.contains(tok), "\(r)")
        }
    }

    @Test("root without a user namespace: tmpfs with noswap and a size cap (ramfs before Linux 6.4)",
          .enabled(if: Harness.isRoot, "needs root"))
    func rootTmpfsNoSwap() async throws {
        try await withSandbox(script: Self.probe(), configure: {
            $0.removeNamespace("user")
            $0["linux.uidMappings"] = nil
            $0["linux.gidMappings"] = nil
        }) { sb in
            let value = "root-\(UUID().uuidString)"
            let path = try await sb.addSecretFile("db", value)
            let r = try await sb.run(["--secret", "source=\(path),target=db"], as: .root)
            Self.expectLockedDown(r, content: value, owner: "0 0")
            let m = MountInfo(keyValues(r.stdout)["dirinfo"])
            if kernelAtLeast(6, 4) {
                #expect(m?.type == "tmpfs", "\(r)")
                #expect(m?.superOptions.contains("noswap") == true, "\(r)")
                #expect(m?.superOptions.contains(where: { $0.hasPrefix("size=") }) == true, "\(r)")
            } else {
                #expect(m?.type == "ramfs", "\(r)")
            }
        }
    }

    // MARK: - leaks

    enum Failure: String, CaseIterable, Sendable, CustomTestStringConvertible {
        /// The workload runs.
        case none
        /// A config mount through a symlink out of the rootfs fails in the child (secrets read).
        case configMountEscapes
        /// The secret's bind fails in the child after the secret was written on its filesystem.
        case secretBindFails
        var testDescription: String { rawValue }
    }

    @Test("leak scan: the secret's bytes are in no file of the state, cache or bundle, not in --debug output, not in any argv or ward's environment",
          arguments: Failure.allCases)
    func leakScan(_ failure: Failure) async throws {
        try await withSandbox(script: "cat /run/secrets/leak > /dev/null && echo READY && sleep 4") { sb in
            let fileMarker = "FILEMARK-\(UUID().uuidString)", pipeMarker = "PIPEMARK-\(UUID().uuidString)"
            try await sb.addDefaultSecret("leak", fileMarker)
            let hostDir = sb.dir + "/host-target"
            try FileManager.default.createDirectory(atPath: hostDir, withIntermediateDirectories: false)
            try await sb.chownToUser(hostDir)
            var options = ["--debug", "run", "--bundle", sb.bundle, "--secret", "leak", "--secret", "source=fd:6,target=/etc/piped"]
            switch failure {
            case .none: break
            case .configMountEscapes:
                try FileManager.default.createSymbolicLink(atPath: sb.rootfs + "/mnt", withDestinationPath: hostDir)
                try await sb.chownToUser(sb.rootfs + "/mnt")
                sb.config.edit("mounts") { $0.append(["destination": "/mnt", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev"]]) }
            case .secretBindFails:
                options += ["--secret", "source=\(sb.home)/.config/ward/secrets/leak,target=/proc/leak"]
            }
            try await sb.save()
            let bundleBefore = sb.bundleListing()
            let pipe = try makePipe(containing: pipeMarker)
            defer { close(pipe) }
            let runtime = try await sb.makeRuntimeDirectory()
            let ward = try Child(sb.secretInvocation(options + [sb.id], runtimeDirectory: runtime), extraFDs: [6: pipe], outputDirectory: sb.dir)
            let markers = [fileMarker, pipeMarker].map { Array($0.utf8) }

            if failure == .none {
                #expect(await ward.waitForOutput("READY"), "the workload never got going: \(ward.stderrSoFar)")
                // The state exists to be scanned. ward writes it right after clone, while the child
                // sets up; on a loaded machine the workload can get there first, so give it a moment.
                var stateFiles = scanTree(runtime, for: "")
                for _ in 0..<200 where stateFiles.isEmpty {
                    try await Task.sleep(for: .milliseconds(10))
                    stateFiles = scanTree(runtime, for: "")
                }
                #expect(!stateFiles.isEmpty, "ward kept no state under XDG_RUNTIME_DIR: the scan proves nothing")
                // While it runs: ward's argv and environment, every process's argv, state and list.
                let cmdline = readAll("/proc/\(ward.pid)/cmdline"), environ = readAll("/proc/\(ward.pid)/environ")
                #expect(String(decoding: cmdline, as: UTF8.self).contains("ward"), "not ward's /proc entry")
                for m in markers {
                    #expect(!contains(cmdline, m), "in ward's cmdline")
                    #expect(!contains(environ, m), "in ward's environ")
                }
                for pid in allPIDs() {
                    let argv = readAll("/proc/\(pid)/cmdline")
                    for m in markers { #expect(!contains(argv, m), "in the argv of pid \(pid)") }
                }
                for verb in [["state", sb.id], ["list"]] {
                    let c = try Child(sb.secretInvocation(verb, runtimeDirectory: runtime), outputDirectory: sb.dir)
                    let out = await c.wait(timeout: 10)
                    for m in markers {
                        #expect(!contains(Array((out.stdout + out.stderr).utf8), m), "in ward \(verb[0]) output: \(out)")
                    }
                }
                for m in [fileMarker, pipeMarker] { #expect(scanTree(runtime, for: m).isEmpty, "in the state directory while running") }
            }
            let r = await ward.wait(timeout: 30)
            switch failure {
            case .none: #expect(r.status == 0, "\(r)")
            case .configMountEscapes:
                #expect(r.status == 125, "\(r)")
                #expect(r.stderr.contains("EXDEV"), "\(r)")
                #expect(try FileManager.default.contentsOfDirectory(atPath: hostDir).isEmpty, "something was created in the host directory")
            case .secretBindFails:
                #expect(r.status == 125, "\(r)")
                #expect(r.stderr.contains("bind secret \"leak\" on /proc/leak"), "\(r)")
            }
            for m in [fileMarker, pipeMarker] {
                #expect(!(r.stdout + r.stderr).contains(m), "in ward's output: \(r)")
                for dir in [runtime, sb.cache, sb.bundle, hostDir] {
                    let hits = scanTree(dir, for: m)
                    #expect(hits.isEmpty, "in \(hits)")
                }
            }
            #expect(r.stderr.contains("ward: debug:"), "--debug printed nothing: \(r)")
            #expect(!scanTree(sb.home, for: fileMarker).isEmpty, "the scanner does not find the secret's own file")
            #expect(sb.bundleListing().subtracting(bundleBefore).allSatisfy { $0.hasPrefix("rootfs/etc/piped") || $0.hasPrefix("rootfs/run") },
                    "unexpected new files in the bundle: \(sb.bundleListing().subtracting(bundleBefore))")
        }
    }

    // MARK: - bad input

    enum Bad: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case missingFile, directory, fifo, symlinkToUnreadable, oversize, duplicateTarget, dotDotTarget, symlinkEscape
        case unknownKey, badMode, badUID, fdNotOpen

        var testDescription: String { rawValue }

        /// What stderr must say (beyond "ward: ").
        var fragments: [String] {
            switch self {
            case .missingFile: ["secret \"nope\"", "ENOENT"]
            case .directory: ["secret \"adir\"", "EISDIR", "regular file"]
            case .fifo: ["secret \"fifo\"", "FIFO", "regular file"]
            case .symlinkToUnreadable: ["secret \"link\"", "EACCES", "readable"]
            case .oversize: ["secret \"big\"", "EFBIG", "--secret-max-size"]
            case .duplicateTarget: ["secret \"db\"", "EEXIST", "target"]
            case .dotDotTarget: ["\"..\"", "EINVAL"]
            case .symlinkEscape: ["secret \"key\"", "EXDEV", "symlink"]
            case .unknownKey: ["unknown key \"colour\"", "EINVAL"]
            case .badMode: ["mode=4755", "EINVAL"]
            case .badUID: ["uid=-1", "EINVAL"]
            case .fdNotOpen: ["source fd:917", "EBADF"]
            }
        }

        /// Sets the case up; returns ward's secret flags.
        func prepare(_ sb: Sandbox, content: String) async throws -> [String]? {
            let fm = FileManager.default
            let good = try await sb.addSecretFile("good", content)
            switch self {
            case .missingFile:
                return ["--secret", "nope"]
            case .directory:
                try fm.createDirectory(atPath: sb.dir + "/adir", withIntermediateDirectories: false)
                try await sb.chownToUser(sb.dir + "/adir")
                return ["--secret", "source=\(sb.dir)/adir"]
            case .fifo:
                guard mkfifo(sb.dir + "/fifo", 0o600) == 0 else { throw TestFailure("mkfifo: errno \(errno)") }
                try await sb.chownToUser(sb.dir + "/fifo")
                return ["--secret", "source=\(sb.dir)/fifo"]
            case .symlinkToUnreadable:
                guard sb.user.switchUser else { return nil }  // needs a file the test user can't read
                try content.write(toFile: sb.dir + "/root-only", atomically: false, encoding: .utf8)
                chmod(sb.dir + "/root-only", 0)
                try fm.createSymbolicLink(atPath: sb.dir + "/link", withDestinationPath: sb.dir + "/root-only")
                return ["--secret", "source=\(sb.dir)/link"]
            case .oversize:
                let big = try await sb.addSecretFile("big", content + String(repeating: "x", count: 2048))
                return ["--secret-max-size", "1k", "--secret", "source=\(big)"]
            case .duplicateTarget:
                try await sb.addDefaultSecret("db", content)
                return ["--secret", "db", "--secret", "source=\(good),target=db"]
            case .dotDotTarget:
                return ["--secret", "source=\(good),target=/run/secrets/../../etc/passwd"]
            case .symlinkEscape:
                try fm.createSymbolicLink(atPath: sb.rootfs + "/etc/evil", withDestinationPath: sb.dir)
                try await sb.chownToUser(sb.rootfs + "/etc/evil")
                return ["--secret", "source=\(good),target=/etc/evil/key"]
            case .unknownKey:
                return ["--secret", "source=\(good),colour=red"]
            case .badMode:
                return ["--secret", "source=\(good),mode=4755"]
            case .badUID:
                return ["--secret", "source=\(good),uid=-1"]
            case .fdNotOpen:
                return ["--secret", "source=fd:917,target=x"]
            }
        }
    }

    @Test("bad secrets are refused before anything starts: one clear line, exit 125, nothing left behind", arguments: Bad.allCases)
    func refused(_ c: Bad) async throws {
        try await withSandbox(script: "echo SHOULD-NOT-RUN") { sb in
            let content = "BADMARK-\(UUID().uuidString)"
            guard let flags = try await c.prepare(sb, content: content) else { return }
            try await sb.save()
            let bundleBefore = sb.bundleListing()
            let r = try await sb.run(flags, saveConfig: false, timeout: 15)
            #expect(!r.timedOut, "ward blocked: \(r)")
            #expect(r.elapsed < 10, "\(r)")
            #expect(r.status == 125, "\(r)")
            #expect(r.stderr.hasPrefix("ward: "), "\(r)")
            #expect(r.stderr.split(separator: "\n").count == 1, "one line: \(r)")
            for f in c.fragments { #expect(r.stderr.contains(f), "missing \"\(f)\": \(r)") }
            #expect(!r.stderr.contains(content) && !r.stdout.contains(content), "secret content in the output: \(r)")
            #expect(!r.stdout.contains("SHOULD-NOT-RUN"), "\(r)")
            #expect(sb.bundleListing() == bundleBefore, "files added to or removed from the bundle")
            // (withSandbox checks that no process and no host mount is left.)
        }
    }
}

// MARK: - helpers

extension Sandbox {
    /// $HOME/.config/ward/secrets/NAME, the default for `--secret NAME`, owned by the test user, 0600.
    func addDefaultSecret(_ name: String, _ content: String) async throws {
        let dir = home + "/.config/ward/secrets"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try content.write(toFile: dir + "/" + name, atomically: false, encoding: .utf8)
        chmod(dir + "/" + name, 0o600)
        try await chownToUser(home)
    }

    /// DIR/secrets/NAME (outside the bundle), owned by the test user, 0600. Returns its path.
    func addSecretFile(_ name: String, _ content: String) async throws -> String {
        let dir = self.dir + "/secrets"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = dir + "/" + name
        try content.write(toFile: path, atomically: false, encoding: .utf8)
        chmod(path, 0o600)
        try await chownToUser(dir)
        return path
    }

    /// An XDG_RUNTIME_DIR for ward's state, owned by the test user, 0700.
    func makeRuntimeDirectory() async throws -> String {
        let path = dir + "/runtime"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        chmod(path, 0o700)
        try await chownToUser(path)
        return path
    }

    /// `invocation` with XDG_RUNTIME_DIR set (ward keeps its state there).
    func secretInvocation(_ args: [String], runtimeDirectory: String) -> [String] {
        var argv = invocation(args, as: .testUser)
        if let i = argv.firstIndex(of: "-i") { argv.insert("XDG_RUNTIME_DIR=\(runtimeDirectory)", at: i + 1) }
        return argv
    }
}

/// A pipe holding `content` with its write end closed; returns the read end (O_CLOEXEC here:
/// only the dup2 into a child makes it inheritable).
private func makePipe(containing content: String) throws -> Int32 {
    // pipe2(O_CLOEXEC), not pipe + fcntl: tests run in parallel, and a write end leaked into
    // another test's child would keep this pipe from ever reaching EOF. (Glibc's Swift module
    // does not declare pipe2: it needs _GNU_SOURCE.)
    typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32
    guard let sym = dlsym(nil, "pipe2") else { throw TestFailure("dlsym pipe2") }
    var fds: [Int32] = [-1, -1]
    guard unsafeBitCast(sym, to: Pipe2.self)(&fds, O_CLOEXEC) == 0 else { throw TestFailure("pipe2: errno \(errno)") }
    let bytes = Array(content.utf8)
    let n = write(fds[1], bytes, bytes.count)
    close(fds[1])
    guard n == bytes.count else { close(fds[0]); throw TestFailure("write to pipe: errno \(errno)") }
    return fds[0]
}


/// Regular files under `root` (not following symlinks) that contain `marker` (every one for "").
private func scanTree(_ root: String, for marker: String) -> [String] {
    let needle = Array(marker.utf8)
    var hits: [String] = []
    var st = stat()
    guard lstat(root, &st) == 0 else { return [] }
    for rel in FileManager.default.enumerator(atPath: root)?.allObjects.compactMap({ $0 as? String }) ?? [] {
        let path = root + "/" + rel
        guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { continue }
        if needle.isEmpty || contains(readAll(path), needle) { hits.append(path) }
    }
    return hits
}

private func allPIDs() -> [Int32] {
    ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }
}

private func kernelAtLeast(_ major: Int, _ minor: Int) -> Bool {
    var u = utsname()
    guard uname(&u) == 0 else { return false }
    let release = withUnsafeBytes(of: u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    let n = release.split(whereSeparator: { !$0.isNumber }).prefix(2).compactMap { Int($0) }
    return n.count == 2 && (n[0] > major || (n[0] == major && n[1] >= minor))
}

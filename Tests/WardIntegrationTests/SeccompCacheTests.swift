import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The compiled-filter cache under $XDG_CACHE_HOME/ward/seccomp: hits, permissions, and that a
/// damaged or swapped entry is rebuilt, never trusted.
@Suite("Seccomp filter cache")
struct SeccompCacheTests {
    static let script = #"grep '^Seccomp:' /proc/$$/status"#

    /// The cache key from `--debug` output ("... cached as KEY" or "cache hit KEY").
    static func key(_ stderr: String) -> String? {
        for marker in ["cached as ", "cache hit "] {
            if let range = stderr.range(of: marker) {
                let key = stderr[range.upperBound...].prefix { $0.isHexDigit }
                if key.count == 64 { return String(key) }
            }
        }
        return nil
    }

    static func mode(_ path: String) -> mode_t? {
        var st = stat()
        return lstat(path, &st) == 0 ? st.st_mode : nil
    }

    /// Runs with --debug and expects success with the workload in seccomp mode 2.
    static func debugRun(_ sb: Sandbox, sourceLocation: SourceLocation = #_sourceLocation) async throws -> Child.Result {
        let r = try await sb.run(["--debug"])
        #expect(r.status == 0, "\(r)", sourceLocation: sourceLocation)
        #expect(r.stdout.contains("Seccomp:\t2"), "\(r)", sourceLocation: sourceLocation)
        return r
    }

    @Test("first run compiles, second is a cache hit; the directory is 0700 and entries 0600")
    func hitAfterCompile() async throws {
        try await withSandbox(script: Self.script) { sb in
            let first = try await Self.debugRun(sb)
            #expect(first.stderr.contains("ward: debug: seccomp: compiled with libseccomp"), "\(first)")
            let second = try await Self.debugRun(sb)
            #expect(second.stderr.contains("ward: debug: seccomp: cache hit"), "\(second)")
            #expect(Self.key(first.stderr) != nil && Self.key(first.stderr) == Self.key(second.stderr))

            let dir = sb.cache + "/ward/seccomp"
            #expect(Self.mode(dir).map { $0 & 0o7777 } == 0o700, "cache dir mode")
            #expect(Self.mode(sb.cache + "/ward").map { $0 & 0o077 } == 0, "parent created private too")
            let entries = try FileManager.default.contentsOfDirectory(atPath: dir)
            #expect(entries.count == 1, "\(entries)")
            for e in entries {
                #expect(Self.mode(dir + "/" + e).map { $0 & 0o7777 } == 0o600, "\(e)")
                #expect(e.hasSuffix(".bpf"), "no temp file left: \(e)")
            }
        }
    }

    @Test("without --debug the cache is silent")
    func quietWithoutDebug() async throws {
        try await withSandbox(script: Self.script) { sb in
            let r = try await sb.run()
            #expect(r.status == 0, "\(r)")
            #expect(r.stderr.isEmpty, "\(r)")
        }
    }

    @Test("a corrupted entry is rebuilt", arguments: ["program", "hash", "magic", "truncated"])
    func corruptedEntryRebuilt(_ damage: String) async throws {
        try await withSandbox(script: Self.script) { sb in
            let first = try await Self.debugRun(sb)
            let key = try #require(Self.key(first.stderr), "\(first)")
            let path = sb.cache + "/ward/seccomp/\(key).bpf"
            let original = try Data(contentsOf: URL(fileURLWithPath: path))
            var bytes = [UInt8](original)
            switch damage {
            case "program": for i in (bytes.count - 16)..<bytes.count { bytes[i] ^= 0xff }  // last two instructions
            case "hash": bytes[8] ^= 0x01
            case "magic": bytes[0] = UInt8(ascii: "X")
            default: bytes.removeLast(8)
            }
            // Overwrite in place: owner and mode stay the test user's 0600.
            let fd = open(path, O_WRONLY | O_TRUNC)
            try #require(fd >= 0)
            _ = write(fd, bytes, bytes.count)
            close(fd)

            let second = try await Self.debugRun(sb)
            #expect(second.stderr.contains("seccomp: compiled with libseccomp"), "\(second)")
            #expect(!second.stderr.contains("cache hit"), "\(second)")
            let rebuilt = try Data(contentsOf: URL(fileURLWithPath: path))
            #expect(rebuilt == original, "the entry is rewritten whole")
            let third = try await Self.debugRun(sb)
            #expect(third.stderr.contains("cache hit"), "\(third)")
        }
    }

    @Test("an entry replaced by a symlink (to a valid copy) is not followed")
    func symlinkNotFollowed() async throws {
        try await withSandbox(script: Self.script) { sb in
            let first = try await Self.debugRun(sb)
            let key = try #require(Self.key(first.stderr), "\(first)")
            let dir = sb.cache + "/ward/seccomp"
            let path = dir + "/\(key).bpf"
            // A byte-for-byte valid entry, owned by the test user and 0600, but reached via a symlink.
            let target = sb.cache + "/elsewhere.bpf"
            try FileManager.default.moveItem(atPath: path, toPath: target)
            try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: target)
            try await sb.chownToUser(path)
            let targetBytes = try Data(contentsOf: URL(fileURLWithPath: target))

            let second = try await Self.debugRun(sb)
            #expect(second.stderr.contains("seccomp: compiled with libseccomp"), "\(second)")
            #expect(!second.stderr.contains("cache hit"), "\(second)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: target)) == targetBytes, "the symlink's target is untouched")
        }
    }

    @Test("an entry open to others (0644) is not trusted")
    func looseModeNotTrusted() async throws {
        try await withSandbox(script: Self.script) { sb in
            let first = try await Self.debugRun(sb)
            let key = try #require(Self.key(first.stderr), "\(first)")
            let path = sb.cache + "/ward/seccomp/\(key).bpf"
            chmod(path, 0o644)
            let second = try await Self.debugRun(sb)
            #expect(second.stderr.contains("seccomp: compiled with libseccomp"), "\(second)")
            #expect(Self.mode(path).map { $0 & 0o7777 } == 0o600, "rebuilt entry is 0600 again")
        }
    }

    @Test("a different filter gets a different entry")
    func keyDependsOnFilter() async throws {
        try await withSandbox(script: Self.script) { sb in
            let first = try await Self.debugRun(sb)
            sb.config.addSeccompRule(["names": ["reboot"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38])
            let second = try await Self.debugRun(sb)
            #expect(second.stderr.contains("compiled with libseccomp"), "\(second)")
            #expect(Self.key(first.stderr) != Self.key(second.stderr))
            let entries = try FileManager.default.contentsOfDirectory(atPath: sb.cache + "/ward/seccomp")
            #expect(entries.count == 2, "\(entries)")
        }
    }
}

import Foundation
import Testing
import WardKit

#if canImport(Glibc)
import Glibc
#endif

/// One busybox bundle for every WardKit test, made once: a 0755 directory under /tmp owned by the
/// unprivileged user ward runs as (`wardtest` when the tests run as root, through WardKit's
/// `.launcher` prefix with setpriv; else ourselves), with its own state root and seccomp cache.
enum Fixture {
    static let isRoot = geteuid() == 0

    static let repoRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    static let user = "wardtest"

    /// dir/ (0755, the test user): ward, bundle/, state/, home/, cache/
    static let dir: String = {
        var template = Array("/tmp/wardkit-tests.XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else { fatalError("mkdtemp: errno \(errno)") }
        let dir = String(cString: p)
        chmod(dir, 0o755)
        atexit { try? FileManager.default.removeItem(atPath: Fixture.dir) }
        return dir
    }()

    static var state: String { dir + "/state" }
    static var bundle: String { dir + "/bundle" }

    /// A copy of the built ward the test user can run.
    static let ward: String = {
        let built: String? = {
            if let env = ProcessInfo.processInfo.environment["WARD_BIN"], !env.isEmpty { return env }
            let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
            return [(exe as NSString).deletingLastPathComponent + "/ward", repoRoot + "/.build/debug/ward"]
                .first { FileManager.default.isExecutableFile(atPath: $0) }
        }()
        guard let built else { fatalError("ward binary not found: swift build first, or set WARD_BIN") }
        let dest = dir + "/ward"
        do { try FileManager.default.copyItem(atPath: built, toPath: dest) } catch { fatalError("copy ward: \(error)") }
        chmod(dest, 0o755)
        return dest
    }()

    /// Makes the bundle (scripts/make-busybox-rootfs + `ward spec` as the test user). Blocking,
    /// once: static lets are initialised exactly once even when tests race for them.
    static let ready: Bool = {
        _ = ward
        for sub in ["state", "home", "cache", "bundle"] { mkdir(dir + "/" + sub, 0o700) }
        chmod(bundle, 0o755)
        if isRoot {
            if getpwnam(user) == nil { _ = run(["/usr/sbin/useradd", "-m", "-s", "/bin/sh", user]) }
            precondition(getpwnam(user) != nil, "could not create the test user \(user)")
        }
        precondition(run([repoRoot + "/scripts/make-busybox-rootfs", bundle + "/rootfs"]) == 0, "make-busybox-rootfs failed")
        if isRoot { precondition(run(["/bin/chown", "-R", "\(user):\(user)", dir]) == 0, "chown failed") }
        precondition(run(asUser([ward, "spec", "-b", bundle, "--", "/bin/true"])) == 0, "ward spec failed")
        return true
    }()

    /// The prefix that runs a command as the test user with a clean environment.
    static var prefix: [String] {
        let env = ["/usr/bin/env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=\(dir)/home", "XDG_CACHE_HOME=\(dir)/cache", "LANG=C"]
        guard isRoot else { return env }
        return ["/usr/bin/setpriv", "--reuid=\(user)", "--regid=\(user)", "--init-groups", "--reset-env"] + env
    }

    static func asUser(_ argv: [String]) -> [String] { prefix + argv }

    /// The sandbox every test starts from.
    static func sandbox() -> Sandbox {
        precondition(ready)
        return Sandbox(bundle: bundle).wardBinary(ward).launcher(prefix).stateRoot(state)
    }

    /// Runs a setup command to the end; its exit status.
    @discardableResult
    static func run(_ argv: [String]) -> Int32 {
        var pid: pid_t = 0
        var cargv: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for p in cargv { free(p) } }
        guard posix_spawn(&pid, argv[0], nil, nil, &cargv, environ) == 0 else { return -1 }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    // MARK: - what a process leaves behind

    /// Our fds, as "N -> target".
    static func openFDs() -> Set<String> {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return Set(names.compactMap { name in
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + name) else { return nil }
            return "\(name) -> \(target)"
        })
    }

    /// "mountpoint fstype source" of every host mount.
    static func mounts() -> Set<String> {
        let text = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        return Set(text.split(separator: "\n").map { line in
            let halves = line.components(separatedBy: " - ")
            let left = halves[0].split(separator: " "), right = halves.count > 1 ? halves[1].split(separator: " ") : []
            return "\(left.count > 4 ? left[4] : "?") \(right.first ?? "?") \(right.dropFirst().first ?? "?")"
        })
    }

    /// Live processes whose environment or command line contains `needle`.
    static func processes(containing needle: String) -> [String] {
        let bytes = Array(needle.utf8)
        var found: [String] = []
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry), pid != getpid() else { continue }
            let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
            if status.isEmpty || status.contains("State:\tZ") { continue }
            for file in ["environ", "cmdline"] {
                let data = Array((try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/\(file)"))) ?? Data())
                if contains(data, bytes) {
                    found.append("pid \(pid): " + String(decoding: (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))) ?? Data(), as: UTF8.self)
                        .replacingOccurrences(of: "\0", with: " "))
                    break
                }
            }
        }
        return found
    }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, haystack.count >= needle.count else { return false }
        for i in 0...(haystack.count - needle.count) where haystack[i] == needle[0] {
            if haystack[i..<(i + needle.count)].elementsEqual(needle) { return true }
        }
        return false
    }

    /// Polls `check` until it returns an empty list or `seconds` pass; returns the last list.
    static func settle(_ seconds: Double = 5, _ check: () -> [String]) async -> [String] {
        let deadline = Date().addingTimeInterval(seconds)
        var left = check()
        while !left.isEmpty && Date() < deadline {
            try? await Task.sleep(for: .milliseconds(50))
            left = check()
        }
        return left
    }
}

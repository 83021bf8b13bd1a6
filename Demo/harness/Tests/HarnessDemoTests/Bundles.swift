import Foundation
import WardKit

#if canImport(Glibc)
import Glibc
#endif

/// The demo's bundle, made once per test run: a busybox rootfs (the repository's
/// scripts/make-busybox-rootfs) and two configs written by `ward spec`:
///
///   config.json  ward's hardened default
///   strict.json  the same, tightened: `socket` dropped from the seccomp allow-list (so it fails
///                with EPERM, the filter's default action) and RLIMIT_NPROC 8
///
/// The shipped `strict` profile does this kind of tightening by name (`Sandbox.profile("strict")`);
/// a config of your own is the way to state exactly the policy your tests need.
///
/// Sandboxes never run as root: when the tests do, ward runs as the user `warddemo` (created if
/// missing) through WardKit's `.launcher` prefix.
enum Bundles {
    /// Demo/harness/Tests/HarnessDemoTests/Bundles.swift -> the repository.
    static let repository: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<5 { url.deleteLastPathComponent() }
        return url.path
    }()

    static let user = ProcessInfo.processInfo.environment["WARD_DEMO_USER"] ?? "warddemo"
    static let asRoot = geteuid() == 0

    /// dir/ (0755): ward, bundle/{rootfs,config.json,strict.json}, state/, home/
    static let dir: String = {
        var template = Array("/tmp/ward-harness-demo.XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else { fatalError("mkdtemp failed") }
        let dir = String(cString: p)
        chmod(dir, 0o755)
        atexit { try? FileManager.default.removeItem(atPath: Bundles.dir) }
        return dir
    }()

    static var bundle: String { dir + "/bundle" }

    /// The ward under test: $WARD_BIN, else the repository's debug or release build, else PATH.
    static let ward: String = {
        let environment = ProcessInfo.processInfo.environment["WARD_BIN"].map { [$0] } ?? []
        let candidates = environment + [repository + "/.build/debug/ward", repository + "/.build/release/ward"]
        guard let built = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else { return "ward" }
        // A copy the demo user can reach (the checkout may sit under /root).
        let copy = dir + "/ward"
        try? FileManager.default.copyItem(atPath: built, toPath: copy)
        chmod(copy, 0o755)
        return copy
    }()

    /// Runs ward as the demo user when we are root; a clean environment either way.
    static var launcher: [String] {
        let env = ["/usr/bin/env", "-i", "PATH=/usr/bin:/bin", "HOME=\(dir)/home", "XDG_CACHE_HOME=\(dir)/home/.cache"]
        return asRoot ? ["/usr/bin/setpriv", "--reuid=\(user)", "--regid=\(user)", "--init-groups", "--reset-env"] + env : env
    }

    /// Builds everything once (static lets run exactly once, even from parallel tests).
    static let ready: Void = {
        for sub in ["bundle", "state", "home"] { mkdir(dir + "/" + sub, 0o755) }
        if asRoot && getpwnam(user) == nil { sh(["/usr/sbin/useradd", "-m", "-s", "/bin/sh", user]) }
        sh([repository + "/scripts/make-busybox-rootfs", bundle + "/rootfs"])
        if asRoot { sh(["/bin/chown", "-R", "\(user):\(user)", dir]) }
        sh(launcher + [ward, "spec", "--bundle", bundle, "--", "/bin/true"])
        // strict.json: config.json with socket(2) off the allow-list and at most 8 processes.
        var config = try! JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: bundle + "/config.json"))) as! [String: Any]
        var linux = config["linux"] as! [String: Any]
        var seccomp = linux["seccomp"] as! [String: Any]
        seccomp["syscalls"] = (seccomp["syscalls"] as! [[String: Any]]).map { rule in
            var rule = rule
            rule["names"] = (rule["names"] as! [String]).filter { $0 != "socket" }
            return rule
        }
        linux["seccomp"] = seccomp
        config["linux"] = linux
        var process = config["process"] as! [String: Any]
        process["rlimits"] = (process["rlimits"] as? [[String: Any]] ?? []).filter { $0["type"] as? String != "RLIMIT_NPROC" }
            + [["type": "RLIMIT_NPROC", "soft": 8, "hard": 8]]
        config["process"] = process
        let strict = bundle + "/strict.json"
        try! JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys]).write(to: URL(fileURLWithPath: strict))
        if asRoot { sh(["/bin/chown", "\(user):\(user)", strict]) }
    }()

    /// The default sandbox.
    static func sandbox() -> Sandbox {
        _ = ready
        return Sandbox(bundle: bundle).wardBinary(ward).launcher(launcher).stateRoot(dir + "/state").timeout(30)
    }

    /// The stricter variant: the same bundle with strict.json as its config.
    static func strictSandbox() -> Sandbox {
        sandbox().wardArguments(["--config", bundle + "/strict.json"])
    }

    /// Whether this ward has hardening profiles (`ward profile list` works).
    static let hasProfiles: Bool = {
        _ = ready
        return (try? run([ward, "profile", "list"])) == 0
    }()

    static func sh(_ argv: [String]) {
        guard let status = try? run(argv), status == 0 else { fatalError("\(argv.joined(separator: " ")) failed") }
    }

    static func run(_ argv: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: argv[0])
        process.arguments = Array(argv.dropFirst())
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }
}

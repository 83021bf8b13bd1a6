import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// One test's world: a temp directory owned by the test user holding an OCI bundle (busybox
/// rootfs + the config `ward spec` writes, as `config`), a HOME and an XDG_CACHE_HOME, and a
/// token put in ward's environment (the workload's too) to find every process the test started.
///
///     dir/            0755, test user
///       bundle/config.json, bundle/rootfs/
///       home/  cache/
final class Sandbox {
    let dir: String
    let bundle: String
    let rootfs: String
    let home: String
    let cache: String
    let token: String
    let id: String
    let user = Harness.user
    var config = Config(json: [:])
    /// The host mount table when the sandbox was made.
    let mountsBefore: Set<String>

    /// - Parameter args: the workload (process.args), passed to `ward spec --`.
    init(_ args: [String]) async throws {
        let ward = Harness.ward  // copy it before anything else
        mountsBefore = Self.hostMounts()
        dir = Harness.makeTempDirectory(prefix: "ward-it")
        chmod(dir, 0o755)
        bundle = dir + "/bundle"
        rootfs = bundle + "/rootfs"
        home = dir + "/home"
        cache = dir + "/cache"
        token = UUID().uuidString
        id = "it-" + token.prefix(8).lowercased()
        do {
            for d in [bundle, home, cache] { try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: false) }
            chmod(cache, 0o700)
            try await Child.check(["/bin/cp", "-a", Harness.rootfsTemplate, rootfs], in: dir)
            try await chownToUser(dir)
            // `ward spec` as the test user: the config is for that user's uid/gid.
            try await Child.check(invocation(["spec", "-b", bundle, "--"] + args, as: .testUser, ward: ward), in: dir)
            config = try Config(contentsOf: bundle + "/config.json")
        } catch {
            try? FileManager.default.removeItem(atPath: dir)
            throw error
        }
    }

    /// The argv that runs `ward ARGS` as `invoker`, with a clean environment.
    func invocation(_ args: [String], as invoker: Invoker, ward: String = Harness.ward) -> [String] {
        // Root gets a cache of its own: ward rightly refuses a cache directory it does not own.
        let cacheHome = invoker == .root && user.switchUser ? dir + "/root-cache" : cache
        let env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=\(home)",
                   "XDG_CACHE_HOME=\(cacheHome)", tokenVariable, "LANG=C"]
        if invoker == .testUser && user.switchUser {
            return ["/usr/bin/setpriv", "--reuid=\(user.name)", "--regid=\(user.name)", "--init-groups", "--reset-env",
                    "/usr/bin/env", "-i"] + env + [ward] + args
        }
        return ["/usr/bin/env", "-i"] + env + [ward] + args
    }

    /// Makes PATH (recursively) the test user's.
    func chownToUser(_ path: String) async throws {
        guard Harness.isRoot else { return }
        try await Child.check(["/bin/chown", "-hR", "\(user.uid):\(user.gid)", path], in: dir)
    }

    /// Writes `config` to bundle/config.json (owned by the test user). The token is added to
    /// process.env, so the leak checks find the workload's processes too.
    func save() async throws {
        var c = config
        if c["process"] != nil {
            var env = c["process.env"] as? [String] ?? []
            if !env.contains(tokenVariable) { env.append(tokenVariable) }
            c["process.env"] = env
        }
        try await writeConfigText(String(decoding: try c.data(), as: UTF8.self))
    }

    var tokenVariable: String { "WARD_TEST_TOKEN=\(token)" }

    func writeConfigText(_ text: String, to name: String = "config.json") async throws {
        let path = bundle + "/" + name
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        try await chownToUser(path)
    }

    /// Starts `ward run -b BUNDLE OPTIONS ID` (config saved first unless told not to).
    func start(_ options: [String] = [], as invoker: Invoker = .testUser, stdin: String? = nil,
               extraFDs: [Int32: Int32] = [:], saveConfig: Bool = true) async throws -> Child {
        if saveConfig { try await save() }
        return try Child(invocation(["run", "--bundle", bundle] + options + [id], as: invoker),
                         stdin: stdin, extraFDs: extraFDs, outputDirectory: dir)
    }

    /// Runs ward to the end, with a hard timeout.
    func run(_ options: [String] = [], as invoker: Invoker = .testUser, stdin: String? = nil,
             extraFDs: [Int32: Int32] = [:], saveConfig: Bool = true, timeout: TimeInterval = 30) async throws -> Child.Result {
        let child = try await start(options, as: invoker, stdin: stdin, extraFDs: extraFDs, saveConfig: saveConfig)
        return await child.wait(timeout: timeout)
    }

    // MARK: - leak checks

    /// Processes (other than ours) whose environment holds this sandbox's token or whose command
    /// line names its directory: ward and everything the workload started.
    func processes() -> [String] {
        let needle = Array(tokenVariable.utf8)
        let dirBytes = Array(dir.utf8)
        var found: [String] = []
        let me = getpid()
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry), pid != me else { continue }
            let environ = readAll("/proc/\(pid)/environ")
            let cmdline = readAll("/proc/\(pid)/cmdline")
            guard contains(environ, needle) || contains(cmdline, dirBytes) else { continue }
            let status = String(decoding: readAll("/proc/\(pid)/status"), as: UTF8.self)
            if status.contains("State:\tZ") { continue }  // exited, only not yet reaped
            let args = cmdline.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }.joined(separator: " ")
            let uid = status.split(separator: "\n").first { $0.hasPrefix("Uid:") }.map { squeeze(String($0)) } ?? "?"
            found.append("pid \(pid) [\(uid)]: \(args)")
        }
        return found
    }

    /// Waits up to `timeout` for every process of this sandbox to be gone; returns the rest.
    func waitForNoProcesses(timeout: TimeInterval = 5) async -> [String] {
        let deadline = Date().addingTimeInterval(timeout)
        var left = processes()
        while !left.isEmpty && Date() < deadline {
            try? await Task.sleep(for: .milliseconds(50))
            left = processes()
        }
        return left
    }

    /// Mounts in the host's table that were not there when the sandbox was made, and any
    /// mount under the sandbox's directory.
    func newMounts() -> [String] {
        let now = Self.hostMounts()
        return now.subtracting(mountsBefore).union(now.filter { $0.contains(dir) }).sorted()
    }

    /// "mountpoint fstype source" for each line of our (the host's) mountinfo.
    static func hostMounts() -> Set<String> {
        let text = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        var result = Set<String>()
        for line in text.split(separator: "\n") {
            let parts = line.components(separatedBy: " - ")
            let left = parts[0].split(separator: " "), right = parts.count > 1 ? parts[1].split(separator: " ") : []
            guard left.count > 4 else { continue }
            result.insert("\(left[4]) \(right.first ?? "?") \(right.dropFirst().first ?? "?")")
        }
        return result
    }

    /// Every path under the bundle (relative), to show nothing was added or removed.
    func bundleListing() -> Set<String> {
        Set(FileManager.default.enumerator(atPath: bundle)?.allObjects.compactMap { $0 as? String } ?? [])
    }

    /// Kills whatever is left (so one failure does not spill into other tests) and removes the dir.
    func remove() {
        for p in processes() {
            if let pid = Int32(p.dropFirst(4).prefix { $0 != " " }) { kill(pid, SIGKILL) }
        }
        try? FileManager.default.removeItem(atPath: dir)
    }

}

/// Makes a sandbox for a `/bin/sh -c SCRIPT` workload (or `args`), lets `configure` state the
/// test's difference from the `ward spec` config, runs the body, then checks that nothing is
/// left behind (no process of the test, no new host mount) and removes it all.
func withSandbox(script: String? = nil, args: [String]? = nil,
                 configure: (inout Config) throws -> Void = { _ in },
                 sourceLocation: SourceLocation = #_sourceLocation,
                 _ body: (Sandbox) async throws -> Void) async throws {
    let sandbox = try await Sandbox(args ?? ["/bin/sh", "-c", script ?? "true"])
    do {
        try configure(&sandbox.config)
        try await body(sandbox)
    } catch {
        sandbox.remove()
        throw error
    }
    let left = await sandbox.waitForNoProcesses()
    #expect(left.isEmpty, "processes left behind:\n\(left.joined(separator: "\n"))", sourceLocation: sourceLocation)
    let mounts = sandbox.newMounts()
    #expect(mounts.isEmpty, "new host mounts:\n\(mounts.joined(separator: "\n"))", sourceLocation: sourceLocation)
    sandbox.remove()
}

/// Runs SCRIPT in a sandbox configured by `configure`, expects exit 0 and returns the result.
@discardableResult
func runScript(_ script: String, options: [String] = [], as invoker: Invoker = .testUser,
               sourceLocation: SourceLocation = #_sourceLocation,
               configure: (inout Config) throws -> Void = { _ in }) async throws -> Child.Result {
    var result: Child.Result?
    try await withSandbox(script: script, configure: configure, sourceLocation: sourceLocation) { sb in
        result = try await sb.run(options, as: invoker)
    }
    let r = try #require(result, sourceLocation: sourceLocation)
    #expect(r.status == 0, "\(r)", sourceLocation: sourceLocation)
    return r
}

/// A whole /proc (or any) file, without blocking on a FIFO; empty if it can't be read.
func readAll(_ path: String) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
    guard fd >= 0 else { return [] }
    defer { close(fd) }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = read(fd, &buf, buf.count)
        if n <= 0 { break }
        out += buf[0..<n]
    }
    return out
}

/// Whether `needle` occurs in `haystack` (an empty needle never does).
func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
    guard !needle.isEmpty, haystack.count >= needle.count else { return false }
    let first = needle[0]
    var i = 0
    while i <= haystack.count - needle.count {
        if haystack[i] == first && haystack[i..<(i + needle.count)].elementsEqual(needle) { return true }
        i += 1
    }
    return false
}

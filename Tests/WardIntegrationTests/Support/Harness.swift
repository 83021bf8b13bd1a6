import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Where things are, and who runs ward. Everything here is computed once per test process
/// (static lets are initialised exactly once, thread-safely, so parallel tests share them).
enum Harness {
    static let isRoot = geteuid() == 0

    /// The repository root, from this file's path (Tests/WardIntegrationTests/Support/Harness.swift).
    static let repoRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// `../shared` beside the repository (the bench script lives there), if present.
    static var sharedDirectory: String? {
        let path = (repoRoot as NSString).deletingLastPathComponent + "/shared"
        return FileManager.default.fileExists(atPath: path + "/bench/start-latency.sh") ? path : nil
    }

    /// The built `ward`: $WARD_BIN, else beside the test bundle (the same build directory), else
    /// .build/debug/ward. Resolved, not copied (see `ward`).
    static let builtWard: String? = {
        if let env = ProcessInfo.processInfo.environment["WARD_BIN"], !env.isEmpty {
            return FileManager.default.isExecutableFile(atPath: env) ? env : nil
        }
        var candidates: [String] = []
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            candidates.append((exe as NSString).deletingLastPathComponent + "/ward")
        }
        candidates.append(repoRoot + "/.build/debug/ward")
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    /// A 0755 directory under /tmp for files the unprivileged test user must reach (the repo and
    /// its .build may sit under /root). Removed when the test process exits.
    static let sharedTemp: String = {
        let dir = makeTempDirectory(prefix: "ward-it-shared")
        chmod(dir, 0o755)
        registerExitCleanup(dir)
        return dir
    }()

    /// A copy of ward in `sharedTemp`, 0755, runnable by the test user.
    static let ward: String = {
        guard let built = builtWard else {
            fatalError("ward binary not found: build it first (swift build --build-tests) or set WARD_BIN")
        }
        let dest = sharedTemp + "/ward"
        try? FileManager.default.removeItem(atPath: dest)
        do { try FileManager.default.copyItem(atPath: built, toPath: dest) } catch {
            fatalError("copy \(built) to \(dest): \(error)")
        }
        chmod(dest, 0o755)
        return dest
    }()

    /// A busybox rootfs made once with scripts/make-busybox-rootfs; each bundle gets a `cp -a`.
    static let rootfsTemplate: String = {
        let dir = sharedTemp + "/rootfs-template"
        do { try Child.check([repoRoot + "/scripts/make-busybox-rootfs", dir]) } catch {
            fatalError("scripts/make-busybox-rootfs: \(error)")
        }
        return dir
    }()

    /// The unprivileged user ward runs as: `wardtest` (created when we are root), else ourselves.
    static let user: TestUser = {
        guard isRoot else {
            let pw = getpwuid(geteuid())
            let name = pw.map { String(cString: $0.pointee.pw_name) } ?? String(geteuid())
            let home = pw.map { String(cString: $0.pointee.pw_dir) } ?? NSHomeDirectory()
            return TestUser(name: name, uid: geteuid(), gid: getegid(), home: home, switchUser: false)
        }
        do { return try TestUser.provision(name: "wardtest") } catch {
            fatalError("creating the test user: \(error)")
        }
    }()

    /// Whether the test user has /etc/subuid and /etc/subgid ranges (always, when we are root).
    static var userHasSubIDs: Bool {
        user.subIDRange("/etc/subuid") != nil && user.subIDRange("/etc/subgid") != nil
    }

    static func makeTempDirectory(prefix: String) -> String {
        var template = Array("/tmp/\(prefix).XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else { fatalError("mkdtemp: errno \(errno)") }
        return String(cString: p)
    }

    nonisolated(unsafe) static var exitCleanup: [String] = []
    static let cleanupLock = NSLock()
    static func registerExitCleanup(_ path: String) {
        cleanupLock.lock()
        defer { cleanupLock.unlock() }
        if exitCleanup.isEmpty {
            atexit {
                for path in Harness.exitCleanup { try? FileManager.default.removeItem(atPath: path) }
            }
        }
        exitCleanup.append(path)
    }
}

struct TestUser: Sendable {
    var name: String
    var uid: UInt32
    var gid: UInt32
    var home: String
    /// True when we are root and switch to this user with setpriv.
    var switchUser: Bool

    /// useradd -m NAME if missing, and /etc/subuid and /etc/subgid ranges if missing.
    static func provision(name: String) throws -> TestUser {
        if getpwnam(name) == nil {
            let r = try Child.runSync(["/usr/sbin/useradd", "-m", "-s", "/bin/sh", name])
            // 9: another test process created it meanwhile
            guard r.status == 0 || r.status == 9 else { throw TestFailure("useradd \(name): \(r)") }
        }
        guard let pw = getpwnam(name) else { throw TestFailure("user \(name) missing after useradd") }
        try addSubIDRange(file: "/etc/subuid", name: name)
        try addSubIDRange(file: "/etc/subgid", name: name)
        return TestUser(name: name, uid: pw.pointee.pw_uid, gid: pw.pointee.pw_gid,
                        home: String(cString: pw.pointee.pw_dir), switchUser: true)
    }

    /// Appends `name:START:65536` past every existing range (at least 300000), unless `name` has one.
    static func addSubIDRange(file: String, name: String) throws {
        let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
        let ranges = SubIDs.parse(text)
        if ranges.contains(where: { $0.name == name }) { return }
        let start = max(300_000, ranges.map { $0.start + $0.count }.max() ?? 0)
        let line = "\(name):\(start):65536\n"
        let fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw TestFailure("open \(file): errno \(errno)") }
        defer { close(fd) }
        let prefix = text.isEmpty || text.hasSuffix("\n") ? "" : "\n"
        let bytes = Array((prefix + line).utf8)
        guard write(fd, bytes, bytes.count) == bytes.count else { throw TestFailure("write \(file): errno \(errno)") }
    }

    /// The first subordinate range of this user in /etc/subuid or /etc/subgid.
    func subIDRange(_ file: String) -> (start: UInt32, count: UInt32)? {
        let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
        return SubIDs.parse(text).first { $0.name == name || $0.name == String(uid) }.map { ($0.start, $0.count) }
    }
}

enum SubIDs {
    static func parse(_ text: String) -> [(name: String, start: UInt32, count: UInt32)] {
        text.split(separator: "\n").compactMap { line in
            let f = line.split(separator: ":", omittingEmptySubsequences: false)
            guard f.count == 3, let s = UInt32(f[1]), let c = UInt32(f[2]) else { return nil }
            return (String(f[0]), s, c)
        }
    }
}

/// Who runs ward in a given call.
enum Invoker: Sendable {
    /// The unprivileged test user (wardtest when the tests run as root, else ourselves).
    case testUser
    /// Root itself (only when the tests run as root).
    case root
}

/// config.json as a dictionary: decode, let the test change only what it is about, write back.
struct Config {
    var json: [String: Any]

    init(json: [String: Any]) { self.json = json }

    init(contentsOf path: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw TestFailure("\(path): not a JSON object")
        }
        json = object
    }

    func data() throws -> Data {
        try JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    }

    /// A value by dotted path ("process.user.uid"); nil when absent.
    subscript(path: String) -> Any? {
        get {
            var current: Any? = json
            for key in path.split(separator: ".") {
                current = (current as? [String: Any])?[String(key)]
            }
            return current
        }
        set {
            let keys = path.split(separator: ".").map(String.init)
            json = Self.setting(json, keys[...], newValue)
        }
    }

    private static func setting(_ dict: [String: Any], _ keys: ArraySlice<String>, _ value: Any?) -> [String: Any] {
        var dict = dict
        guard let first = keys.first else { return dict }
        if keys.count == 1 {
            dict[first] = value
        } else {
            dict[first] = setting(dict[first] as? [String: Any] ?? [:], keys.dropFirst(), value)
        }
        return dict
    }

    /// Edits an array of objects in place ("mounts", "linux.namespaces", ...).
    mutating func edit(_ path: String, _ body: (inout [[String: Any]]) -> Void) {
        var list = self[path] as? [[String: Any]] ?? []
        body(&list)
        self[path] = list
    }

    mutating func removeNamespace(_ type: String) {
        edit("linux.namespaces") { $0.removeAll { $0["type"] as? String == type } }
    }

    mutating func removeMount(_ destination: String) {
        edit("mounts") { $0.removeAll { $0["destination"] as? String == destination } }
    }

    /// Sets all five capability sets (bounding, effective, permitted, inheritable, ambient).
    mutating func setCapabilities(_ caps: [String], inheritable: Bool = true, ambient: Bool = true) {
        self["process.capabilities"] = [
            "bounding": caps, "effective": caps, "permitted": caps,
            "inheritable": inheritable ? caps : [], "ambient": ambient ? caps : [],
        ]
    }

    /// Maps `user`'s own ids to 0 and its /etc/subuid and /etc/subgid ranges from 1 (newuidmap's
    /// multi-range case), with the process running as 1000:1000.
    mutating func mapWithSubIDs(of user: TestUser, sub: (start: UInt32, count: UInt32), subg: (start: UInt32, count: UInt32)) {
        self["linux.uidMappings"] = [["containerID": 0, "hostID": user.uid, "size": 1],
                                     ["containerID": 1, "hostID": sub.start, "size": sub.count]]
        self["linux.gidMappings"] = [["containerID": 0, "hostID": user.gid, "size": 1],
                                     ["containerID": 1, "hostID": subg.start, "size": subg.count]]
        self["process.user"] = ["uid": 1000, "gid": 1000]
    }

    mutating func addSeccompRule(_ rule: [String: Any]) {
        edit("linux.seccomp.syscalls") { $0.append(rule) }
    }
}

/// "key=value" lines of a workload's stdout.
func keyValues(_ text: String) -> [String: String] {
    var result: [String: String] = [:]
    for line in text.split(separator: "\n") {
        guard let eq = line.firstIndex(of: "=") else { continue }
        result[String(line[..<eq]).trimmingCharacters(in: .whitespaces)] =
            String(line[line.index(after: eq)...]).trimmingCharacters(in: .whitespaces)
    }
    return result
}

/// Collapses runs of blanks: "         0       1002          1" -> "0 1002 1".
func squeeze(_ s: String) -> String {
    s.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
}

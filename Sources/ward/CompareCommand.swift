import CWardShim
import WardPlan
import WardProbe
import WardRuntime
import WardSpec
import WardSystem

#if canImport(Glibc)
import Glibc
#endif

/// `ward __probe` (hidden): the attack-probe battery (Sources/WardProbe), run inside a sandbox.
func probeMain() -> Int32 {
    print(ProbeBattery.runAll().prettyJSONText, terminator: "")
    return 0
}

/// `ward compare --profile A --profile B ... --bundle DIR [-- WORKLOAD...]`: the probe battery once
/// per profile, as a `ward run` of the bundle whose process is a sealed memfd copy of this ward
/// binary, and the workload (if given) under each profile. Report: CompareReport.swift.
let compareCommand = Command(
    spec: CommandSpec(
        name: "compare",
        abstract: "Run the attack-probe battery under each profile and compare them (table, json, markdown, html).",
        options: [
            OptionSpec(names: ["--bundle", "-b"], value: "DIR", help: "The bundle to run (default: the current directory)."),
            OptionSpec(names: ["--image"], value: "REF", help: "Run an image from the store (or an OCI layout, imported first) instead of a bundle."),
            OptionSpec(names: ["--profile", "-p"], value: "NAME|FILE",
                       help: "A profile (shipped name or file), or a Docker/Podman seccomp file. Repeatable.", repeatable: true),
            OptionSpec(names: ["--seccomp-profile"], value: "FILE",
                       help: "A Docker/Podman seccomp file as a profile: 'default' with that filter. Repeatable.", repeatable: true),
            OptionSpec(names: ["--format"], value: "text|json|markdown|html", help: "Output format (default text; json: docs/compare-schema.json)."),
            OptionSpec(names: ["--timeout"], value: "DURATION", help: "Per run (default 2m)."),
        ],
        trailing: "WORKLOAD"),
    run: { args, context throws(WardError) in
        let format = args.value("--format") ?? "text"
        guard ["text", "json", "markdown", "html"].contains(format) else {
            throw WardError("compare: --format \"\(format)\": expected text, json, markdown or html")
        }
        let timeout = args.value("--timeout") ?? "2m"
        guard Duration.parse(timeout) != nil else { throw WardError("compare: --timeout \"\(timeout)\": expected a duration such as 90s or 2m") }
        var references = args.all("--profile").map { CompareTarget(reference: $0, seccompFile: false) }
        references += args.all("--seccomp-profile").map { CompareTarget(reference: $0, seccompFile: true) }
        guard !references.isEmpty else { throw WardError("compare: give at least one --profile (e.g. --profile default --profile strict)") }
        // What every run gets: the bundle, or the image (resolved, and imported, once here).
        let source: [String], subject: String
        if let image = args.value("--image") {
            guard args.value("--bundle") == nil else { throw WardError("compare: --image can't be combined with --bundle (EINVAL)") }
            let stored = try ImageFlags.resolve(image, args, context)
            source = ["--image", stored.id]
            subject = "image \(stored.names.first ?? String(stored.id.prefix(12)))"
        } else {
            let bundle = args.value("--bundle") ?? "."
            guard let real = realpath(bundle, nil) else { throw WardError("compare: bundle \(bundle): \(ErrnoName.of(errno))") }
            subject = String(cString: real)
            free(real)
            source = ["--bundle", subject]
        }
        let workload = args.trailing
        let runner = try CompareRunner(source: source, timeout: timeout, root: context.global.value("--root"), log: context.log)
        defer { runner.cleanup() }
        var runs: [ProfileRun] = []
        for (i, target) in references.enumerated() {
            var run = try runner.prepare(target)
            context.log.debug("compare: probing profile \(run.name)")
            runner.probe(&run, index: i)
            if !workload.isEmpty { runner.workload(&run, args: workload, index: i) }
            runs.append(run)
        }
        let report = CompareReport(bundle: subject, workload: workload, runs: runs)
        switch format {
        case "json": print(report.json.prettyJSONText, terminator: "")
        case "markdown": print(report.markdown, terminator: "")
        case "html": print(report.html, terminator: "")
        default: print(report.text(colour: isatty(1) == 1), terminator: "")
        }
        return runs.allSatisfy { $0.error == nil } ? 0 : 1
    })

struct CompareTarget {
    var reference: String
    var seccompFile: Bool
}

/// One profile's column: where it came from, the battery's records and the workload's status.
struct ProfileRun {
    var name: String
    var reference: String
    /// builtin | profile-file | seccomp-file
    var source: String
    /// What `ward run --profile` gets (a generated wrapper for a bare seccomp file).
    var profileArgument: String
    var probes: [ProbeRecord] = []
    var kernel: String?
    var error: String?
    var workloadExit: Int32?
    var workloadSignal: Int32?
    var workloadError: String?

    var blocked: Int { probes.filter { $0.result == .blocked }.count }
    var applicable: Int { probes.filter { $0.result != .notApplicable }.count }
}

final class CompareRunner {
    /// `--bundle DIR` or `--image ID`, for every `ward run`.
    let source: [String]
    let timeout: String
    let root: String?
    let log: Log
    /// The sealed memfd copy of this binary that the sandboxes run as their process.
    let sealedFD: Int32
    var tempDir: String?

    init(source: [String], timeout: String, root: String?, log: Log) throws(WardError) {
        self.source = source; self.timeout = timeout; self.root = root; self.log = log
        let fd = ward_sealed_copy("/proc/self/exe")
        guard fd >= 0 else { throw WardError("compare: sealed copy of /proc/self/exe: \(ErrnoName.of(-fd))") }
        // Above 3: posix_spawn's dup2 onto fd 3 must really copy it (dup2 of 3 onto 3 would keep
        // FD_CLOEXEC and the sandbox would find no fd 3).
        sealedFD = fcntl(fd, F_DUPFD_CLOEXEC, 10)
        close(fd)
        guard sealedFD >= 0 else { throw WardError("compare: dup: \(ErrnoName.of(errno))") }
        log.debug("compare: probe binary is memfd \(fd), seals \(ward_probe_seals(fd))")
    }

    func cleanup() {
        close(sealedFD)
        if let tempDir { Sys.removeFlatDirectory(tempDir) }
    }

    /// Resolves a reference to a profile `ward run` loads; a bare Docker/Podman seccomp file becomes
    /// a generated profile: `default` with that file as its seccompFile.
    func prepare(_ target: CompareTarget) throws(WardError) -> ProfileRun {
        var isSeccomp = target.seccompFile
        if !isSeccomp && ProfileLoader.isPath(target.reference) {
            if let bytes = try? Sys.readFile(target.reference, limit: 16 << 20),
               let tree = try? JSONFile.parse(bytes, file: target.reference), tree["defaultAction"] != nil {
                isSeccomp = true
            }
        }
        guard isSeccomp else {
            let profile = try ProfileLoader.load(target.reference)
            return ProfileRun(name: profile.name, reference: target.reference,
                              source: ProfileLoader.isPath(target.reference) ? "profile-file" : "builtin", profileArgument: target.reference)
        }
        guard let real = realpath(target.reference, nil) else {
            throw WardError("compare: seccomp file \(target.reference): \(ErrnoName.of(errno))")
        }
        let path = String(cString: real)
        free(real)
        var base = String(path.split(separator: "/").last ?? "seccomp")
        if base.hasSuffix(".json") { base = String(base.dropLast(5)) }
        let name = String(base.map { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) ? $0 : "-" })
        guard let defaultText = BuiltinProfiles.files["default.json"],
              case .object(var object) = try? JSONFile.parse(Array(defaultText.utf8), file: "default.json") else {
            throw WardError("compare: the shipped default profile is missing")
        }
        object["name"] = .string(name)
        object["description"] = .string("default with the seccomp file \(path)")
        object["seccomp"] = nil
        object["seccompFile"] = .string(path)
        let dir = try temporaryDirectory()
        let file = "\(dir)/\(name).profile.json"
        let text = JSONValue.object(object).prettyJSONText
        let fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0, Sys.writeAll(fd: fd, text) else { throw WardError("compare: write \(file): \(ErrnoName.of(errno))") }
        close(fd)
        _ = try ProfileLoader.load(file)  // refuse a bad seccomp file now, with its own message
        return ProfileRun(name: name, reference: target.reference, source: "seccomp-file", profileArgument: file)
    }

    func temporaryDirectory() throws(WardError) -> String {
        if let tempDir { return tempDir }
        var template = Array("/tmp/ward-compare.XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else { throw WardError("compare: mkdtemp: \(ErrnoName.of(errno))") }
        tempDir = String(cString: p)
        return tempDir!
    }

    /// A dynamically linked ward (a debug build) needs its loader and shared libraries in the
    /// sandbox: the directories of every shared object this process has mapped, bound read-only
    /// at the same paths, and the loader at /lib64. The static release build needs none.
    lazy var libraryMounts: [String] = {
        guard let maps = try? Sys.readFile("/proc/self/maps") else { return [] }
        var dirs: [String] = []
        var loader: String?
        for line in String(decoding: maps, as: UTF8.self).split(separator: "\n") {
            guard let slash = line.firstIndex(of: "/") else { continue }
            let path = String(line[slash...])
            let file = path.split(separator: "/").last.map(String.init) ?? ""
            guard file.contains(".so"), !path.contains(":"), !path.hasSuffix("(deleted)") else { continue }
            if file.hasPrefix("ld-linux") { loader = path }
            let dir = String(path[..<path.lastIndex(of: "/")!])
            if !dirs.contains(dir) { dirs.append(dir) }
        }
        guard let loader else { return [] }  // static: nothing to bring
        var args: [String] = []
        for dir in dirs { args += ["--mount", "\(dir):\(dir):ro"] }
        #if arch(x86_64)
        args += ["--mount", "\(loader):/lib64/ld-linux-x86-64.so.2:ro"]
        #elseif arch(arm64)
        args += ["--mount", "\(loader):/lib/ld-linux-aarch64.so.1:ro"]
        #endif
        return args
    }()

    func baseArguments() -> [String] {
        ["ward"] + (root.map { ["--root", $0] } ?? []) + (log.debugEnabled ? ["--debug"] : [])
    }

    /// The battery under `run`'s profile: the process is /proc/self/fd/3, the sealed memfd.
    func probe(_ run: inout ProfileRun, index: Int) {
        let id = "ward-compare-\(getpid())-\(index)-probe"
        let argv = baseArguments() + ["run"] + source + ["--profile", run.profileArgument, "--timeout", timeout,
                                      "--preserve-fds", "1"] + libraryMounts + [id, "--", "/proc/self/fd/3", "__probe"]
        let result = Self.spawn(argv, fd3: sealedFD)
        guard result.status == 0 else {
            run.error = "the probe run exited with \(result.status): \(result.stderr.trimmed)"
            return
        }
        guard let tree = try? JSONFile.parse(Array(result.stdout.utf8), file: "probe output"),
              case .array(let list)? = tree["probes"] else {
            run.error = "the probe printed no valid JSON: \(result.stdout.prefix(200))\(result.stderr.trimmed)"
            return
        }
        run.probes = list.compactMap(ProbeRecord.init(json:))
        if case .string(let k)? = tree["kernel"] { run.kernel = k }
    }

    func workload(_ run: inout ProfileRun, args: [String], index: Int) {
        let id = "ward-compare-\(getpid())-\(index)-workload"
        let argv = baseArguments() + ["run"] + source + ["--profile", run.profileArgument, "--timeout", timeout, id, "--"] + args
        let result = Self.spawn(argv, fd3: -1)
        run.workloadExit = result.status
        run.workloadSignal = result.signal
        if result.status != 0 { run.workloadError = String(result.stderr.trimmed.suffix(300)) }
    }

    struct SpawnResult { var status: Int32; var signal: Int32?; var stdout: String; var stderr: String }

    /// posix_spawn of this binary (/proc/self/exe) with stdout and stderr captured in memfds and
    /// `fd3` (when >= 0) as the child's fd 3.
    static func spawn(_ args: [String], fd3: Int32) -> SpawnResult {
        let out = ward_memfd("ward-compare-stdout"), err = ward_memfd("ward-compare-stderr")
        defer { close(out); close(err) }
        var argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, out, 1)
        posix_spawn_file_actions_adddup2(&actions, err, 2)
        if fd3 >= 0 { posix_spawn_file_actions_adddup2(&actions, fd3, 3) }
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attr, &empty)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK))
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, "/proc/self/exe", &actions, &attr, &argv, environ)
        guard rc == 0 else { return SpawnResult(status: 125, signal: nil, stdout: "", stderr: "posix_spawn: \(ErrnoName.of(rc))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let signaled = status & 0x7f != 0 && status & 0x7f != 0x7f
        let code = signaled ? 128 + (status & 0x7f) : (status >> 8) & 0xff
        return SpawnResult(status: code, signal: signaled ? status & 0x7f : nil, stdout: readAll(out), stderr: readAll(err))
    }

    static func readAll(_ fd: Int32) -> String {
        var bytes: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        var offset: off_t = 0
        while true {
            let n = pread(fd, &buf, buf.count, offset)
            if n <= 0 { break }
            bytes += buf[0..<n]
            offset += off_t(n)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension StringProtocol {
    var trimmed: String {
        var s = Substring(self)
        while let c = s.first, c.isWhitespace { s.removeFirst() }
        while let c = s.last, c.isWhitespace { s.removeLast() }
        return String(s)
    }
}

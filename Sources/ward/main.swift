import ArgumentParser
import WardPlan
import WardRuntime
import WardSystem

#if canImport(Glibc)
import Glibc
#endif

/// The CLI: argument parsing and output only. The work is in WardRuntime.
struct Ward: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ward",
        abstract: "A daemonless, rootless container sandbox launcher.",
        version: WardVersion.text,
        subcommands: [Run.self, SpecCommand.self])
}

struct GlobalOptions: ParsableArguments {
    @Flag(help: "Print what ward does, step by step, on stderr.")
    var debug = false
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a container from an OCI bundle and wait for it; exit with its status.")

    @OptionGroup var global: GlobalOptions

    @Option(name: [.customShort("b"), .long], help: "The bundle directory (holds config.json and the rootfs).")
    var bundle = "."

    @Option(name: [.customShort("f"), .long], help: "Use this config file instead of BUNDLE/config.json.")
    var config: String?

    @Option(help: "Kill the container after this long (90, 90s, 5m, 1h) and exit 124.")
    var timeout: String?

    @Flag(help: "Use MS_MOVE + chroot instead of pivot_root (for a rootfs on a ramfs).")
    var noPivot = false

    @Option(help: "Pass this many extra fds (3, 4, ...) to the workload.")
    var preserveFds = 0

    @Argument(help: "A name for the container (optional).")
    var id: String?

    func validate() throws {
        if let timeout, Duration.parse(timeout) == nil {
            throw ValidationError("--timeout \"\(timeout)\": expected a positive duration such as 90, 90s, 5m or 1h")
        }
        if preserveFds < 0 { throw ValidationError("--preserve-fds must be 0 or more") }
    }

    func run() throws {
        let log = Log(debug: global.debug)
        do {
            let bundleDirectory = try BundleDirectory.load(path: bundle, configPath: config)
            var request = RunRequest(bundle: bundleDirectory)
            request.options.noPivot = noPivot
            request.options.preserveFDs = preserveFds
            request.timeout = timeout.flatMap(Duration.parse)
            request.environment = Environment.current()
            let plan = try Launcher.plan(request)
            let outcome = try Launcher.run(plan, request: request, log: log)
            Glibc.exit(outcome.exitCode)
        } catch {
            Sys.stderr("ward: \(error.message)")
            Glibc.exit(error.exitCode)
        }
    }
}

struct SpecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spec",
        abstract: "Write a hardened starting config.json (user namespace, no network, read-only root, no capabilities, no_new_privs, seccomp allow-list).")

    @Option(name: [.customShort("b"), .long], help: "Write config.json into this directory.")
    var bundle = "."

    @Flag(help: "Write a config for a non-root caller (ward's config always is: this is accepted for runc compatibility).")
    var rootless = false

    @Argument(parsing: .postTerminator, help: "The process to run (default: sh).")
    var args: [String] = []

    func run() throws {
        let path = bundle + "/config.json"
        let text = DefaultConfig.json(uid: geteuid(), gid: getegid(), args: args.isEmpty ? ["sh"] : args)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            let e = errno
            Sys.stderr("ward: spec: \(path): \(ErrnoName.of(e))\(e == EEXIST ? "; remove it first, ward does not overwrite a config" : "")")
            Glibc.exit(125)
        }
        defer { close(fd) }
        guard Sys.writeAll(fd: fd, text) else {
            Sys.stderr("ward: spec: write \(path): \(ErrnoName.of(errno))")
            Glibc.exit(125)
        }
    }
}

enum WardVersion {
    static let version = "0.1.0"
    static let text = "ward version \(version)\nspec: 1.2.0"
}

enum Environment {
    static func current() -> [String: String] {
        var result: [String: String] = [:]
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            if let eq = s.firstIndex(of: "=") { result[String(s[..<eq])] = String(s[s.index(after: eq)...]) }
            p += 1
        }
        return result
    }
}

Ward.main()

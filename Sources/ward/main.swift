import CWardShim
import WardRuntime
import WardSpec
import WardSystem

#if canImport(Glibc)
import Glibc
#endif

/// The CLI: argument parsing and output only; the work is in WardRuntime. One file per verb.
struct Command: Sendable {
    var spec: CommandSpec
    var run: @Sendable (ParsedArguments, Context) throws(WardError) -> Int32
}

/// What every verb gets: the global options, the log, the environment.
struct Context {
    var global: ParsedArguments
    var log: Log
    var environment: [String: String]
    var store: StateStore
}

let globalOptions: [OptionSpec] = [
    OptionSpec(names: ["--root"], value: "DIR", help: "State directory (default $XDG_RUNTIME_DIR/ward, /run/ward for root)."),
    OptionSpec(names: ["--log"], value: "FILE", help: "Also write messages to FILE."),
    OptionSpec(names: ["--log-format"], value: "text|json", help: "Format of --log (json lines: level, msg, time)."),
    OptionSpec(names: ["--systemd-cgroup"], value: nil, help: "Accepted for runc compatibility; ward manages no cgroups."),
    OptionSpec(names: ["--cgroup-manager"], value: "MANAGER", help: "cgroupfs|systemd|disabled; accepted for crun compatibility, ward manages no cgroups."),
    OptionSpec(names: ["--rootless"], value: "true|false|auto", help: "Accepted for runc compatibility; ward detects it."),
    OptionSpec(names: ["--debug"], value: nil, help: "Print what ward does, step by step, on stderr."),
    OptionSpec(names: ["--version", "-v"], value: nil, help: "Print the version."),
    OptionSpec(names: ["--help", "-h"], value: nil, help: "Show this help."),
]

let commands: [Command] = [
    runCommand, createCommand, startCommand, stateCommand, killCommand, deleteCommand, execCommand,
    listCommand, psCommand, pauseCommand, resumeCommand, featuresCommand, specCommand, profileCommand, gcCommand,
    compareCommand, unpackCommand, imageCommand, unshareCommand,
]

func usage() -> String {
    var text = """
    Usage: ward [GLOBAL OPTIONS] COMMAND [OPTIONS] [ARGS]

    A daemonless, rootless container sandbox launcher.

    Commands:

    """
    for c in commands { text += "  \(c.spec.name.padded(10)) \(c.spec.abstract)\n" }
    text += "\nGlobal options:\n"
    for o in globalOptions { text += "  \((o.names.joined(separator: ", ") + (o.value.map { " \($0)" } ?? "")).padded(26)) \(o.help)\n" }
    return text + "\nRun 'ward COMMAND --help' for a command's options.\n"
}

func environment() -> [String: String] {
    var result: [String: String] = [:]
    var p = environ
    while let entry = p.pointee {
        let s = String(cString: entry)
        if let eq = s.firstIndex(of: "=") { result[String(s[..<eq])] = String(s[s.index(after: eq)...]) }
        p += 1
    }
    return result
}

func main() -> Int32 {
    Clock.markStart()
    // Hidden: the attack-probe battery, run inside a sandbox by `ward compare` (CompareCommand.swift).
    if CommandLine.arguments.count == 2 && CommandLine.arguments[1] == "__probe" { return probeMain() }
    var commandName = ""
    var arguments = CommandLine.arguments.dropFirst()
    // Hidden: ward re-exec'd inside a subuid-mapped user namespace (--subuid, `ward unshare`).
    if arguments.first == SubIDNamespace.marker {
        do throws(WardError) { try SubIDNamespace.enter() } catch { Sys.stderr("ward: \(error.message)"); return 125 }
        SubIDNamespace.inside = true
        arguments = arguments.dropFirst()
    }
    do throws(UsageError) {
        let (global, rest) = try ArgumentParser.parse(arguments, options: globalOptions,
                                                      positionalLimit: 0, stopAtPositional: true)
        if global.flag("--version") { print(WardVersion.text); return 0 }
        guard let name = rest.first else {
            if global.flag("--help") { print(usage(), terminator: ""); return 0 }
            Sys.stderr(usage())
            return 125
        }
        guard let command = commands.first(where: { $0.spec.name == name }) else {
            throw UsageError("unknown command \"\(name)\"; run 'ward --help' for the list")
        }
        commandName = name
        // --debug is accepted after the command too (`ward run --debug`), as runc does.
        let common = [OptionSpec(names: ["--help", "-h"], value: nil, help: "Show this help."),
                      OptionSpec(names: ["--debug"], value: nil, help: "Print what ward does on stderr.")]
        let (parsed, _) = try ArgumentParser.parse(rest.dropFirst(), options: command.spec.options + common,
                                                   positionalLimit: command.spec.positionals.count)
        if parsed.flag("--help") { print(ArgumentParser.help(for: command.spec), terminator: ""); return 0 }
        if let format = global.value("--log-format"), format != "text" && format != "json" {
            throw UsageError("--log-format \"\(format)\": expected text or json")
        }
        let log = Log(debug: global.flag("--debug") || parsed.flag("--debug"), file: global.value("--log"),
                      json: global.value("--log-format") == "json")
        let env = environment()
        let context = Context(global: global, log: log, environment: env,
                              store: StateStore(root: global.value("--root"), environment: env))
        do {
            return try command.run(parsed, context)
        } catch {
            log.error(error.message)
            return error.exitCode
        }
    } catch {
        let see = commandName.isEmpty ? "ward --help" : "ward \(commandName) --help"
        Sys.stderr("ward: \(commandName.isEmpty ? "" : commandName + ": ")\(error.message); see '\(see)'")
        return 125
    }
}

enum WardVersion {
    static let version = "0.1.0"
    /// The shape runc and crun print, which clients parse line by line.
    static var text: String { "ward version \(version)\ncommit: \(String(cString: ward_commit()))\nspec: \(Spec.currentVersion)" }
}

exit(main())

import WardPlan
import WardRuntime
import WardSpec
import WardSystem

#if canImport(Glibc)
import Glibc
#endif

/// The runc verbs that container engines call: create, start, state, kill, delete, list, ps.
func requireID(_ args: ParsedArguments, _ verb: String) throws(WardError) -> String {
    guard let id = args.positionals.first else { throw WardError("\(verb): missing container ID; usage: ward \(verb) ID") }
    try StateStore.validate(id: id)
    return id
}

let createCommand = Command(
    spec: CommandSpec(name: "create", abstract: "Create a container: namespaces and mounts ready, its process waiting for 'start'.",
                      options: bundleOptions + SecretFlags.options, positionals: [("ID", "The container's name.")]),
    run: { args, context throws(WardError) in
        let id = try requireID(args, "create")
        var request = try runRequest(args, context)
        let secrets = try SecretFlags.parse(args, environment: context.environment)
        try ProfileFlags.requireSecrets(request.profile, given: secrets.secrets.map(\.name))
        request.secrets = try SecretStore.load(secrets, bundle: request.bundle, preserveFDs: request.options.preserveFDs, log: context.log)
        var options = Lifecycle.CreateOptions(id: id)
        options.pidFile = args.value("--pid-file")
        options.consoleSocket = args.value("--console-socket")
        _ = try Lifecycle.create(request, options: options, store: context.store, log: context.log)
        return 0
    })

let startCommand = Command(
    spec: CommandSpec(name: "start", abstract: "Start a created container's process.", options: [], positionals: [("ID", "The container.")]),
    run: { args, context throws(WardError) in
        try Lifecycle.start(id: try requireID(args, "start"), store: context.store, log: context.log)
        return 0
    })

let stateCommand = Command(
    spec: CommandSpec(name: "state", abstract: "Print a container's state (runtime-spec JSON).", options: [], positionals: [("ID", "The container.")]),
    run: { args, context throws(WardError) in
        print(try Lifecycle.state(id: try requireID(args, "state"), store: context.store).prettyJSONText, terminator: "")
        return 0
    })

let killCommand = Command(
    spec: CommandSpec(name: "kill", abstract: "Send a signal (default TERM) to a container's init, or with --all to every process in it.",
                      options: [OptionSpec(names: ["--all", "-a"], value: nil, help: "Signal every process in the container.")],
                      positionals: [("ID", "The container."), ("SIGNAL", "A name (TERM, SIGKILL) or a number.")]),
    run: { args, context throws(WardError) in
        let id = try requireID(args, "kill")
        let text = args.positionals.count > 1 ? args.positionals[1] : "TERM"
        guard let signal = Lifecycle.signal(named: text) else {
            throw WardError("kill: unknown signal \"\(text)\"; use a name such as TERM or KILL, or a number 1-64")
        }
        try Lifecycle.kill(id: id, signal: signal, all: args.flag("--all"), store: context.store)
        return 0
    })

let deleteCommand = Command(
    spec: CommandSpec(name: "delete", abstract: "Delete a stopped container's state (--force: kill it first).",
                      options: [OptionSpec(names: ["--force", "-f"], value: nil, help: "Kill a running container, and remove damaged state.")],
                      positionals: [("ID", "The container.")]),
    run: { args, context throws(WardError) in
        try Lifecycle.delete(id: try requireID(args, "delete"), force: args.flag("--force"), store: context.store, log: context.log)
        return 0
    })

let formatOption = OptionSpec(names: ["--format"], value: "table|json", help: "Output format (default table).")

func outputFormat(_ args: ParsedArguments) throws(WardError) -> String {
    let format = args.value("--format") ?? "table"
    guard format == "table" || format == "json" else { throw WardError("--format \"\(format)\": expected table or json") }
    return format
}

let listCommand = Command(
    spec: CommandSpec(name: "list", abstract: "List the containers under --root.",
                      options: [formatOption, OptionSpec(names: ["--quiet", "-q"], value: nil, help: "Print the ids only.")]),
    run: { args, context throws(WardError) in
        let format = try outputFormat(args)
        var rows: [(id: String, state: JSONValue)] = []
        for id in context.store.ids() {
            if let record = try? context.store.read(id) {
                rows.append((id, record.stateDocument(status: record.liveStatus)))
            } else {
                rows.append((id, .object(["id": .string(id), "status": .string("stopped"), "bundle": .string("")])))
            }
        }
        if args.flag("--quiet") {
            for row in rows { print(row.id) }
        } else if format == "json" {
            print(JSONValue.array(rows.map(\.state)).prettyJSONText, terminator: "")
        } else {
            print("ID".padded(24) + "PID".padded(9) + "STATUS".padded(10) + "BUNDLE".padded(40) + "CREATED")
            for row in rows {
                func field(_ key: String) -> String {
                    switch row.state[key] {
                    case .string(let s)?: return s
                    case .int(let i)?: return String(i)
                    default: return key == "pid" ? "0" : ""
                    }
                }
                print(row.id.padded(24) + field("pid").padded(9) + field("status").padded(10) + field("bundle").padded(40) + field("created"))
            }
        }
        return 0
    })

let psCommand = Command(
    spec: CommandSpec(name: "ps", abstract: "List the processes in a container.", options: [formatOption], positionals: [("ID", "The container.")]),
    run: { args, context throws(WardError) in
        let format = try outputFormat(args)
        let record = try context.store.read(try requireID(args, "ps"))
        let pids = Lifecycle.processes(of: record)
        if format == "json" {
            print(JSONValue.array(pids.map { .int(Int64($0)) }).jsonText)
        } else {
            print("PID".padded(9) + "CMD")
            for pid in pids {
                let cmd = (try? Sys.readFile("/proc/\(pid)/cmdline")).map {
                    String(decoding: $0.map { $0 == 0 ? 32 : $0 }, as: UTF8.self).trimmingTrailingSpace
                } ?? ""
                print(String(pid).padded(9) + cmd)
            }
        }
        return 0
    })

/// pause/resume need a cgroup freezer, and ward manages no cgroups (rootless on a hybrid
/// v1/v2 host, with no delegated cgroup). Say so instead of pretending with SIGSTOP.
func cgroupRequired(_ verb: String) -> Command {
    Command(
        spec: CommandSpec(name: verb, abstract: "\(verb == "pause" ? "Freeze" : "Thaw") a container (needs a cgroup freezer; see 'ward features').",
                          options: [], positionals: [("ID", "The container.")]),
        run: { args, context throws(WardError) in
            let id = try requireID(args, verb)
            _ = try context.store.read(id)
            throw WardError("\(verb) \(id): needs the cgroup freezer, and ward runs containers without a cgroup of their own (no delegated cgroup v2 here); stop the container instead")
        })
}

let pauseCommand = cgroupRequired("pause")
let resumeCommand = cgroupRequired("resume")

extension String {
    var trimmingTrailingSpace: String {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
}

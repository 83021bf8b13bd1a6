import WardPlan
import WardRuntime
import WardSystem

/// Options `run` and `create` share.
let bundleOptions: [OptionSpec] = [
    OptionSpec(names: ["--bundle", "-b"], value: "DIR", help: "The bundle directory (config.json and the rootfs). Default: the current directory."),
    OptionSpec(names: ["--config", "-f"], value: "FILE", help: "Use this config file instead of BUNDLE/config.json."),
    OptionSpec(names: ["--image"], value: "REF",
               help: "Run an image instead of a bundle: a stored image's NAME[:TAG] or id, or an OCI layout (imported first). The rootfs is an overlay of the store's layers; nothing is copied."),
    OptionSpec(names: ["--max-size"], value: "BYTES", help: "--image: refuse to import an image that unpacks to more than BYTES (default 4G)."),
    OptionSpec(names: ["--subuid"], value: nil, help: "--image: import it keeping its file owners (a user namespace mapped with your subordinate ids)."),
    OptionSpec(names: ["--pid-file"], value: "FILE", help: "Write the container init's pid to FILE."),
    OptionSpec(names: ["--console-socket"], value: "SOCKET", help: "Send the pty master over this AF_UNIX socket (process.terminal)."),
    OptionSpec(names: ["--preserve-fds"], value: "N", help: "Pass fds 3 .. 3+N-1 on to the workload."),
    OptionSpec(names: ["--no-pivot"], value: nil, help: "Use MS_MOVE + chroot instead of pivot_root (for a rootfs on ramfs)."),
    OptionSpec(names: ["--no-new-keyring"], value: nil, help: "Keep the caller's session keyring instead of a fresh one."),
    OptionSpec(names: ["--profile"], value: "NAME|FILE", help: "Lay a hardening profile over the config (see 'ward profile list')."),
]

/// Loads the bundle and turns the shared options into a request.
func runRequest(_ args: ParsedArguments, _ context: Context) throws(WardError) -> RunRequest {
    let preserve: Int
    do throws(UsageError) { preserve = try args.int("--preserve-fds") ?? 0 } catch { throw WardError(error.message) }
    let start = Clock.now()
    let bundle: BundleDirectory
    if let image = args.value("--image") {
        if let other = ["--bundle", "--config"].first(where: { args.value($0) != nil }) {
            throw WardError("--image can't be combined with \(other) (EINVAL): the image is the bundle")
        }
        bundle = try ImageFlags.bundle(image, args, context)
    } else {
        bundle = try BundleDirectory.load(path: args.value("--bundle") ?? ".", configPath: args.value("--config"))
    }
    context.log.debug("timing: bundle loaded (config decoded and validated) in \(Clock.since(start)) µs")
    var request = RunRequest(bundle: bundle)
    request.options.noPivot = args.flag("--no-pivot")
    request.options.preserveFDs = preserve
    request.options.newKeyring = !args.flag("--no-new-keyring")
    request.environment = context.environment
    try ProfileFlags.apply(args, to: &request, log: context.log)
    return request
}

let runCommand = Command(
    spec: CommandSpec(
        name: "run",
        abstract: "Run a container from an OCI bundle and wait for it; exit with its status.",
        options: bundleOptions + [
            OptionSpec(names: ["--timeout"], value: "DURATION", help: "Kill the container after this long (90, 90s, 5m, 1h) and exit 124."),
            OptionSpec(names: ["--seccomp-report"], value: nil, help: "Report every syscall the seccomp filter refused (seccomp user notification: ward answers each with the filter's errno)."),
            OptionSpec(names: ["--detach", "-d"], value: nil, help: "Start it and return at once (create + start)."),
            OptionSpec(names: ["--keep"], value: nil, help: "Keep the stopped container's state (remove it with 'ward delete')."),
        ] + SecretFlags.options + RunFlags.options,
        positionals: [("ID", "A name for the container (default: a generated ward-XXXXXXXXXXXX). ARGS after it replace process.args.")],
        trailing: "ARGS"),
    run: { args, context throws(WardError) in try RunReport.recording(args, log: context.log) { report throws(WardError) in
        var timeout: Double?
        if let text = args.value("--timeout") {
            guard let seconds = Duration.parse(text) else {
                throw WardError("run: --timeout \"\(text)\": expected a positive duration such as 90, 90s, 5m or 1h")
            }
            timeout = seconds
        }
        let id = args.positionals.first ?? Lifecycle.generatedID()
        try StateStore.validate(id: id)
        report.record.id = id
        var request = try runRequest(args, context)
        report.record.bundle = request.bundle.path
        report.record.profile = request.profile.map(RunResult.profileSummary)
        try RunFlags.apply(args, to: &request)
        request.timeout = timeout ?? request.profile?.lifetimeSeconds
        request.options.seccompReport = args.flag("--seccomp-report")
        let secrets = try SecretFlags.parse(args, environment: context.environment)
        try ProfileFlags.requireSecrets(request.profile, given: secrets.secrets.map(\.name))
        request.secrets = try SecretStore.load(secrets, bundle: request.bundle, preserveFDs: request.options.preserveFDs, log: context.log)
        if args.flag("--detach") {
            var options = Lifecycle.CreateOptions(id: id)
            options.pidFile = args.value("--pid-file")
            options.consoleSocket = args.value("--console-socket")
            _ = try Lifecycle.create(request, options: options, store: context.store, log: context.log)
            try Lifecycle.start(id: id, store: context.store, log: context.log)
            return 0
        }
        // Plan first: a bad config is refused before anything, even the state entry, exists.
        let plan = try Launcher.plan(request)
        context.log.debug("timing: plan built at \(Clock.sinceStart()) µs")
        try RunFlags.check(plan, request)
        let registration = try Registration.register(store: context.store, id: id, bundle: request.bundle)
        let outcome: RunOutcome
        do throws(WardError) {
            outcome = try Launcher.run(plan, request: request, log: context.log, registration: registration)
        } catch {
            registration.remove()
            throw error
        }
        if args.flag("--keep") { registration.update(pid: 0, status: "stopped") }
        HookRunner.runWarning(request.bundle.spec.hooks?.poststop, phase: "poststop",
                              state: registration.state(pid: 0, "stopped"), log: context.log)
        if !args.flag("--keep") { registration.remove() }
        report.record.outcome = outcome
        if let denials = outcome.denials {
            Sys.stderr("ward: seccomp report (user notification): " + (denials.isEmpty ? "no syscall was refused" : "\(denials.count) syscall(s) refused"))
            for d in denials { Sys.stderr("ward:   \(d.summary)") }
        }
        return outcome.exitCode
    } })

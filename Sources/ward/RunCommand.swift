import WardPlan
import WardRuntime

let runCommand = Command(
    spec: CommandSpec(
        name: "run",
        abstract: "Run a container from an OCI bundle and wait for it; exit with its status.",
        options: [
            OptionSpec(names: ["--bundle", "-b"], value: "DIR", help: "The bundle directory (config.json and the rootfs). Default: the current directory."),
            OptionSpec(names: ["--config", "-f"], value: "FILE", help: "Use this config file instead of BUNDLE/config.json."),
            OptionSpec(names: ["--timeout"], value: "DURATION", help: "Kill the container after this long (90, 90s, 5m, 1h) and exit 124."),
            OptionSpec(names: ["--no-pivot"], value: nil, help: "Use MS_MOVE + chroot instead of pivot_root (for a rootfs on ramfs)."),
            OptionSpec(names: ["--preserve-fds"], value: "N", help: "Pass fds 3 .. 3+N-1 on to the workload."),
        ],
        positionals: [("ID", "A name for the container (optional).")]),
    run: { args, context throws(WardError) in
        var timeout: Double?
        if let text = args.value("--timeout") {
            guard let seconds = Duration.parse(text) else {
                throw WardError("run: --timeout \"\(text)\": expected a positive duration such as 90, 90s, 5m or 1h")
            }
            timeout = seconds
        }
        let preserve: Int
        do throws(UsageError) { preserve = try args.int("--preserve-fds") ?? 0 } catch { throw WardError("run: \(error.message)") }
        let start = Clock.now()
        let bundle = try BundleDirectory.load(path: args.value("--bundle") ?? ".", configPath: args.value("--config"))
        context.log.debug("timing: bundle loaded (config decoded and validated) in \(Clock.since(start)) µs")
        var request = RunRequest(bundle: bundle)
        request.options.noPivot = args.flag("--no-pivot")
        request.options.preserveFDs = preserve
        request.timeout = timeout
        request.environment = context.environment
        let plan = try Launcher.plan(request)
        context.log.debug("timing: plan built at \(Clock.since(start)) µs")
        return try Launcher.run(plan, request: request, log: context.log).exitCode
    })

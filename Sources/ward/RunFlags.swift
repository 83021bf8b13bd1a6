import WardPlan
import WardRuntime

#if canImport(Glibc)
import Glibc
#endif

/// The test-harness side of `ward run`: `--result`, `--stdin/--stdout/--stderr`, `--env`,
/// `--mount` and `ID -- ARGS`. Parsing here; the record is WardRuntime/RunResult.swift, the
/// redirections WardRuntime/StdioRedirect.swift, the config changes WardRuntime/SpecOverrides.swift.
enum RunFlags {
    static let options: [OptionSpec] = [
        OptionSpec(names: ["--result"], value: "FILE|fd:N",
                   help: "Write one JSON result record (docs/result-schema.json) when the container ends or fails to start."),
        OptionSpec(names: ["--stdin"], value: "FILE|fd:N", help: "The workload's stdin (opened by ward, as you)."),
        OptionSpec(names: ["--stdout"], value: "FILE|fd:N", help: "The workload's stdout: FILE is created 0644 and truncated; a symlink is refused."),
        OptionSpec(names: ["--stderr"], value: "FILE|fd:N", help: "The workload's stderr (the same FILE as --stdout: shared, like 2>&1)."),
        OptionSpec(names: ["--env"], value: "NAME=VALUE", help: "Set NAME in the workload's environment (replaces the config's). Repeatable.",
                   repeatable: true),
        OptionSpec(names: ["--mount"], value: "SRC:DST[:ro]",
                   help: "Bind host path SRC at DST in the container (rbind,nosuid,nodev; ro: read-only). Repeatable.",
                   repeatable: true),
    ]

    static let foregroundOnly = ["--result", "--stdin", "--stdout", "--stderr", "--env", "--mount"]

    /// Applies --env, --mount, ARGS and the redirections to the request.
    static func apply(_ args: ParsedArguments, to request: inout RunRequest) throws(WardError) {
        if args.flag("--detach"), let flag = foregroundOnly.first(where: { args.value($0) != nil }) ?? (args.trailing.isEmpty ? nil : "ARGS") {
            throw WardError("run: \(flag) can't be combined with --detach (EINVAL); it is for a foreground run")
        }
        var overrides = SpecOverrides()
        for text in args.all("--env") { overrides.env.append(try SpecOverrides.parseEnv(text)) }
        for text in args.all("--mount") { overrides.mounts.append(try SpecOverrides.parseMount(text)) }
        overrides.args = args.trailing
        try overrides.apply(to: &request.bundle.spec)
        request.stdio = try StdioRedirect.open(stdin: args.value("--stdin"), stdout: args.value("--stdout"),
                                               stderr: args.value("--stderr"))
    }

    /// What the plan decides that the flags can't live with.
    static func check(_ plan: LaunchPlan, _ request: RunRequest) throws(WardError) {
        if plan.terminal && !request.stdio.isEmpty {
            throw WardError("run: --stdin/--stdout/--stderr can't be combined with process.terminal (the pty is the workload's stdio); set \"terminal\": false")
        }
    }
}

/// One `ward run`'s `--result` record: filled in as the run goes, written once when it ends,
/// whether the workload ran or ward failed to start it.
final class RunReport {
    let sink: ResultSink?
    var record: RunResult

    init(_ args: ParsedArguments) throws(WardError) {
        record = RunResult(startedAt: Clock.processStart ?? Clock.now())
        guard let spec = args.value("--result") else { sink = nil; return }
        let preserve = Int(args.value("--preserve-fds") ?? "0") ?? 0
        sink = try ResultSink(spec, preserveFDs: preserve)
    }

    /// Runs `body` (the verb) and writes the record: the outcome it stored, or its error.
    static func recording(_ args: ParsedArguments, log: Log,
                          _ body: (RunReport) throws(WardError) -> Int32) throws(WardError) -> Int32 {
        let report = try RunReport(args)
        do {
            let status = try body(report)
            if report.record.outcome != nil { report.sink?.write(report.record, log: log) }
            return status
        } catch {
            report.record.launchError = error
            report.sink?.write(report.record, log: log)
            throw error
        }
    }
}

import WardPlan
import WardSpec
import WardSystem

#if canImport(Glibc)
import Glibc
#endif

/// The container init's resource usage, from wait4(2) when ward reaps it. With a pid namespace
/// the init's figures include every child it reaped itself (the kernel folds a waited-for child's
/// usage into its parent's); ru_maxrss is the largest of them, and counts the ward pages the
/// clone child had mapped before exec (a few MB).
public struct ResourceUsage: Equatable, Sendable {
    public var userMicroseconds: UInt64
    public var systemMicroseconds: UInt64
    public var maxRSSKiB: UInt64

    init(_ ru: rusage) {
        func micros(_ t: timeval) -> UInt64 { UInt64(max(0, t.tv_sec)) * 1_000_000 + UInt64(max(0, t.tv_usec)) }
        userMicroseconds = micros(ru.ru_utime)
        systemMicroseconds = micros(ru.ru_stime)
        maxRSSKiB = UInt64(max(0, ru.ru_maxrss))
    }
}

/// `ward run --result FILE|fd:N`: one JSON object, written when the container ends or the launch
/// fails. The schema is docs/result-schema.json (versioned by `schemaVersion`); README "For test
/// harnesses" describes it. Nothing from the environment is ever written here (secrets may be
/// in it), only ward's own messages, which never carry secret material.
public struct RunResult {
    public static let schemaVersion = 1

    public var id: String?
    public var bundle: String?
    /// `--profile`: its name and the SHA-256 of the resolved profile (`profileSummary`).
    public var profile: (name: String, hash: String)?
    /// Images are not built yet: null. Extension point: the image reference, once `run` takes one.
    public var image: String?
    public var outcome: RunOutcome?
    public var launchError: WardError?
    /// Monotonic µs at ward's start (`Clock.markStart`, else when the run verb began).
    public var startedAt: UInt64

    public init(startedAt: UInt64) { self.startedAt = startedAt }

    public var json: JSONValue {
        let finished = Clock.now()
        var members: [String: JSONValue] = [
            "schemaVersion": .int(Int64(Self.schemaVersion)),
            "id": id.map { .string($0) } ?? .null,
            "bundle": bundle.map { .string($0) } ?? .null,
            "image": image.map { .string($0) } ?? .null,
            "profile": profile.map { .object(["name": .string($0.name), "hash": .string($0.hash)]) } ?? .null,
            // ward manages no cgroup, so an OOM kill can't be told from any other SIGKILL.
            "oomKilled": .null,
            // Collected only with --seccomp-report (null means not collected, never "none").
            "seccompDenials": outcome?.denials.map { .array($0.map { .string($0.syscall) }) } ?? .null,
            "launchError": launchError.map { .string($0.message) } ?? .null,
        ]
        func seconds(_ us: UInt64) -> JSONValue { .double(Double(us) / 1_000_000) }
        var timing: [String: JSONValue] = ["setupSeconds": .null, "workloadSeconds": .null,
                                           "totalSeconds": seconds(finished &- startedAt)]
        if let error = launchError {
            members["wardExitCode"] = .int(Int64(error.exitCode))
            members["exitCode"] = .null
            members["signal"] = .null
            members["timedOut"] = .bool(false)
            members["usage"] = .null
            timing["setupSeconds"] = seconds(finished &- startedAt)
        } else if let o = outcome {
            members["wardExitCode"] = .int(Int64(o.exitCode))
            members["exitCode"] = o.signal == nil ? .int(Int64(o.exitCode)) : .null
            members["signal"] = o.signal.map { .object(["name": .string(Self.signalName($0)), "number": .int(Int64($0))]) } ?? .null
            members["timedOut"] = .bool(o.timedOut)
            members["usage"] = o.usage.map {
                .object(["userSeconds": seconds($0.userMicroseconds), "systemSeconds": seconds($0.systemMicroseconds),
                         "maxRSSKiB": .uint($0.maxRSSKiB)])
            } ?? .null
            if let exec = o.execAt { timing["setupSeconds"] = seconds(exec &- startedAt) }
            if let exec = o.execAt, let exit = o.exitedAt { timing["workloadSeconds"] = seconds(exit >= exec ? exit - exec : 0) }
        }
        members["timing"] = .object(timing)
        return .object(members)
    }

    /// A profile's name, and the hex SHA-256 of its resolved JSON form (keys sorted; a
    /// seccompFile already resolved to the filter it stands for), so two runs can tell whether
    /// they ran under the same policy even when the file behind the name changed.
    public static func profileSummary(_ profile: Profile) -> (name: String, hash: String) {
        (profile.name, SHA256.hex(SHA256.hash(Array(profile.jsonValue.jsonText.utf8))))
    }

    /// "SIGSEGV"; real-time signals as "SIGRTMIN+N".
    public static func signalName(_ signo: Int32) -> String {
        if signo >= 34 && signo <= 64 { return signo == 34 ? "SIGRTMIN" : "SIGRTMIN+\(signo - 34)" }
        let names = Lifecycle.signalNames.filter { $0.value == signo }.map(\.key)
        // IOT/ABRT and POLL/IO share numbers: prefer the usual name.
        let preferred = ["ABRT", "IO"].first { names.contains($0) } ?? names.sorted().first
        return preferred.map { "SIG" + $0 } ?? "SIG\(signo)"
    }
}

/// Where the record goes: a file ward creates (opened at the start, so a bad path fails before
/// anything runs; an empty file afterwards means ward died before it could write) or an
/// inherited fd.
public final class ResultSink {
    let fd: Int32
    let description: String
    var written = false

    /// `FILE` (created 0644, truncated; a symlink as its last component is refused) or `fd:N`.
    public init(_ spec: String, preserveFDs: Int) throws(WardError) {
        description = spec
        if spec.hasPrefix("fd:") {
            guard let n = Int32(spec.dropFirst(3)), n >= 0 else {
                throw WardError("--result \(spec): expected fd:N with N an open fd, e.g. fd:3")
            }
            guard n > 2 else { throw WardError("--result \(spec): fds 0-2 are ward's stdio; pass fd 3 or above") }
            guard n >= 3 + Int32(preserveFDs) else {
                throw WardError("--result \(spec): the fd is among --preserve-fds, so the workload could write it; pass one above them")
            }
            guard fcntl(n, F_GETFD) >= 0 else { throw WardError("--result \(spec): \(ErrnoName.of(errno)); the fd is not open") }
            _ = fcntl(n, F_SETFD, FD_CLOEXEC)  // never into hooks or helpers
            fd = n
        } else {
            guard !spec.isEmpty else { throw WardError("--result: empty path") }
            fd = StdioRedirect.openOutput(spec)
            guard fd >= 0 else { throw WardError("--result \(spec): \(StdioRedirect.openError(errno))") }
        }
    }

    deinit { close(fd) }

    /// Writes the record once (a second call is ignored). Failure to write is a warning: the
    /// workload's exit status still stands.
    public func write(_ result: RunResult, log: Log) {
        guard !written else { return }
        written = true
        if !Sys.writeAll(fd: fd, result.json.jsonText + "\n") {
            log.warning("--result \(description): write: \(ErrnoName.of(errno))")
        }
    }
}

extension Clock {
    /// When ward started (`markStart`, first thing in main), if it was marked.
    public static var processStart: UInt64? { origin == 0 ? nil : origin }
}

import FoundationEssentials

/// What a sandbox run produced: ward's result record (docs/result-schema.json, schemaVersion 1)
/// plus the workload's captured output.
public struct SandboxResult: Sendable {
    public struct Signal: Sendable, Equatable, Codable {
        /// "SIGSEGV"
        public var name: String
        public var number: Int32
        public init(name: String, number: Int32) { self.name = name; self.number = number }
    }

    public struct Profile: Sendable, Equatable, Codable {
        public var name: String
        public var hash: String
    }

    public struct Timing: Sendable, Equatable, Codable {
        /// ward's start to the workload's exec.
        public var setupSeconds: Double?
        /// The workload's exec to its exit (its wall time).
        public var workloadSeconds: Double?
        /// ward's start to the record.
        public var totalSeconds: Double?
    }

    /// The container init's rusage (with a pid namespace it includes the children it reaped).
    public struct Usage: Sendable, Equatable, Codable {
        public var userSeconds: Double
        public var systemSeconds: Double
        public var maxRSSKiB: UInt64
    }

    /// The container id.
    public var id: String
    /// The workload's exit status (0-255), nil when a signal ended it.
    public var exitCode: Int32?
    /// The signal that ended the workload (SIGKILL after a timeout).
    public var signal: Signal?
    public var timedOut: Bool
    /// Always nil for now: ward runs sandboxes without a cgroup, so an OOM kill is not knowable.
    public var oomKilled: Bool?
    /// Syscalls the seccomp filter denied. nil: not collected (ward has no --seccomp-report yet).
    public var seccompDenials: [String]?
    /// nil until ward has hardening profiles.
    public var profile: Profile?
    public var timing: Timing
    public var usage: Usage?
    /// ward's own exit status: the workload's, 128+N for signal N, 124 for a timeout.
    public var wardExitCode: Int32
    public var stdout: Data
    public var stderr: Data
    /// The record exactly as ward wrote it.
    public var record: Data

    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
    /// Exited with status 0.
    public var succeeded: Bool { exitCode == 0 && signal == nil && !timedOut }
}

public enum WardKitError: Error, Sendable, Equatable, CustomStringConvertible {
    /// ward could not start the workload (a bad config or option, a failed setup step, a
    /// program that is missing or not executable: ward's exit 125, 126 or 127). The message is
    /// the one ward printed.
    case launchFailed(message: String)
    /// A feature this ward (or WardKit) does not have yet: images, profiles.
    case unsupported(String)
    /// The `ward` binary could not be spawned at all.
    case spawnFailed(String)
    /// ward ended without writing its result record (it was killed, or is not a ward that knows
    /// `--result`). `status` is its wait status as a shell reports it (128+N for signal N).
    case noResult(status: Int32, stderr: String)
    /// A modifier's value ward can't take (a secret name with '/' or ',', an env key with '=').
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .launchFailed(let message): return "ward could not start the sandbox: \(message)"
        case .unsupported(let what): return what
        case .spawnFailed(let why): return "spawning ward: \(why)"
        case .noResult(let status, let stderr): return "ward exited with status \(status) without a result record: \(stderr)"
        case .invalidArgument(let why): return why
        }
    }
}

/// The record as ward writes it (only the fields WardKit reads; unknown ones are ignored, so a
/// newer ward with more fields still decodes).
struct ResultRecord: Decodable {
    var schemaVersion: Int
    var id: String?
    var exitCode: Int32?
    var signal: SandboxResult.Signal?
    var timedOut: Bool
    var oomKilled: Bool?
    var seccompDenials: [String]?
    var profile: SandboxResult.Profile?
    var timing: SandboxResult.Timing
    var usage: SandboxResult.Usage?
    var wardExitCode: Int32
    var launchError: String?
}

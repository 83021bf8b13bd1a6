import FoundationEssentials

/// A sandbox description for tests: which bundle, which overrides, how to reach `ward`. Build
/// one with the chained modifiers, then `run` it any number of times, from any thread or task:
///
///     let result = try await Sandbox(bundle: "/path/to/bundle")
///         .timeout(10)
///         .env("MODE", "strict")
///         .secret(name: "token", value: "s3cret")
///         .mount(source: fixtures, destination: "/data", readOnly: true)
///         .run(["/bin/sh", "-c", "cat /data/input | wc -l"])
///     #expect(result.exitCode == 0)
///     #expect(result.stdoutText == "42\n")
///
/// Each `run` spawns the `ward` binary with posix_spawn (WardKit never forks the test process)
/// and reads ward's `--result` record (docs/result-schema.json) back from an fd. A workload that
/// ran and failed is a normal `SandboxResult` with its exit code or signal; only ward's own
/// failure to start it throws (`WardKitError.launchFailed`).
///
/// `Sandbox` is a value: every modifier returns a changed copy, and it is `Sendable`.
public struct Sandbox: Sendable {
    enum Source: Sendable, Equatable {
        case bundle(String)
        case image(String)
    }

    var source: Source
    var profileName: String?
    var secrets: [(name: String, value: [UInt8])] = []
    var timeoutSeconds: Double?
    var environment: [(String, String)] = []
    var mounts: [(source: String, destination: String, readOnly: Bool)] = []
    var wardPath: String?
    var launcherPrefix: [String] = []
    var stateRootPath: String?
    var containerID: String?
    var stdinBytes: [UInt8]?
    var extraWardArguments: [String] = []

    /// A sandbox running the OCI bundle at `bundle` (a directory with config.json and its rootfs).
    public init(bundle: String) {
        source = .bundle(bundle)
    }

    /// A sandbox running an OCI image. Images are not supported by ward yet (they are a later
    /// feature): this always throws `WardKitError.unsupported`. It is here so code written
    /// against it keeps its shape when they arrive.
    public init(image: String) throws {
        source = .image(image)
        throw WardKitError.unsupported("images are not supported yet (Sandbox(image: \"\(image)\")); build a bundle and use Sandbox(bundle:)")
    }

    /// Runs under the hardening profile `name` (ward's `--profile`, passed through as given).
    /// The profile's name and hash come back in `SandboxResult.profile`. With a ward that does
    /// not know `--profile` yet, `run` throws `WardKitError.unsupported`.
    public func profile(_ name: String) -> Sandbox { with { $0.profileName = name } }

    /// A secret at /run/secrets/NAME (ward's `--secret source=fd:N,target=NAME`): the bytes go
    /// to ward through a socket, never to disk or argv.
    public func secret(name: String, value: [UInt8]) -> Sandbox { with { $0.secrets.append((name, value)) } }
    public func secret(name: String, value: Data) -> Sandbox { secret(name: name, value: Array(value)) }
    public func secret(name: String, value: String) -> Sandbox { secret(name: name, value: Array(value.utf8)) }

    /// Kills the sandbox after `seconds` (ward's `--timeout`); the result then has `timedOut`.
    public func timeout(_ seconds: Double) -> Sandbox { with { $0.timeoutSeconds = seconds } }

    /// Sets `key` in the workload's environment (ward's `--env`), replacing the config's value.
    public func env(_ key: String, _ value: String) -> Sandbox { with { $0.environment.append((key, value)) } }

    /// Binds host path `source` at `destination` (ward's `--mount`): rbind, nosuid, nodev.
    public func mount(source: String, destination: String, readOnly: Bool = true) -> Sandbox {
        with { $0.mounts.append((source, destination, readOnly)) }
    }

    /// The workload's stdin (default: empty).
    public func stdin(_ bytes: [UInt8]) -> Sandbox { with { $0.stdinBytes = bytes } }
    public func stdin(_ text: String) -> Sandbox { stdin(Array(text.utf8)) }

    /// The `ward` to run. Default: `$WARD_BIN`, else `ward` on `PATH`.
    public func wardBinary(_ path: String) -> Sandbox { with { $0.wardPath = path } }

    /// A command put in front of `ward`, e.g. to run it as another user when the tests run as
    /// root: `.launcher(["/usr/bin/setpriv", "--reuid=wardtest", "--regid=wardtest",
    /// "--init-groups", "--"])`. It must exec ward with the fds it was given, as setpriv, env
    /// and nice do.
    public func launcher(_ prefix: [String]) -> Sandbox { with { $0.launcherPrefix = prefix } }

    /// ward's `--root`: where container state lives (default: ward's own default).
    public func stateRoot(_ path: String) -> Sandbox { with { $0.stateRootPath = path } }

    /// The container id (default: a fresh `wardkit-` + 12 hex digits per run). Two runs at
    /// once need two ids.
    public func id(_ id: String) -> Sandbox { with { $0.containerID = id } }

    /// More `ward run` options, before the id (for flags WardKit has no modifier for).
    public func wardArguments(_ arguments: [String]) -> Sandbox { with { $0.extraWardArguments += arguments } }

    /// Runs the sandbox: `args`, when not empty, replace the config's process.args. Returns
    /// once the workload has exited and ward is gone.
    public func run(_ args: [String] = []) async throws -> SandboxResult {
        try await Runner(sandbox: self, args: args).run()
    }

    func with(_ change: (inout Sandbox) -> Void) -> Sandbox {
        var copy = self
        change(&copy)
        return copy
    }
}

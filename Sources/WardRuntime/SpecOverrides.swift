import WardSpec
import WardSystem

#if canImport(Glibc)
import Glibc
#endif

/// `ward run --env NAME=VALUE --mount SRC:DST[:ro] ID -- ARGS`: changes to the loaded config for
/// this one run (the bundle's config.json is not touched). Applied to `RunRequest.bundle.spec`
/// before planning, so the plan validates them like the rest of the config.
public struct SpecOverrides: Sendable {
    /// "NAME=VALUE": sets NAME in process.env (replacing the config's value, else appended).
    public var env: [String] = []
    public var mounts: [BindRequest] = []
    /// Replaces process.args when not empty.
    public var args: [String] = []

    public struct BindRequest: Sendable, Equatable {
        public var source: String
        public var destination: String
        public var readOnly: Bool
    }

    public init() {}

    public var isEmpty: Bool { env.isEmpty && mounts.isEmpty && args.isEmpty }

    /// "NAME=VALUE" -> checked. NAME: no '=', not empty, no NUL (the value may be anything but NUL).
    public static func parseEnv(_ text: String) throws(WardError) -> String {
        guard let eq = text.firstIndex(of: "="), eq != text.startIndex else {
            throw WardError("--env \"\(text.prefix { $0 != "=" })\": expected NAME=VALUE (EINVAL)")
        }
        guard !text.utf8.contains(0) else { throw WardError("--env \(text[..<eq]): a NUL byte can't be in the environment (EINVAL)") }
        return text
    }

    /// "SRC:DST" or "SRC:DST:ro" (also ":rw"). SRC is resolved now (relative to the current
    /// directory, symlinks followed) and must exist; DST is a path inside the container.
    public static func parseMount(_ text: String) throws(WardError) -> BindRequest {
        var parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        var readOnly = false
        if parts.count == 3, parts[2] == "ro" || parts[2] == "rw" {
            readOnly = parts[2] == "ro"
            parts.removeLast()
        }
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw WardError("--mount \"\(text)\": expected SRC:DST or SRC:DST:ro (EINVAL); paths with ':' are not supported")
        }
        guard parts[1].hasPrefix("/") else {
            throw WardError("--mount \"\(text)\": the destination \"\(parts[1])\" must be an absolute path in the container (EINVAL)")
        }
        guard !parts[1].split(separator: "/").contains("..") else {
            throw WardError("--mount \"\(text)\": the destination has a \"..\" component (EINVAL)")
        }
        guard let real = realpath(parts[0], nil) else {
            throw WardError("--mount \"\(text)\": source \(parts[0]): \(ErrnoName.of(errno)); it must exist on the host")
        }
        let source = String(cString: real)
        free(real)
        return BindRequest(source: source, destination: parts[1], readOnly: readOnly)
    }

    public func apply(to spec: inout Spec) throws(WardError) {
        if !env.isEmpty || !args.isEmpty {
            guard var process = spec.process else {
                throw WardError("--env/ARGS: config.json has no process to change; add one (ward spec writes it)")
            }
            var list = process.env ?? []
            for entry in env {
                let name = entry.prefix { $0 != "=" }
                if let i = list.firstIndex(where: { $0.prefix { $0 != "=" } == name }) { list[i] = entry } else { list.append(entry) }
            }
            if !env.isEmpty { process.env = list }
            if !args.isEmpty { process.args = args }
            spec.process = process
        }
        if !mounts.isEmpty {
            // nosuid,nodev as ward's own writable mounts; no noexec (test inputs may be programs).
            spec.mounts = (spec.mounts ?? []) + mounts.map {
                Mount(destination: $0.destination, type: "bind", source: $0.source,
                      options: ["rbind", "nosuid", "nodev"] + ($0.readOnly ? ["ro"] : []))
            }
        }
    }
}

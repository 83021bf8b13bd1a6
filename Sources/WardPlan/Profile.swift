import WardSpec

/// A hardening profile: a named overlay on a bundle's `config.json` (README "Hardening profiles").
///
/// Every policy field is optional; an absent field leaves the config's value alone. Lists
/// *replace* the config's list (a profile states the whole policy, so `ward profile diff` can
/// compare two profiles without knowing the config), except `rlimits` (merged by type) and
/// `writableMounts` (added to the mounts). The format is strict: an unknown field is an error.
public struct Profile: Equatable, Sendable {
    public enum Seccomp: Equatable, Sendable {
        /// `"seccomp": "none"`: remove any filter from the config.
        case disabled
        /// An OCI `linux.seccomp` object (inline, or resolved from a Docker/Podman file).
        case oci(LinuxSeccomp)
        /// `"seccompFile"`: a Docker/Podman-format file, relative to the profile; see `resolved`.
        case dockerFile(String)
    }

    public static let fields = [
        "name", "description", "rationale", "namespaces", "capabilities", "noNewPrivileges",
        "readonlyRootfs", "writableMounts", "maskedPaths", "readonlyPaths", "rlimits", "lifetime",
        "secrets", "seccomp", "seccompFile",
    ]
    /// Options of every `writableMounts` tmpfs that ward adds (an existing tmpfs keeps its own
    /// options, plus whichever of nosuid/nodev/noexec it lacks).
    public static let writableMountOptions = ["nosuid", "nodev", "noexec", "mode=1777", "size=65536k"]
    static let hardeningOptions = ["nosuid", "nodev", "noexec"]

    /// The file name used in errors (`strict.json`, or the path given to --profile).
    public var file: String
    public var name: String
    public var description: String
    public var rationale: String
    /// The namespaces to create. Those the config joins by `path` are kept. A type not listed is
    /// shared with the host (e.g. no `network`: host networking).
    public var namespaces: [String]?
    /// Applied to bounding, effective and permitted; inheritable and ambient are cleared.
    public var capabilities: [String]?
    public var noNewPrivileges: Bool?
    public var readonlyRootfs: Bool?
    public var writableMounts: [String]?
    public var maskedPaths: [String]?
    public var readonlyPaths: [String]?
    public var rlimits: [POSIXRlimit]?
    /// A default `--timeout` ("10m"); an explicit --timeout wins.
    public var lifetime: String?
    /// Secret names that must be given with --secret, else ward refuses before launching.
    public var secrets: [String]?
    public var seccomp: Seccomp?

    public init(file: String, name: String, description: String = "", rationale: String = "") {
        self.file = file
        self.name = name
        self.description = description
        self.rationale = rationale
    }

    /// The lifetime in seconds, when set.
    public var lifetimeSeconds: Double? { lifetime.flatMap(Duration.parse) }

    // MARK: Parsing

    /// Parses and checks a profile. `file` names it in errors.
    public static func parse(_ data: [UInt8], file: String) throws(PlanError) -> Profile {
        let tree = try JSONFile.parse(data, file: file)
        let object = try StrictValue(value: tree, path: "", file: file).object(allowed: fields)
        var p = Profile(file: file, name: try object.required("name").string())
        guard !p.name.isEmpty, p.name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") }) else {
            throw PlanError(file: file, path: "name", message: "\"\(p.name)\": use letters, digits, '-', '_' and '.'")
        }
        p.description = try object.string("description") ?? ""
        p.rationale = try object.string("rationale") ?? ""
        if let v = object["namespaces"] {
            var seen: [String] = []
            for item in try v.array() {
                let t = try item.string()
                guard LinuxNamespace.knownTypes.contains(t) else {
                    throw item.failure("unknown namespace type \"\(t)\"; expected one of: \(LinuxNamespace.knownTypes.joined(separator: ", "))")
                }
                guard !seen.contains(t) else { throw item.failure("\"\(t)\" is listed twice") }
                seen.append(t)
            }
            p.namespaces = seen
        }
        if let v = object["capabilities"] {
            var caps: [String] = []
            for item in try v.array() {
                let c = try item.string()
                guard Capabilities.number(of: c) != nil else { throw item.failure("unknown capability \"\(c)\"") }
                if !caps.contains(c) { caps.append(c) }
            }
            p.capabilities = caps
        }
        p.noNewPrivileges = try object.bool("noNewPrivileges")
        p.readonlyRootfs = try object.bool("readonlyRootfs")
        if let v = object["writableMounts"] { p.writableMounts = try absolutePaths(v) }
        if let v = object["maskedPaths"] { p.maskedPaths = try absolutePaths(v) }
        if let v = object["readonlyPaths"] { p.readonlyPaths = try absolutePaths(v) }
        if let v = object["rlimits"] {
            var limits: [POSIXRlimit] = []
            for item in try v.array() {
                let o = try item.object(allowed: ["type", "soft", "hard"])
                let typeValue = try o.required("type")
                let type = try typeValue.string()
                guard POSIXRlimit.knownTypes.contains(type) else { throw typeValue.failure("unknown rlimit \"\(type)\"") }
                let soft = try o.required("soft").uint64(), hard = try o.required("hard").uint64()
                guard soft <= hard else { throw item.failure("soft (\(soft)) is above hard (\(hard))") }
                limits.removeAll { $0.type == type }
                limits.append(POSIXRlimit(type: type, hard: hard, soft: soft))
            }
            p.rlimits = limits
        }
        if let v = object["lifetime"] {
            let text = try v.string()
            guard Duration.parse(text) != nil else {
                throw v.failure("\"\(text)\": expected a positive duration such as 90s, 10m or 1h")
            }
            p.lifetime = text
        }
        if let v = object["secrets"] {
            let names = try v.strings()
            for (i, n) in names.enumerated() where n.isEmpty || n.contains("/") || n == "." || n == ".." {
                throw PlanError(file: file, path: "secrets[\(i)]", message: "\"\(n)\": not a secret name")
            }
            p.secrets = names
        }
        if let v = object["seccomp"] {
            if object["seccompFile"] != nil {
                throw PlanError(file: file, path: "seccompFile", message: "give either seccomp or seccompFile, not both")
            }
            if case .string(let s) = v.value {
                guard s == "none" else { throw v.failure("\"\(s)\": expected an OCI seccomp object or \"none\"") }
                p.seccomp = .disabled
            } else {
                let seccomp = try parseOCISeccomp(v)
                _ = try SeccompResolver.resolve(seccomp, file: file, base: "seccomp")  // names, actions, arches
                p.seccomp = .oci(seccomp)
            }
        } else if let v = object["seccompFile"] {
            let path = try v.string()
            guard !path.isEmpty else { throw v.failure("empty; give a Docker/Podman-format seccomp file") }
            p.seccomp = .dockerFile(path)
        }
        return p
    }

    static func absolutePaths(_ v: StrictValue) throws(PlanError) -> [String] {
        var out: [String] = []
        for item in try v.array() {
            let s = try item.string()
            guard s.hasPrefix("/") else { throw item.failure("\"\(s)\": expected an absolute path") }
            if !out.contains(s) { out.append(s) }
        }
        return out
    }

    /// `linux.seccomp` in OCI form, strictly (ward runs no seccomp agent: no listenerPath).
    static func parseOCISeccomp(_ v: StrictValue) throws(PlanError) -> LinuxSeccomp {
        let o = try v.object(allowed: ["defaultAction", "defaultErrnoRet", "architectures", "flags", "syscalls"])
        var s = LinuxSeccomp(defaultAction: try o.required("defaultAction").string())
        s.defaultErrnoRet = try o.uint64("defaultErrnoRet").map { UInt32(truncatingIfNeeded: $0) }
        s.architectures = try o.strings("architectures")
        s.flags = try o.strings("flags")
        if let list = o["syscalls"] {
            var rules: [LinuxSyscall] = []
            for item in try list.array() {
                let r = try item.object(allowed: ["names", "action", "errnoRet", "args"])
                var rule = LinuxSyscall(names: try r.required("names").strings(), action: try r.required("action").string())
                rule.errnoRet = try r.uint64("errnoRet").map { UInt32(truncatingIfNeeded: $0) }
                rule.args = try r["args"].map { (a: StrictValue) throws(PlanError) in try parseArgs(a) }
                rules.append(rule)
            }
            s.syscalls = rules
        }
        return s
    }

    static func parseArgs(_ v: StrictValue) throws(PlanError) -> [LinuxSeccompArg] {
        var out: [LinuxSeccompArg] = []
        for item in try v.array() {
            let a = try item.object(allowed: ["index", "value", "valueTwo", "op"])
            let indexValue = try a.required("index")
            let index = try indexValue.uint64()
            guard index <= 5 else { throw indexValue.failure("\(index): a syscall has arguments 0 to 5") }
            out.append(LinuxSeccompArg(index: UInt(index), value: try a.required("value").uint64(),
                                       valueTwo: try a.uint64("valueTwo"), op: try a.required("op").string()))
        }
        return out
    }

    // MARK: Resolving

    /// The capability set a Docker-format seccomp file is resolved against: the profile's own.
    public var capabilitySet: [String] { capabilities ?? [] }

    /// With `seccompFile` replaced by the OCI filter it resolves to (`dockerFile` is the file's
    /// bytes; `dockerFileName` names it in errors).
    public func resolved(dockerFile: [UInt8], dockerFileName: String, host: DockerSeccomp.Host) throws(PlanError) -> Profile {
        var p = self
        let docker = try DockerSeccomp.parse(dockerFile, file: dockerFileName)
        let (seccomp, _) = DockerSeccomp.droppingUnknownSyscalls(try docker.resolve(capabilities: capabilitySet, host: host))
        _ = try SeccompResolver.resolve(seccomp, file: dockerFileName, base: "syscalls")
        p.seccomp = .oci(seccomp)
        return p
    }

    // MARK: Applying

    /// The config with this profile laid over it. Pure: no file is read (resolve a `seccompFile`
    /// first with `resolved`; an unresolved one leaves the config's filter alone).
    public func apply(to spec: Spec) -> Spec {
        var spec = spec
        var process = spec.process
        var linux = spec.linux ?? Linux()
        if let namespaces {
            let joined = (linux.namespaces ?? []).filter { $0.path != nil && !namespaces.contains($0.type) }
            linux.namespaces = namespaces.map { LinuxNamespace(type: $0) } + joined
        }
        if let capabilities, process != nil {
            process?.capabilities = LinuxCapabilities(bounding: capabilities, effective: capabilities, inheritable: [],
                                                      permitted: capabilities, ambient: [])
        }
        if let noNewPrivileges, process != nil { process?.noNewPrivileges = noNewPrivileges }
        if let rlimits, process != nil {
            var merged = process?.rlimits ?? []
            for limit in rlimits {
                if let i = merged.firstIndex(where: { $0.type == limit.type }) { merged[i] = limit } else { merged.append(limit) }
            }
            process?.rlimits = merged
        }
        if let readonlyRootfs {
            var root = spec.root ?? Root()
            root.readonly = readonlyRootfs
            spec.root = root
        }
        if let writableMounts {
            var mounts = spec.mounts ?? []
            for destination in writableMounts {
                if let i = mounts.firstIndex(where: { $0.destination == destination }), mounts[i].type == "tmpfs" {
                    var options = (mounts[i].options ?? []).filter { $0 != "ro" && $0 != "exec" && $0 != "suid" && $0 != "dev" }
                    for o in Self.hardeningOptions where !options.contains(o) { options.append(o) }
                    mounts[i].options = options
                } else {
                    let tmpfs = Mount(destination: destination, type: "tmpfs", source: "tmpfs", options: Self.writableMountOptions)
                    if let i = mounts.firstIndex(where: { $0.destination == destination }) { mounts[i] = tmpfs } else { mounts.append(tmpfs) }
                }
            }
            spec.mounts = mounts
        }
        if let maskedPaths { linux.maskedPaths = maskedPaths }
        if let readonlyPaths { linux.readonlyPaths = readonlyPaths }
        switch seccomp {
        case .disabled: linux.seccomp = nil
        case .oci(let s): linux.seccomp = s
        case .dockerFile, nil: break
        }
        spec.process = process
        if spec.linux != nil || linux != Linux() { spec.linux = linux }
        return spec
    }

    /// The secrets this profile requires that are not in `given`.
    public func missingSecrets(given: [String]) -> [String] {
        (secrets ?? []).filter { !given.contains($0) }
    }
}

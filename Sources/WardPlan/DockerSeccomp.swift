import CSeccomp
import WardSpec

/// A seccomp profile in the Docker/Podman format (moby's profiles/seccomp): `archMap` instead of
/// `architectures`, and rules that apply only with some capabilities, on some architectures or
/// from some kernel version (`includes`/`excludes`). `resolve` turns it into the OCI
/// `linux.seccomp` ward compiles, the way moby's setupSeccomp does.
public struct DockerSeccomp: Equatable, Sendable {
    public struct ArchMapEntry: Equatable, Sendable {
        public var architecture: String
        public var subArchitectures: [String]
    }

    public struct Filter: Equatable, Sendable {
        public var caps: [String] = []
        /// Go architecture names ("amd64", "arm64", "x32") or SCMP_ARCH_* names.
        public var arches: [String] = []
        public var minKernel: KernelVersion?
    }

    public struct Rule: Equatable, Sendable {
        public var path: String
        public var names: [String]
        public var action: String
        public var errnoRet: UInt32?
        public var args: [LinuxSeccompArg]?
        public var includes = Filter()
        public var excludes = Filter()
    }

    /// What the rules are resolved against, besides the capabilities.
    public struct Host: Equatable, Sendable {
        /// The native architecture as a SCMP_ARCH_* name.
        public var architecture: String
        public var kernel: KernelVersion
        public init(architecture: String, kernel: KernelVersion) {
            self.architecture = architecture
            self.kernel = kernel
        }
    }

    public var file: String
    public var defaultAction: String
    public var defaultErrnoRet: UInt32?
    public var architectures: [String]
    public var archMap: [ArchMapEntry]
    public var flags: [String]?
    public var rules: [Rule]

    /// SCMP_ARCH_* name -> Go's GOARCH name, as the `arches` filters spell them.
    public static let goArch: [String: String] = [
        "SCMP_ARCH_X86": "386", "SCMP_ARCH_X86_64": "amd64", "SCMP_ARCH_X32": "x32", "SCMP_ARCH_ARM": "arm",
        "SCMP_ARCH_AARCH64": "arm64", "SCMP_ARCH_MIPS": "mips", "SCMP_ARCH_MIPS64": "mips64",
        "SCMP_ARCH_MIPS64N32": "mips64n32", "SCMP_ARCH_MIPSEL": "mipsle", "SCMP_ARCH_MIPSEL64": "mips64le",
        "SCMP_ARCH_MIPSEL64N32": "mips64len32", "SCMP_ARCH_PPC": "ppc", "SCMP_ARCH_PPC64": "ppc64",
        "SCMP_ARCH_PPC64LE": "ppc64le", "SCMP_ARCH_S390": "s390", "SCMP_ARCH_S390X": "s390x",
        "SCMP_ARCH_PARISC": "parisc", "SCMP_ARCH_PARISC64": "parisc64", "SCMP_ARCH_RISCV64": "riscv64",
        "SCMP_ARCH_LOONGARCH64": "loong64",
    ]
    /// Names the `arches` filters may use: Go names, "x86" (as Docker's own profile writes it) and SCMP_ARCH_*.
    static func archAliases(_ scmp: String) -> [String] {
        var names = [scmp]
        if let go = goArch[scmp] { names.append(go) }
        if scmp == "SCMP_ARCH_X86" { names.append("x86") }
        return names
    }
    static let knownFilterArches: Set<String> = Set(LinuxSeccomp.knownArchitectures.flatMap(archAliases))

    /// `uname -m` -> SCMP_ARCH_*.
    public static func architecture(machine: String) -> String? {
        switch machine {
        case "x86_64": "SCMP_ARCH_X86_64"
        case "i386", "i486", "i586", "i686": "SCMP_ARCH_X86"
        case "aarch64", "arm64": "SCMP_ARCH_AARCH64"
        case _ where machine.hasPrefix("arm"): "SCMP_ARCH_ARM"
        case "ppc64le": "SCMP_ARCH_PPC64LE"
        case "ppc64": "SCMP_ARCH_PPC64"
        case "s390x": "SCMP_ARCH_S390X"
        case "riscv64": "SCMP_ARCH_RISCV64"
        case "loongarch64": "SCMP_ARCH_LOONGARCH64"
        default: nil
        }
    }

    // MARK: Parsing

    public static func parse(_ data: [UInt8], file: String) throws(PlanError) -> DockerSeccomp {
        let tree = try JSONFile.parse(data, file: file)
        // defaultErrno/errno (Podman) and comment are informational: the numbers are what count.
        let o = try StrictValue(value: tree, path: "", file: file).object(allowed: [
            "defaultAction", "defaultErrnoRet", "defaultErrno", "architectures", "archMap", "syscalls",
            "flags", "listenerPath", "listenerMetadata",
        ])
        if o["listenerPath"] != nil {
            throw PlanError(file: file, path: "listenerPath", message: "ward runs no seccomp agent; remove it")
        }
        var result = DockerSeccomp(file: file, defaultAction: try o.required("defaultAction").string(),
                                   defaultErrnoRet: try o.uint64("defaultErrnoRet").map { UInt32(truncatingIfNeeded: $0) },
                                   architectures: [], archMap: [], flags: try o.strings("flags"), rules: [])
        if let list = o["architectures"] {
            for item in try list.array() { result.architectures.append(try knownArch(item)) }
        }
        if let list = o["archMap"] {
            for item in try list.array() {
                let entry = try item.object(allowed: ["architecture", "subArchitectures"])
                let arch = try knownArch(try entry.required("architecture"))
                var subs: [String] = []
                for sub in try entry["subArchitectures"]?.array() ?? [] { subs.append(try knownArch(sub)) }
                result.archMap.append(ArchMapEntry(architecture: arch, subArchitectures: subs))
            }
        }
        for item in try o["syscalls"]?.array() ?? [] {
            let r = try item.object(allowed: ["name", "names", "action", "args", "comment", "includes", "excludes", "errnoRet", "errno"])
            var names = try r.strings("names") ?? []
            if let single = try r.string("name") { names.insert(single, at: 0) }
            guard !names.isEmpty else { throw item.failure("no names; give \"names\": [...]") }
            var rule = Rule(path: item.path, names: names, action: try r.required("action").string())
            rule.errnoRet = try r.uint64("errnoRet").map { UInt32(truncatingIfNeeded: $0) }
            if let args = r["args"] {
                let parsed = try Profile.parseArgs(args)
                rule.args = parsed.isEmpty ? nil : parsed
            }
            if let f = r["includes"] { rule.includes = try filter(f) }
            if let f = r["excludes"] { rule.excludes = try filter(f) }
            result.rules.append(rule)
        }
        return result
    }

    static func knownArch(_ v: StrictValue) throws(PlanError) -> String {
        let name = try v.string()
        guard LinuxSeccomp.knownArchitectures.contains(name) else {
            throw v.failure("unknown architecture \"\(name)\"; expected a SCMP_ARCH_* name such as SCMP_ARCH_X86_64")
        }
        return name
    }

    static func filter(_ v: StrictValue) throws(PlanError) -> Filter {
        let o = try v.object(allowed: ["caps", "arches", "minKernel"])
        var f = Filter()
        for item in try o["caps"]?.array() ?? [] {
            let c = try item.string()
            guard Capabilities.number(of: c) != nil else { throw item.failure("unknown capability \"\(c)\"") }
            f.caps.append(c)
        }
        for item in try o["arches"]?.array() ?? [] {
            let a = try item.string()
            guard knownFilterArches.contains(a) else { throw item.failure("unknown architecture \"\(a)\"") }
            f.arches.append(a)
        }
        if let k = o["minKernel"] {
            let text = try k.string()
            guard let version = KernelVersion(text) else { throw k.failure("\"\(text)\": expected a kernel version such as 4.8") }
            f.minKernel = version
        }
        return f
    }

    // MARK: Resolving

    /// Whether this libseccomp knows `name`. Docker-format files list syscalls newer than many
    /// libseccomp builds; like runc and crun, ward leaves those out instead of failing.
    public static func isKnownSyscall(_ name: String) -> Bool {
        seccomp_syscall_resolve_name(name) != __NR_SCMP_ERROR
    }

    /// `seccomp` without the names this libseccomp does not know, and the names left out.
    public static func droppingUnknownSyscalls(_ seccomp: LinuxSeccomp) -> (LinuxSeccomp, [String]) {
        var s = seccomp
        var dropped: [String] = []
        s.syscalls = seccomp.syscalls?.compactMap { rule in
            var r = rule
            r.names = rule.names.filter { name in
                if isKnownSyscall(name) { return true }
                if !dropped.contains(name) { dropped.append(name) }
                return false
            }
            return r.names.isEmpty ? nil : r
        }
        return (s, dropped)
    }

    /// The OCI filter for a process with `capabilities` (its bounding set) on `host`.
    /// A rule applies when: none of `excludes.caps` is held, the host's architectures are not in
    /// `excludes.arches`, the kernel is older than `excludes.minKernel`; and every one of
    /// `includes.caps` is held, the host's architectures meet `includes.arches`, the kernel is at
    /// least `includes.minKernel`. "The host's architectures" are the native one and its archMap
    /// sub-architectures.
    public func resolve(capabilities: [String], host: DockerSeccomp.Host) throws(PlanError) -> LinuxSeccomp {
        var arches: [String] = []
        for entry in archMap where entry.architecture == host.architecture {
            for a in [entry.architecture] + entry.subArchitectures where !arches.contains(a) { arches.append(a) }
        }
        if archMap.isEmpty { arches = architectures }
        let hostNames = Set((arches.isEmpty ? [host.architecture] : arches).flatMap(Self.archAliases))
        let held = Set(capabilities)
        var syscalls: [LinuxSyscall] = []
        for rule in rules {
            if rule.excludes.caps.contains(where: held.contains) { continue }
            if !rule.excludes.arches.isEmpty && rule.excludes.arches.contains(where: hostNames.contains) { continue }
            if let k = rule.excludes.minKernel, host.kernel >= k { continue }
            if !rule.includes.caps.allSatisfy(held.contains) { continue }
            if !rule.includes.arches.isEmpty && !rule.includes.arches.contains(where: hostNames.contains) { continue }
            if let k = rule.includes.minKernel, host.kernel < k { continue }
            syscalls.append(LinuxSyscall(names: rule.names, action: rule.action, errnoRet: rule.errnoRet, args: rule.args))
        }
        return LinuxSeccomp(defaultAction: defaultAction, defaultErrnoRet: defaultErrnoRet,
                            architectures: arches.isEmpty ? nil : arches, flags: flags, syscalls: syscalls)
    }
}

/// A kernel version, "4.8" or "6.18.44-fc-v769" (what follows the numbers is ignored).
public struct KernelVersion: Comparable, Sendable, CustomStringConvertible {
    public var major: Int
    public var minor: Int

    public init(major: Int, minor: Int) { self.major = major; self.minor = minor }

    public init?(_ text: String) {
        let parts = text.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, let major = Int(parts[0]),
              let minor = Int(parts[1].prefix { $0.isASCII && $0.isNumber }), !parts[1].isEmpty else { return nil }
        self.major = major
        self.minor = minor
    }

    public static func < (a: KernelVersion, b: KernelVersion) -> Bool { (a.major, a.minor) < (b.major, b.minor) }
    public var description: String { "\(major).\(minor)" }
}

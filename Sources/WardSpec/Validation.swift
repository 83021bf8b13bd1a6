// Checks a decoded spec before anything is created. The first problem is thrown
// as one SpecError naming the JSON path, e.g.
// `config.json: linux.seccomp.syscalls[3].action: unknown action "SCMP_ACT_FOO"; expected one of ...`.
// Syscall names are not checked here: that needs libseccomp (WardPlan).

extension Spec {
    /// Throws the first problem found, in document order.
    /// - Parameter requireProcess: `process` is required to run, not to create a bundle for `state` etc.
    public func validate(file: String = "config.json", requireProcess: Bool = true) throws(SpecError) {
        try SpecValidator(file: file).validate(self, requireProcess: requireProcess)
    }
}

struct SpecValidator {
    let file: String

    func validate(_ spec: Spec, requireProcess: Bool) throws(SpecError) {
        try check(!spec.ociVersion.isEmpty, "ociVersion", "must be set, e.g. \"\(Spec.currentVersion)\"")
        try check(spec.ociVersion.hasPrefix("1."), "ociVersion",
                  "unsupported version \(quote(spec.ociVersion)); ward supports runtime-spec 1.x")
        if let process = spec.process {
            try validate(process)
        } else {
            try check(!requireProcess, "process", "missing required field")
        }
        guard let root = spec.root else { throw failure("root", "missing required field") }
        try check(!root.path.isEmpty, "root.path", "must not be empty")
        if let linux = spec.linux, linux.namespaces != nil {
            try checkUTS(spec.hostname, "hostname", linux)
            try checkUTS(spec.domainname, "domainname", linux)
        }
        for (i, mount) in (spec.mounts ?? []).enumerated() {
            try validate(mount, "mounts[\(i)]")
        }
        if let hooks = spec.hooks {
            try validate(hooks.prestart, "hooks.prestart")
            try validate(hooks.createRuntime, "hooks.createRuntime")
            try validate(hooks.createContainer, "hooks.createContainer")
            try validate(hooks.startContainer, "hooks.startContainer")
            try validate(hooks.poststart, "hooks.poststart")
            try validate(hooks.poststop, "hooks.poststop")
        }
        if let linux = spec.linux {
            try validate(linux)
        }
    }

    /// Without a uts namespace of its own, setting the name would rename the host.
    private func checkUTS(_ name: String?, _ key: String, _ linux: Linux) throws(SpecError) {
        try check((name ?? "").isEmpty || linux.hasNamespace("uts"), key,
                  "requires a new uts namespace; add {\"type\": \"uts\"} to linux.namespaces")
    }

    private func validate(_ hooks: [Hook]?, _ key: String) throws(SpecError) {
        for (i, hook) in (hooks ?? []).enumerated() {
            try checkAbsolute(hook.path, "\(key)[\(i)].path")
            if let timeout = hook.timeout {
                try check(timeout > 0, "\(key)[\(i)].timeout", "must be greater than 0 seconds, got \(timeout)")
            }
        }
    }

    // MARK: process

    private func validate(_ process: Process) throws(SpecError) {
        try check(!(process.args ?? []).isEmpty, "process.args", "must name the program to run")
        for (i, entry) in (process.env ?? []).enumerated() {
            try check(entry.contains("=") && !entry.hasPrefix("="), "process.env[\(i)]",
                      "must be NAME=VALUE, got \(quote(entry))")
        }
        try checkAbsolute(process.cwd, "process.cwd")
        try checkUmask(process.user.umask, "process.user.umask")
        try checkUmask(process.umask, "process.umask")
        if let capabilities = process.capabilities {
            try checkCapabilities(capabilities.bounding, "bounding")
            try checkCapabilities(capabilities.effective, "effective")
            try checkCapabilities(capabilities.inheritable, "inheritable")
            try checkCapabilities(capabilities.permitted, "permitted")
            try checkCapabilities(capabilities.ambient, "ambient")
        }
        let rlimits = process.rlimits ?? []
        for (i, rlimit) in rlimits.enumerated() {
            let path = "process.rlimits[\(i)]"
            try checkKnown(rlimit.type, POSIXRlimit.knownTypes, "\(path).type", "rlimit", sorted: true)
            try check(!rlimits[..<i].contains { $0.type == rlimit.type }, "\(path).type",
                      "duplicate rlimit \(quote(rlimit.type))")
            try check(rlimit.soft <= rlimit.hard, path, "soft limit \(rlimit.soft) is above hard limit \(rlimit.hard)")
        }
        if let score = process.oomScoreAdj {
            try check((-1000...1000).contains(score), "process.oomScoreAdj", "must be in -1000...1000, got \(score)")
        }
        if let ioPriority = process.ioPriority {
            try checkKnown(ioPriority.class, IOPriority.knownClasses, "process.ioPriority.class", "class")
            try check((0...7).contains(ioPriority.priority), "process.ioPriority.priority",
                      "must be in 0...7, got \(ioPriority.priority)")
        }
    }

    private func checkUmask(_ umask: UInt32?, _ path: String) throws(SpecError) {
        guard let umask else { return }
        try check(umask <= 0o777, path, "must be at most 511 (0o777), got \(umask)")
    }

    private func checkCapabilities(_ names: [String]?, _ key: String) throws(SpecError) {
        for (i, name) in (names ?? []).enumerated() {
            try check(Capabilities.names.contains(name), "process.capabilities.\(key)[\(i)]",
                      "unknown capability \(quote(name))\(capabilityHint(name))")
        }
    }

    /// Suggests the spelling for "chown" or "cap_chown".
    private func capabilityHint(_ name: String) -> String {
        let upper = name.uppercased()
        for candidate in [upper, "CAP_" + upper] where Capabilities.names.contains(candidate) {
            return "; did you mean \(quote(candidate))?"
        }
        return ""
    }

    // MARK: mounts

    private func validate(_ mount: Mount, _ path: String) throws(SpecError) {
        try checkAbsolute(mount.destination, "\(path).destination")
        // Destinations are resolved inside the rootfs; ".." only serves to climb out of it.
        try check(!mount.destination.split(separator: "/").contains(".."), "\(path).destination",
                  "must not contain \"..\" components, got \(quote(mount.destination))")
        try check(mount.isBind || !(mount.type ?? "").isEmpty, "\(path).type",
                  "missing; required unless options include \"bind\" or \"rbind\"")
        if mount.isBind {
            try check(!(mount.source ?? "").isEmpty, "\(path).source", "a bind mount needs a source")
        }
        try validate(mount.uidMappings, "\(path).uidMappings")
        try validate(mount.gidMappings, "\(path).gidMappings")
    }

    // MARK: linux

    private func validate(_ linux: Linux) throws(SpecError) {
        let namespaces = linux.namespaces ?? []
        for (i, namespace) in namespaces.enumerated() {
            let path = "linux.namespaces[\(i)]"
            try checkKnown(namespace.type, LinuxNamespace.knownTypes, "\(path).type", "namespace type")
            try check(!namespaces[..<i].contains { $0.type == namespace.type }, "\(path).type",
                      "duplicate namespace type \(quote(namespace.type))")
            if let nsPath = namespace.path {
                try checkAbsolute(nsPath, "\(path).path")
            }
        }
        try validate(linux.uidMappings, "linux.uidMappings")
        try validate(linux.gidMappings, "linux.gidMappings")
        for clock in (linux.timeOffsets ?? [:]).keys.sorted() {
            let path = JSONPath.member("linux.timeOffsets", clock)
            try checkKnown(clock, TimeOffset.knownClocks, path, "clock")
            if let nanosecs = linux.timeOffsets?[clock]?.nanosecs {
                try check(nanosecs < 1_000_000_000, "\(path).nanosecs", "must be below 1000000000, got \(nanosecs)")
            }
        }
        if !(linux.timeOffsets ?? [:]).isEmpty, linux.namespaces != nil {
            try check(linux.hasNamespace("time"), "linux.timeOffsets",
                      "requires a new time namespace; add {\"type\": \"time\"} to linux.namespaces")
        }
        for (i, device) in (linux.devices ?? []).enumerated() {
            let path = "linux.devices[\(i)]"
            try checkAbsolute(device.path, "\(path).path")
            try checkKnown(device.type, LinuxDevice.knownTypes, "\(path).type", "device type")
            if device.type != "p" {
                try check(device.major != nil, "\(path).major", "required for device type \(quote(device.type))")
                try check(device.minor != nil, "\(path).minor", "required for device type \(quote(device.type))")
            }
        }
        for name in (linux.sysctl ?? [:]).keys.sorted() {
            // Byte checks: String.contains("..") would pull in _StringProcessing's searcher (and
            // its pages: peak RSS) on every start with a sysctl.
            let bytes = Array(name.utf8)
            let dotdot = zip(bytes, bytes.dropFirst()).contains { $0 == UInt8(ascii: ".") && $1 == UInt8(ascii: ".") }
            try check(!name.isEmpty && !bytes.contains(UInt8(ascii: "/")) && !dotdot, JSONPath.member("linux.sysctl", name),
                      "invalid sysctl name; use dotted names such as \"net.ipv4.ip_forward\", without \"/\" or \"..\"")
        }
        if let seccomp = linux.seccomp {
            try validate(seccomp)
        }
        if let propagation = linux.rootfsPropagation {
            try checkKnown(propagation, Linux.knownRootfsPropagations, "linux.rootfsPropagation", "propagation")
        }
        for (i, path) in (linux.maskedPaths ?? []).enumerated() {
            try checkAbsolute(path, "linux.maskedPaths[\(i)]")
        }
        for (i, path) in (linux.readonlyPaths ?? []).enumerated() {
            try checkAbsolute(path, "linux.readonlyPaths[\(i)]")
        }
        if let personality = linux.personality {
            try checkKnown(personality.domain, LinuxPersonality.knownDomains, "linux.personality.domain", "domain")
        }
    }

    /// The kernel refuses overlapping or wrapping extents in uid_map/gid_map
    /// (kernel/user_namespace.c, mappings_overlap); report them with their JSON path instead.
    private func validate(_ mappings: [LinuxIDMapping]?, _ path: String) throws(SpecError) {
        guard let mappings else { return }
        for (i, mapping) in mappings.enumerated() {
            let item = "\(path)[\(i)]"
            try check(mapping.size > 0, "\(item).size", "must be greater than 0")
            let containerIDs = ids(mapping.containerID, mapping.size)
            let hostIDs = ids(mapping.hostID, mapping.size)
            try check(containerIDs.upperBound <= 1 << 32, item,
                      "containerID \(mapping.containerID) + size \(mapping.size) goes past the largest 32-bit ID")
            try check(hostIDs.upperBound <= 1 << 32, item,
                      "hostID \(mapping.hostID) + size \(mapping.size) goes past the largest 32-bit ID")
            for (j, earlier) in mappings[..<i].enumerated() {
                try check(!containerIDs.overlaps(ids(earlier.containerID, earlier.size)), item,
                          "container IDs \(describe(containerIDs)) overlap \(path)[\(j)]")
                try check(!hostIDs.overlaps(ids(earlier.hostID, earlier.size)), item,
                          "host IDs \(describe(hostIDs)) overlap \(path)[\(j)]")
            }
        }
    }

    /// The IDs `start..<start + size`, widened so that the end cannot overflow.
    private func ids(_ start: UInt32, _ size: UInt32) -> Range<UInt64> {
        UInt64(start)..<UInt64(start) + UInt64(size)
    }

    /// `5-14` for the IDs 5..<15.
    private func describe(_ ids: Range<UInt64>) -> String {
        "\(ids.lowerBound)-\(ids.upperBound - 1)"
    }

    private func validate(_ seccomp: LinuxSeccomp) throws(SpecError) {
        let notify = "SCMP_ACT_NOTIFY"
        try checkKnown(seccomp.defaultAction, LinuxSeccomp.knownActions, "linux.seccomp.defaultAction", "action")
        // libseccomp rejects a notify default action (seccomp_init returns EINVAL).
        try check(seccomp.defaultAction != notify, "linux.seccomp.defaultAction",
                  "SCMP_ACT_NOTIFY cannot be the default action; use it in linux.seccomp.syscalls")
        for (i, architecture) in (seccomp.architectures ?? []).enumerated() {
            try checkKnown(architecture, LinuxSeccomp.knownArchitectures, "linux.seccomp.architectures[\(i)]",
                           "architecture")
        }
        for (i, flag) in (seccomp.flags ?? []).enumerated() {
            try checkKnown(flag, LinuxSeccomp.knownFlags, "linux.seccomp.flags[\(i)]", "flag")
        }
        for (i, syscall) in (seccomp.syscalls ?? []).enumerated() {
            let path = "linux.seccomp.syscalls[\(i)]"
            try check(!syscall.names.isEmpty, "\(path).names", "must list at least one syscall")
            for (j, name) in syscall.names.enumerated() {
                try check(!name.isEmpty, "\(path).names[\(j)]", "must not be empty")
            }
            try checkKnown(syscall.action, LinuxSeccomp.knownActions, "\(path).action", "action")
            try check(syscall.action != notify || !(seccomp.listenerPath ?? "").isEmpty, "\(path).action",
                      "SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath, the socket ward sends the notify fd to")
            for (k, arg) in (syscall.args ?? []).enumerated() {
                try check(LinuxSeccompArg.indexRange.contains(arg.index), "\(path).args[\(k)].index",
                          "must be in 0...5 (a syscall has six arguments), got \(arg.index)")
                try checkKnown(arg.op, LinuxSeccompArg.knownOperators, "\(path).args[\(k)].op", "operator")
            }
        }
    }

    // MARK: Helpers

    private func failure(_ path: String, _ message: String) -> SpecError {
        SpecError(file: file, path: path, message: message)
    }

    private func check(
        _ condition: Bool, _ path: @autoclosure () -> String, _ message: @autoclosure () -> String
    ) throws(SpecError) {
        if !condition { throw failure(path(), message()) }
    }

    /// `unknown <what> "x"; expected one of a, b, c` unless `value` is in `known`.
    private func checkKnown(
        _ value: String, _ known: [String], _ path: @autoclosure () -> String, _ what: String, sorted: Bool = false
    ) throws(SpecError) {
        let choices = (sorted ? known.sorted() : known).joined(separator: ", ")
        try check(known.contains(value), path(), "unknown \(what) \(quote(value)); expected one of \(choices)")
    }

    private func checkAbsolute(_ value: String, _ path: @autoclosure () -> String) throws(SpecError) {
        try check(value.hasPrefix("/"), path(), "must be an absolute path, got \(quote(value))")
    }
}

/// `"value"` with JSON escapes, so odd characters stay visible in messages.
func quote(_ value: String) -> String { JSONValue.quoted(value) }

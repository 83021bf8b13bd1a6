import WardSpec

/// config.json + caller + flags -> LaunchPlan. This is the one place that answers "where is OCI
/// field X handled?", and `childSteps` is the one function that answers "in what order does the
/// child set itself up?".
public enum PlanBuilder {
    static let sigkill: Int32 = 9
    static let defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    /// The devices every container gets (runtime-spec "Default Devices").
    static let defaultDevices: [(name: String, major: UInt32, minor: UInt32)] = [
        ("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0),
    ]
    static let capSysAdmin: Int32 = 21

    public static func build(_ input: PlanInput) throws(PlanError) -> LaunchPlan {
        let spec = input.spec
        let file = input.file
        try spec.validate(file: file)
        guard let process = spec.process else {
            throw PlanError(file: file, path: "process", message: "missing; ward needs a process to run")
        }
        try refuseUnsupported(spec, process: process, input: input)
        var plan = LaunchPlan()
        plan.rootfs = input.rootfs
        plan.terminal = process.terminal ?? false
        plan.hostname = spec.hostname

        // Namespaces: which are new, which are joined.
        var declared = spec.linux?.namespaces ?? []
        if !declared.contains(where: { $0.type == "user" }) && !input.caller.isRoot {
            // A non-root caller can create no other namespace without a user namespace; crun adds
            // one the same way. Root gets the config exactly as written.
            declared.append(LinuxNamespace(type: "user"))
            plan.notices.append("ward: config.json has no user namespace; added one that maps uid \(input.caller.uid) to root (rootless)")
        }
        var newFlags: UInt64 = 0
        for ns in declared {
            let flag = NamespaceFlag.byType[ns.type] ?? 0
            if let path = ns.path {
                plan.joinPaths.append(NamespaceJoin(type: ns.type, flag: flag, path: path))
            } else {
                newFlags |= flag
            }
        }
        let newUserNS = newFlags & NamespaceFlag.user != 0

        // Identity inside the container.
        let identity = try resolveUser(process.user, input: input)
        plan.uid = identity.uid
        plan.gid = identity.gid

        // id maps.
        if newUserNS {
            let uidMaps = spec.linux?.uidMappings.map { $0.map(mapping) } ?? [IDMapping(containerID: 0, hostID: input.caller.uid, size: 1)]
            let gidMaps = spec.linux?.gidMappings.map { $0.map(mapping) } ?? [IDMapping(containerID: 0, hostID: input.caller.gid, size: 1)]
            plan.idMaps = try idMapPlan(uid: uidMaps, gid: gidMaps, input: input)
            try requireMapped(identity.uid, in: uidMaps, file: file, path: "process.user.uid", what: "uid", maps: "linux.uidMappings")
            try requireMapped(identity.gid, in: gidMaps, file: file, path: "process.user.gid", what: "gid", maps: "linux.gidMappings")
            for (i, g) in identity.additionalGids.enumerated() {
                try requireMapped(g, in: gidMaps, file: file, path: "process.user.additionalGids[\(i)]", what: "gid", maps: "linux.gidMappings")
            }
            if case .childWritesOwn = plan.idMaps, !identity.additionalGids.isEmpty {
                throw PlanError(file: file, path: "process.user.additionalGids",
                                message: "setgroups is denied with a single-id mapping; map a range from /etc/subgid or drop additionalGids")
            }
        }

        if let seccomp = spec.linux?.seccomp {
            plan.seccomp = try SeccompResolver.resolve(seccomp, file: file)
        }
        if input.options.seccompLearn {
            plan.seccomp = ResolvedSeccomp.learning(architectures: plan.seccomp?.architectures ?? [])
            plan.seccompReport = SeccompReportMap(errnoByName: [:], defaultErrno: 0, learn: true)
        } else if input.options.seccompReport {
            guard let filter = plan.seccomp else {
                throw PlanError(file: file, path: "linux.seccomp", message: "--seccomp-report needs a seccomp filter; the config has none")
            }
            (plan.seccomp, plan.seccompReport) = try filter.reportingDenials(file: file)
        }

        let joinsUser = plan.joinPaths.contains { $0.type == "user" }
        plan.cloneFlags = joinsUser ? 0 : newFlags & ~NamespaceFlag.time
        plan.steps = try childSteps(input: input, plan: plan, process: process, identity: identity,
                                    newFlags: newFlags, joinsUser: joinsUser)
        return plan
    }

    /// The child's setup, in order. Each line says why it is where it is.
    static func childSteps(input: PlanInput, plan: LaunchPlan, process: Process, identity: Identity,
                           newFlags: UInt64, joinsUser: Bool) throws(PlanError) -> [ChildStep] {
        let spec = input.spec
        let file = input.file
        var steps: [ChildStep] = []
        let joins = plan.joinPaths

        // 1. Namespaces. The user namespace comes first: every other namespace is owned by it and
        //    every later step needs the capabilities it grants.
        if let user = joins.firstIndex(where: { $0.type == "user" }) { steps.append(.joinNamespace(index: user)) }
        switch plan.idMaps {
        case .childWritesOwn(let uid, let gid): steps.append(.writeOwnIDMaps(uid: uid.line, gid: gid.line))
        case .parentWrites(let uid, let gid), .helpers(let uid, let gid):
            steps.append(.waitForParent)  // the parent writes the maps, then says go
            // Our ids are still the host's, unmapped in here: files we create (devpts, tmpfs)
            // would get EOVERFLOW. Become the namespace's root when it has one (runc does too).
            if uid.contains(where: { $0.containerID == 0 }) && gid.contains(where: { $0.containerID == 0 }) {
                steps.append(.setIDs(uid: 0, gid: 0))
            }
        case .none: break
        }
        // The mount namespace is joined last: setns(CLONE_NEWNS) changes our root and cwd.
        for (i, j) in joins.enumerated() where j.type != "user" && j.type != "mount" { steps.append(.joinNamespace(index: i)) }
        if let mnt = joins.firstIndex(where: { $0.type == "mount" }) { steps.append(.joinNamespace(index: mnt)) }
        if joinsUser {
            // clone(2) could not create these: they must be owned by the joined user namespace.
            let rest = newFlags & ~(NamespaceFlag.user | NamespaceFlag.pid | NamespaceFlag.time)
            if rest != 0 { steps.append(.unshare(flags: rest)) }
            if newFlags & NamespaceFlag.pid != 0 { steps.append(.unshare(flags: NamespaceFlag.pid)) }
        }
        // A pid namespace entered by setns/unshare applies to children only: fork once so the
        // workload is inside it (as pid 1 for a new one).
        if joins.contains(where: { $0.type == "pid" }) || (joinsUser && newFlags & NamespaceFlag.pid != 0) {
            steps.append(.fork)
        }
        // The time namespace can't be made by clone(2) (its flag collides with CSIGNAL); its
        // offsets must be written before any process enters it.
        if newFlags & NamespaceFlag.time != 0 {
            let offsets = (spec.linux?.timeOffsets ?? [:]).sorted { $0.key < $1.key }
                .map { "\($0.key) \($0.value.secs ?? 0) \($0.value.nanosecs ?? 0)\n" }.joined()
            steps.append(.timeNamespace(offsets: offsets))
        }

        // A fresh session keyring: the caller's keys stay out of reach (runc does the same).
        if input.options.newKeyring { steps.append(.newSessionKeyring) }

        // 2. Mounts, only with a mount namespace of our own (we never touch the host's tree).
        let ownMountNS = newFlags & NamespaceFlag.mount != 0
        if ownMountNS {
            // Private first, so nothing we mount propagates back to the host.
            let rootProp = try propagation(spec.linux?.rootfsPropagation, file: file)
            steps.append(.makeMountsPrivate(propagation: rootProp == MountFlag.shared ? MountFlag.slave : (rootProp == 0 ? MountFlag.private : rootProp)))
            if let layers = input.imageLayers {
                // An image's rootfs: its store layers under a tmpfs upper, which takes the mount
                // points (and, for a writable root, the container's writes; bounded by the size).
                let size = spec.root?.readonly == true ? "size=1m,nr_inodes=4096" : "size=512m"
                steps.append(.overlayRootfs(OverlayRootfs(mountpoint: input.rootfs, layers: layers, tmpfsOptions: "mode=755," + size)))
            } else {
                // A bind of the rootfs onto itself makes it a mount point, which pivot_root requires.
                steps.append(.bindRootfs(path: input.rootfs))
            }
            steps += try mountSteps(input: input, newFlags: newFlags, joinsUser: joinsUser)
            // Secrets on their own memory-backed filesystem, after the config's mounts (which may
            // provide /run) and before pivot_root (targets resolve beneath the root fd).
            steps += try secretSteps(input: input, plan: plan, identity: identity, newFlags: newFlags, joinsUser: joinsUser)
            // createRuntime and createContainer hooks run after the mounts, before pivot_root.
            if hasCreateHooks(spec) { steps.append(.hookPoint) }
            steps.append(input.options.noPivot ? .chrootNoPivot : .pivotRoot)
            // Sysctls go through the container's /proc, and before readonlyPaths makes /proc/sys
            // read-only (runc's order).
            steps += systemSteps(spec)
            // Masks and read-only paths after pivot: they apply to the container's /proc and /sys.
            for p in spec.linux?.maskedPaths ?? [] { steps.append(.maskPath(p)) }
            for p in spec.linux?.readonlyPaths ?? [] { steps.append(.readonlyPath(p)) }
            if spec.root?.readonly == true { steps.append(.remountRoot(flags: MountFlag.rdonly)) }
            if let rootProp = spec.linux?.rootfsPropagation {
                steps.append(.rootPropagation(flags: try propagation(rootProp, file: file)))
            }
        } else if spec.mounts?.isEmpty == false || spec.root?.readonly == true {
            throw PlanError(file: file, path: "linux.namespaces",
                            message: "mounts and root.readonly need a new mount namespace; add {\"type\": \"mount\"}")
        }

        // 3. Without a mount namespace of our own, names and sysctls still apply (own uts/net/ipc).
        if !ownMountNS { steps += systemSteps(spec) }
        // The pty is opened after pivot, from the container's own devpts instance.
        if process.terminal == true { steps.append(.terminal(consoleSocket: input.options.consoleSocket)) }

        // 4. Process limits, while we still hold every capability in the user namespace.
        if let adj = process.oomScoreAdj {
            steps.append(.writeFile(path: "/proc/self/oom_score_adj", value: String(adj), label: "write oom_score_adj"))
        }
        for limit in process.rlimits ?? [] {
            guard let resource = rlimitNumbers[limit.type] else { continue }  // validated already
            steps.append(.rlimit(name: limit.type, resource: resource, soft: limit.soft, hard: limit.hard))
        }

        // 5. Seccomp, early case: without no_new_privs, loading a filter needs CAP_SYS_ADMIN, which
        //    the setuid/capset below may take away; runc and crun load it here in that case, and the
        //    filter must then allow the remaining setup calls.
        let caps = try capabilities(process.capabilities, lastCap: input.capLastCap, file: file)
        let nnp = process.noNewPrivileges ?? false
        let keepsSysAdmin = caps.map { $0.effective.contains(capSysAdmin) } ?? true
        let seccompEarly = plan.seccomp != nil && !nnp && !keepsSysAdmin
        if seccompEarly, let s = plan.seccomp { steps.append(.seccomp(flags: s.loadFlags)) }

        // 6. Identity: groups, then gid, then uid (the reverse order loses the right to change gid),
        //    keeping capabilities across the switch, then the capability sets, then no_new_privs.
        if case .childWritesOwn = plan.idMaps {
            // setgroups is denied in this user namespace (the price of a self-written gid map).
        } else {
            steps.append(.setGroups(identity.additionalGids))  // also drops the host's supplementary groups
        }
        // The bounding set needs CAP_SETPCAP, which a switch to a non-root uid takes away: drop
        // it first, then set the other sets from the permitted set kept across the switch.
        if let caps, !caps.dropBounding.isEmpty { steps.append(.dropBoundingSet(caps.dropBounding)) }
        steps.append(.setIDs(uid: identity.uid, gid: identity.gid))
        if var caps {
            caps.dropBounding = []
            steps.append(.capabilities(caps))
        }
        if nnp { steps.append(.noNewPrivileges) }
        // commit_creds() clears the parent-death signal on a uid change: set it after setresuid.
        // A detached container outlives the ward process that made it.
        if !input.options.detached { steps.append(.parentDeathSignal(sigkill)) }
        // create/start: wait here, every setup step done, for `ward start` (or the parent's
        // startContainer hooks); before the fd sweep, which would close the exec fifo.
        if input.options.waitForStart || !(spec.hooks?.startContainer ?? []).isEmpty { steps.append(.syncReady) }

        // 7. Nothing of the host may survive into the workload: close every inherited fd, and only
        //    then chdir, so a leaked directory fd can't become the cwd (CVE-2024-21626).
        steps.append(.closeFileDescriptors(preserve: input.options.preserveFDs))
        steps.append(.chdir(process.cwd))
        steps.append(.umask(process.user.umask ?? 0o022))
        steps.append(.resetSignals)

        // 8. Seccomp last, so the filter need not allow any setup syscall; then exec.
        if !seccompEarly, let s = plan.seccomp { steps.append(.seccomp(flags: s.loadFlags)) }
        var env = process.env ?? []
        if !env.contains(where: { $0.hasPrefix("HOME=") }) { env.append("HOME=\(identity.home)") }
        let path = env.last(where: { $0.hasPrefix("PATH=") }).map { String($0.dropFirst(5)) } ?? defaultPath
        let args = process.args ?? []
        steps.append(.exec(.init(path: args.first ?? "", args: args, env: env, searchPath: path)))
        return steps
    }

    /// Fields ward does not apply yet. Ignoring them would quietly run the workload with less
    /// confinement (or other scheduling) than its config asks for, so they are refused by name.
    static func refuseUnsupported(_ spec: Spec, process: Process, input: PlanInput) throws(PlanError) {
        let file = input.file
        if let profile = process.apparmorProfile, !profile.isEmpty, input.enabledLSMs.contains("apparmor") {
            throw PlanError(file: file, path: "process.apparmorProfile",
                            message: "AppArmor is enforcing on this host and ward can't apply profile \"\(profile)\" yet; remove the field to run without it")
        }
        if let label = process.selinuxLabel, !label.isEmpty, input.enabledLSMs.contains("selinux") {
            throw PlanError(file: file, path: "process.selinuxLabel",
                            message: "SELinux is enabled on this host and ward can't apply label \"\(label)\" yet; remove the field to run without it")
        }
        let unsupported: [(Bool, String)] = [
            (spec.linux?.personality != nil, "linux.personality"),
            (process.ioPriority != nil, "process.ioPriority"),
            (process.scheduler != nil, "process.scheduler"),
        ]
        for (present, path) in unsupported where present {
            throw PlanError(file: file, path: path, message: "not supported by ward yet; remove it")
        }
    }

    static func hasCreateHooks(_ spec: Spec) -> Bool {
        !((spec.hooks?.prestart ?? []) + (spec.hooks?.createRuntime ?? []) + (spec.hooks?.createContainer ?? [])).isEmpty
    }

    /// Hostname, domain name and sysctls (in the container's own uts/ipc/net namespaces).
    static func systemSteps(_ spec: Spec) -> [ChildStep] {
        var steps: [ChildStep] = []
        if let hostname = spec.hostname { steps.append(.setHostname(hostname)) }
        if let domainname = spec.domainname { steps.append(.setDomainname(domainname)) }
        for (key, value) in (spec.linux?.sysctl ?? [:]).sorted(by: { $0.key < $1.key }) {
            let path = "/proc/sys/" + key.split(separator: ".").joined(separator: "/")
            steps.append(.writeFile(path: path, value: value, label: "sysctl \(key)"))
        }
        return steps
    }

    // MARK: - mounts

    static func mountSteps(input: PlanInput, newFlags: UInt64, joinsUser: Bool) throws(PlanError) -> [ChildStep] {
        let file = input.file
        let inUserNS = newFlags & NamespaceFlag.user != 0 || joinsUser || !input.caller.isRoot || !input.inInitialUserNamespace
        let ownNet = newFlags & NamespaceFlag.network != 0
        let ownIPC = newFlags & NamespaceFlag.ipc != 0
        var steps: [ChildStep] = []
        var devMounted = false
        var devptsMounted = false
        for (i, m) in (input.spec.mounts ?? []).enumerated() {
            let path = "mounts[\(i)]"
            let opts: ParsedMountOptions
            switch MountOptions.parse(m.options ?? []) {
            case .success(let parsed): opts = parsed
            case .failure(.unsupported(let option, let reason)):
                throw PlanError(file: file, path: "\(path).options", message: "\"\(option)\": \(reason)")
            }
            let type = m.type ?? ""
            if opts.isBind || type == "bind" {
                guard let source = m.source, !source.isEmpty else {
                    throw PlanError(file: file, path: "\(path).source", message: "a bind mount needs a source")
                }
                let absolute = source.hasPrefix("/") ? source : input.bundle + "/" + source
                steps.append(.bind(.init(destination: m.destination, source: absolute,
                                         flags: (opts.flags & ~MountFlag.remount) | MountFlag.bind,
                                         propagation: opts.propagation, attrSet: opts.attrSet, attrClear: opts.attrClear)))
                continue
            }
            switch type {
            case "sysfs" where !ownNet, "cgroup", "cgroup2":
                // sysfs can only be mounted in a network namespace we own; a cgroup hierarchy only
                // in a cgroup namespace we own. Otherwise show the host's, recursively read-only.
                let host = type == "sysfs" ? "/sys" : "/sys/fs/cgroup"
                steps.append(.bind(.init(destination: m.destination, source: host,
                                         flags: MountFlag.bind | MountFlag.rec | MountFlag.nosuid | MountFlag.nodev | MountFlag.noexec | MountFlag.rdonly,
                                         propagation: 0, attrSet: MountAttr.rdonly, attrClear: 0)))
            case "mqueue" where !ownIPC:
                steps.append(.bind(.init(destination: m.destination, source: "/dev/mqueue",
                                         flags: MountFlag.bind | MountFlag.nosuid | MountFlag.nodev | MountFlag.noexec,
                                         propagation: 0, attrSet: 0, attrClear: 0)))
            default:
                guard !type.isEmpty else {
                    throw PlanError(file: file, path: "\(path).type", message: "missing; give a filesystem type or a bind option")
                }
                steps.append(.mount(.init(destination: m.destination, source: m.source ?? type, type: type,
                                          flags: opts.flags, data: opts.dataString, propagation: opts.propagation,
                                          attrSet: opts.attrSet, attrClear: opts.attrClear)))
            }
            if m.destination == "/dev" { devMounted = true }
            if m.destination == "/dev/pts" && type == "devpts" { devptsMounted = true }
        }
        // /dev: the default devices and the config's. mknod needs CAP_MKNOD in the initial user
        // namespace, so in a user namespace the host's nodes are bind-mounted instead.
        if devMounted {
            var devices = defaultDevices.map { (path: "/dev/" + $0.name, type: "c", major: Int64($0.major), minor: Int64($0.minor), mode: UInt32(0o666), uid: UInt32?.none, gid: UInt32?.none) }
            for d in input.spec.linux?.devices ?? [] where !devices.contains(where: { $0.path == d.path }) {
                devices.append((d.path, d.type, d.major ?? 0, d.minor ?? 0, d.fileMode ?? 0o666, d.uid, d.gid))
            }
            for d in devices {
                if inUserNS {
                    steps.append(.bindDevice(destination: d.path, host: d.path))
                } else {
                    let kind: UInt32 = d.type == "b" ? 0o060000 : d.type == "p" ? 0o010000 : 0o020000
                    steps.append(.makeDevice(destination: d.path, mode: kind | (d.mode & 0o7777),
                                             major: UInt32(truncatingIfNeeded: d.major), minor: UInt32(truncatingIfNeeded: d.minor),
                                             uid: d.uid, gid: d.gid))
                }
            }
            let links = [("/proc/self/fd", "/dev/fd"), ("/proc/self/fd/0", "/dev/stdin"),
                         ("/proc/self/fd/1", "/dev/stdout"), ("/proc/self/fd/2", "/dev/stderr")]
            for (target, dest) in links { steps.append(.symlink(target: target, destination: dest)) }
            if devptsMounted { steps.append(.symlink(target: "pts/ptmx", destination: "/dev/ptmx")) }
        }
        return steps
    }

    static func propagation(_ name: String?, file: String) throws(PlanError) -> UInt64 {
        guard let name else { return 0 }
        guard let flags = MountOptions.propagationTable[name] else {
            throw PlanError(file: file, path: "linux.rootfsPropagation",
                            message: "unknown propagation \"\(name)\"; use private, rprivate, slave, rslave, shared or rshared")
        }
        return flags | MountFlag.rec
    }

    // MARK: - ids

    static func mapping(_ m: LinuxIDMapping) -> IDMapping {
        IDMapping(containerID: m.containerID, hostID: m.hostID, size: m.size)
    }

    static func idMapPlan(uid: [IDMapping], gid: [IDMapping], input: PlanInput) throws(PlanError) -> IDMapPlan {
        if input.caller.isRoot { return .parentWrites(uid: uid, gid: gid) }
        if uid.count == 1, gid.count == 1, uid[0].hostID == input.caller.uid, uid[0].size == 1,
           gid[0].hostID == input.caller.gid, gid[0].size == 1 {
            return .childWritesOwn(uid: uid[0], gid: gid[0])
        }
        try requireDelegated(uid, own: input.caller.uid, ranges: input.subuid, input: input, key: "linux.uidMappings", db: "/etc/subuid")
        try requireDelegated(gid, own: input.caller.gid, ranges: input.subgid, input: input, key: "linux.gidMappings", db: "/etc/subgid")
        return .helpers(uid: uid, gid: gid)
    }

    /// newuidmap would refuse these too, but later and less clearly.
    static func requireDelegated(_ maps: [IDMapping], own: UInt32, ranges: [SubIDRange], input: PlanInput,
                                 key: String, db: String) throws(PlanError) {
        for (i, m) in maps.enumerated() {
            let start = UInt64(m.hostID), end = UInt64(m.hostID) + UInt64(m.size)
            let ownID = m.size == 1 && m.hostID == own
            let delegated = ranges.contains { start >= UInt64($0.start) && end <= UInt64($0.start) + UInt64($0.count) }
            guard ownID || delegated else {
                let who = input.caller.name ?? String(input.caller.uid)
                throw PlanError(file: input.file, path: "\(key)[\(i)]",
                                message: "host ids \(start)-\(end - 1) are not delegated to \(who) in \(db); add a range (usermod --add-subuids/--add-subgids) or map only your own id")
            }
        }
    }

    static func requireMapped(_ id: UInt32, in maps: [IDMapping], file: String, path: String, what: String, maps key: String) throws(PlanError) {
        let mapped = maps.contains { UInt64(id) >= UInt64($0.containerID) && UInt64(id) < UInt64($0.containerID) + UInt64($0.size) }
        guard mapped else {
            throw PlanError(file: file, path: path, message: "\(what) \(id) is not mapped by \(key); map it or run as a mapped \(what)")
        }
    }

    // MARK: - user

    struct Identity {
        var uid: UInt32
        var gid: UInt32
        var additionalGids: [UInt32]
        var home: String
    }

    /// `process.user`: numeric ids as given; a `username` is looked up in the rootfs's own
    /// /etc/passwd and /etc/group (never the host's NSS: the names mean the image's users).
    static func resolveUser(_ user: User, input: PlanInput) throws(PlanError) -> Identity {
        let passwd = UserDatabase.parsePasswd(input.passwd ?? "")
        if let name = user.username, !name.isEmpty {
            guard let entry = passwd.first(where: { $0.name == name }) ?? UInt32(name).flatMap({ id in passwd.first { $0.uid == id } }) else {
                throw PlanError(file: input.file, path: "process.user.username",
                                message: "user \"\(name)\" is not in the rootfs's /etc/passwd; use a numeric uid or add the user to the image")
            }
            let groups = UserDatabase.parseGroup(input.group ?? "").filter { $0.members.contains(entry.name) }.map(\.gid)
            let extra = (user.additionalGids ?? []) + groups.filter { $0 != entry.gid }
            return Identity(uid: entry.uid, gid: entry.gid, additionalGids: unique(extra), home: entry.home)
        }
        let home = passwd.first { $0.uid == user.uid }?.home ?? "/"
        return Identity(uid: user.uid, gid: user.gid, additionalGids: unique(user.additionalGids ?? []), home: home)
    }

    static func unique(_ ids: [UInt32]) -> [UInt32] {
        var seen = Set<UInt32>()
        return ids.filter { seen.insert($0).inserted }
    }

    // MARK: - capabilities

    static func capabilities(_ caps: LinuxCapabilities?, lastCap: Int32, file: String) throws(PlanError) -> ChildStep.Capabilities? {
        guard let caps else { return nil }
        func numbers(_ names: [String]?, _ set: String) throws(PlanError) -> [Int32] {
            var result: [Int32] = []
            for (i, name) in (names ?? []).enumerated() {
                guard let n = WardSpec.Capabilities.byName[name] else {
                    throw PlanError(file: file, path: "process.capabilities.\(set)[\(i)]", message: "unknown capability \"\(name)\"")
                }
                // A capability newer than this kernel can't be held; runc and crun skip it too.
                if Int32(n) <= lastCap && !result.contains(Int32(n)) { result.append(Int32(n)) }
            }
            return result.sorted()
        }
        let bounding = try numbers(caps.bounding, "bounding")
        return ChildStep.Capabilities(
            dropBounding: (0...lastCap).filter { !bounding.contains($0) },
            effective: try numbers(caps.effective, "effective"),
            permitted: try numbers(caps.permitted, "permitted"),
            inheritable: try numbers(caps.inheritable, "inheritable"),
            ambient: try numbers(caps.ambient, "ambient"))
    }

    static var rlimitNumbers: [String: Int32] { POSIXRlimit.rlimitNumbers }
}

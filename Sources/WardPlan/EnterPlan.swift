import WardSpec

/// Plans for running a process inside an existing container's namespaces: `ward exec`, and the
/// createContainer/startContainer hooks (which the runtime-spec runs "in the container namespace").
public struct EnterRequest: Sendable {
    /// Namespace type -> /proc/PID/ns/... path, only the ones that differ from ward's own.
    public var namespaces: [(type: String, path: String)]
    public var args: [String]
    public var env: [String]
    public var cwd = "/"
    /// nil: keep ward's identity in the joined user namespace (root there), as hooks do.
    public var user: User?
    public var capabilities: LinuxCapabilities?
    public var noNewPrivileges = false
    public var seccomp: ResolvedSeccomp?
    public var terminal = false
    public var consoleSocket = false
    public var preserveFDs = 0
    public var detached = false
    public var capLastCap: Int32 = 40
    /// false when the container's user namespace denies setgroups (a self-written single map).
    public var setgroupsAllowed = true

    public init(namespaces: [(type: String, path: String)], args: [String], env: [String]) {
        self.namespaces = namespaces; self.args = args; self.env = env
    }
}

extension PlanBuilder {
    /// setns into each namespace (user first: it grants the capabilities the others need; mount
    /// last: it moves our root), fork into the pid namespace, then the process steps of a launch.
    public static func enter(_ request: EnterRequest, file: String = "process.json") throws(PlanError) -> LaunchPlan {
        var plan = LaunchPlan()
        plan.terminal = request.terminal
        let order = ["user", "cgroup", "ipc", "uts", "network", "pid", "time", "mount"]
        let sorted = request.namespaces.sorted { (order.firstIndex(of: $0.type) ?? 99) < (order.firstIndex(of: $1.type) ?? 99) }
        for ns in sorted {
            plan.joinPaths.append(NamespaceJoin(type: ns.type, flag: NamespaceFlag.byType[ns.type] ?? 0, path: ns.path))
            plan.steps.append(.joinNamespace(index: plan.joinPaths.count - 1))
        }
        // setns(CLONE_NEWPID) and the time namespace apply to children only.
        if sorted.contains(where: { $0.type == "pid" || $0.type == "time" }) { plan.steps.append(.fork) }
        if request.terminal { plan.steps.append(.terminal(consoleSocket: request.consoleSocket)) }
        let caps = try capabilities(request.capabilities, lastCap: request.capLastCap, file: file)
        let seccompEarly = request.seccomp != nil && !request.noNewPrivileges && !(caps?.effective.contains(capSysAdmin) ?? true)
        if seccompEarly, let s = request.seccomp { plan.steps.append(.seccomp(flags: s.loadFlags)) }
        if let caps, !caps.dropBounding.isEmpty { plan.steps.append(.dropBoundingSet(caps.dropBounding)) }
        if let user = request.user {
            plan.uid = user.uid
            plan.gid = user.gid
            if request.setgroupsAllowed {
                plan.steps.append(.setGroups(user.additionalGids ?? []))
            } else if !(user.additionalGids ?? []).isEmpty {
                throw PlanError(file: file, path: "user.additionalGids",
                                message: "the container's user namespace denies setgroups (single-id mapping); drop the extra groups")
            }
            plan.steps.append(.setIDs(uid: user.uid, gid: user.gid))
        }
        if var caps {
            caps.dropBounding = []
            plan.steps.append(.capabilities(caps))
        }
        if request.noNewPrivileges { plan.steps.append(.noNewPrivileges) }
        if !request.detached { plan.steps.append(.parentDeathSignal(sigkill)) }
        plan.steps.append(.closeFileDescriptors(preserve: request.preserveFDs))
        plan.steps.append(.chdir(request.cwd))
        plan.steps.append(.resetSignals)
        if !seccompEarly, let s = request.seccomp { plan.steps.append(.seccomp(flags: s.loadFlags)) }
        plan.seccomp = request.seccomp
        let path = request.env.last(where: { $0.hasPrefix("PATH=") }).map { String($0.dropFirst(5)) } ?? defaultPath
        plan.steps.append(.exec(.init(path: request.args.first ?? "", args: request.args, env: request.env, searchPath: path)))
        return plan
    }
}

import FoundationEssentials
import Testing
@testable import WardPlan
import WardSpec

/// The launch plan as data: no privileges, no syscalls.
@Suite struct PlanBuilderTests {
    static let user = Caller(uid: 1000, gid: 1000, name: "alice")

    static func spec(_ edit: (inout Spec) -> Void = { _ in }) throws -> Spec {
        var spec = try Spec.decode(Array(DefaultConfig.json(uid: 1000, gid: 1000, args: ["/bin/true"]).utf8))
        edit(&spec)
        return spec
    }

    static func plan(_ spec: Spec, caller: Caller = user, _ edit: (inout PlanInput) -> Void = { _ in }) throws -> LaunchPlan {
        var input = PlanInput(spec: spec, bundle: "/b", rootfs: "/b/rootfs", caller: caller)
        edit(&input)
        return try PlanBuilder.build(input)
    }

    static func index(_ plan: LaunchPlan, _ match: (ChildStep) -> Bool) -> Int {
        plan.steps.firstIndex(where: match) ?? -1
    }

    @Test func defaultConfigIsRootlessAndSelfMapped() throws {
        let plan = try Self.plan(Self.spec())
        #expect(plan.cloneFlags == 0x1000_0000 | 0x2000_0000 | 0x4000_0000 | 0x0800_0000 | 0x0400_0000 | 0x0002_0000 | 0x0200_0000)
        #expect(plan.idMaps == .childWritesOwn(uid: IDMapping(containerID: 0, hostID: 1000, size: 1),
                                                gid: IDMapping(containerID: 0, hostID: 1000, size: 1)))
        #expect(plan.steps.first == .writeOwnIDMaps(uid: "0 1000 1\n", gid: "0 1000 1\n"))
        #expect(plan.notices.isEmpty)
    }

    /// `run --image`: the overlay takes the rootfs bind's place (before every other mount); the
    /// tmpfs upper is tiny for a read-only root and bounded for a writable one.
    @Test func imageLayersBecomeAnOverlayRootfs() throws {
        let layers = ["/s/layers/b/root", "/s/layers/a/root"]
        let plan = try Self.plan(Self.spec()) { $0.rootfs = "/s/mnt"; $0.imageLayers = layers }
        let overlay = OverlayRootfs(mountpoint: "/s/mnt", layers: layers, tmpfsOptions: "mode=755,size=1m,nr_inodes=4096")
        #expect(plan.steps.contains(.overlayRootfs(overlay)))
        #expect(!plan.steps.contains { if case .bindRootfs = $0 { return true }; return false })
        let at = Self.index(plan) { $0 == .overlayRootfs(overlay) }
        let firstMount = Self.index(plan) { if case .mount = $0 { return true }; return false }
        #expect(at >= 0 && at < firstMount)
        #expect(overlay.legacyMountData == "lowerdir=/s/layers/b/root:/s/layers/a/root,upperdir=/s/mnt/upper,workdir=/s/mnt/work,userxattr")
        let writable = try Self.plan(Self.spec { $0.root?.readonly = false }) { $0.rootfs = "/s/mnt"; $0.imageLayers = layers }
        #expect(writable.steps.contains(.overlayRootfs(OverlayRootfs(mountpoint: "/s/mnt", layers: layers, tmpfsOptions: "mode=755,size=512m"))))
        // The classic option string can't carry ':' or ',' in a path, nor more than a page.
        #expect(OverlayRootfs(mountpoint: "/m", layers: ["/a:b"], tmpfsOptions: "").legacyMountData == nil)
        #expect(OverlayRootfs(mountpoint: "/m", layers: Array(repeating: String(repeating: "x", count: 200), count: 30), tmpfsOptions: "").legacyMountData == nil)
    }

    /// The order every mature runtime converges on (ARCHITECTURE.md), checked step against step.
    @Test func childStepOrder() throws {
        let plan = try Self.plan(Self.spec())
        let i = { (m: (ChildStep) -> Bool) in Self.index(plan, m) }
        let priv = i { if case .makeMountsPrivate = $0 { return true }; return false }
        let bind = i { if case .bindRootfs = $0 { return true }; return false }
        let proc = i { if case .mount(let m) = $0 { return m.destination == "/proc" }; return false }
        let pivot = i { $0 == .pivotRoot }
        let mask = i { if case .maskPath = $0 { return true }; return false }
        let ro = i { if case .readonlyPath = $0 { return true }; return false }
        let rootRO = i { if case .remountRoot = $0 { return true }; return false }
        let rlimit = i { if case .rlimit = $0 { return true }; return false }
        let setIDs = i { if case .setIDs = $0 { return true }; return false }
        let caps = i { if case .capabilities = $0 { return true }; return false }
        let nnp = i { $0 == .noNewPrivileges }
        let pdeath = i { if case .parentDeathSignal = $0 { return true }; return false }
        let close = i { if case .closeFileDescriptors = $0 { return true }; return false }
        let chdir = i { if case .chdir = $0 { return true }; return false }
        let seccomp = i { if case .seccomp = $0 { return true }; return false }
        let exec = i { if case .exec = $0 { return true }; return false }
        #expect([priv, bind, proc, pivot, mask, ro, rootRO, rlimit, setIDs, caps, nnp, pdeath, close, chdir, seccomp, exec]
            == [priv, bind, proc, pivot, mask, ro, rootRO, rlimit, setIDs, caps, nnp, pdeath, close, chdir, seccomp, exec].sorted())
        #expect(!([priv, bind, proc, pivot, mask, ro, rootRO, rlimit, setIDs, caps, nnp, pdeath, close, chdir, seccomp, exec].contains(-1)))
        #expect(exec == plan.steps.count - 1)
        #expect(seccomp == exec - 1, "seccomp is loaded last, right before exec")
    }

    @Test func nonRootWithoutUserNamespaceGetsOne() throws {
        let spec = try Self.spec { $0.linux?.namespaces?.removeAll { $0.type == "user" }; $0.linux?.uidMappings = nil; $0.linux?.gidMappings = nil }
        let plan = try Self.plan(spec)
        #expect(plan.cloneFlags & 0x1000_0000 != 0)
        #expect(plan.notices.count == 1)
        #expect(plan.notices[0].contains("added one that maps uid 1000 to root"))
        #expect(plan.idMaps == .childWritesOwn(uid: IDMapping(containerID: 0, hostID: 1000, size: 1),
                                                gid: IDMapping(containerID: 0, hostID: 1000, size: 1)))
    }

    @Test func rootHonoursTheConfigAsWritten() throws {
        let spec = try Self.spec { $0.linux?.namespaces?.removeAll { $0.type == "user" }; $0.linux?.uidMappings = nil; $0.linux?.gidMappings = nil }
        let plan = try Self.plan(spec, caller: Caller(uid: 0, gid: 0))
        #expect(plan.cloneFlags & 0x1000_0000 == 0)
        #expect(plan.idMaps == .none)
        #expect(plan.notices.isEmpty)
        // Without a user namespace root can mknod; the host's nodes are not needed.
        #expect(plan.steps.contains(.makeDevice(destination: "/dev/null", mode: 0o020666, major: 1, minor: 3, uid: nil, gid: nil)))
        #expect(!plan.steps.contains { if case .bindDevice = $0 { return true }; return false })
        #expect(plan.steps.contains(.setGroups([])), "root's host groups are dropped")
    }

    @Test func rootlessDevicesAreBindMounted() throws {
        let plan = try Self.plan(Self.spec())
        #expect(plan.steps.contains(.bindDevice(destination: "/dev/null", host: "/dev/null")))
        #expect(plan.steps.contains(.symlink(target: "pts/ptmx", destination: "/dev/ptmx")))
        #expect(plan.steps.contains(.symlink(target: "/proc/self/fd", destination: "/dev/fd")))
    }

    @Test func multiRangeMappingUsesHelpersWhenDelegated() throws {
        let spec = try Self.spec {
            $0.linux?.uidMappings = [LinuxIDMapping(containerID: 0, hostID: 1000, size: 1), LinuxIDMapping(containerID: 1, hostID: 100000, size: 65536)]
            $0.linux?.gidMappings = [LinuxIDMapping(containerID: 0, hostID: 1000, size: 1), LinuxIDMapping(containerID: 1, hostID: 100000, size: 65536)]
        }
        let plan = try Self.plan(spec) {
            $0.subuid = [SubIDRange(start: 100000, count: 65536)]
            $0.subgid = [SubIDRange(start: 100000, count: 65536)]
        }
        guard case .helpers(let uid, _) = plan.idMaps else { Issue.record("expected newuidmap"); return }
        #expect(uid.count == 2)
        #expect(plan.steps.first == .waitForParent)

        #expect(throws: SpecError(file: "config.json", path: "linux.uidMappings[1]",
                                  message: "host ids 100000-165535 are not delegated to alice in /etc/subuid; add a range (usermod --add-subuids/--add-subgids) or map only your own id")) {
            try Self.plan(spec)
        }
    }

    @Test func earlySeccompWithoutNoNewPrivileges() throws {
        let spec = try Self.spec { $0.process?.noNewPrivileges = false }
        let plan = try Self.plan(spec)
        let seccomp = Self.index(plan) { if case .seccomp = $0 { return true }; return false }
        let setIDs = Self.index(plan) { if case .setIDs = $0 { return true }; return false }
        #expect(seccomp >= 0 && seccomp < setIDs, "without NNP the filter needs CAP_SYS_ADMIN, so it goes before the cap drop")
    }

    @Test func sysfsWithoutOwnNetworkIsARecursiveReadOnlyBind() throws {
        let spec = try Self.spec { $0.linux?.namespaces?.removeAll { $0.type == "network" } }
        let plan = try Self.plan(spec)
        let sys = plan.steps.compactMap { step -> ChildStep.Bind? in
            if case .bind(let b) = step, b.destination == "/sys" { return b }
            return nil
        }
        #expect(sys.count == 1)
        #expect(sys.first?.source == "/sys")
        #expect(sys.first.map { $0.attrSet & MountAttr.rdonly != 0 && $0.flags & MountFlag.rec != 0 } == true)
    }

    @Test func userNameResolvesFromTheRootfs() throws {
        let spec = try Self.spec {
            $0.linux?.uidMappings = [LinuxIDMapping(containerID: 0, hostID: 0, size: 65536)]
            $0.linux?.gidMappings = [LinuxIDMapping(containerID: 0, hostID: 0, size: 65536)]
            $0.process?.user = User(uid: 0, gid: 0, username: "www")
        }
        let plan = try Self.plan(spec, caller: Caller(uid: 0, gid: 0)) {
            $0.passwd = "root:x:0:0::/root:/bin/sh\nwww:x:33:33:web:/var/www:/bin/false\n"
            $0.group = "root:x:0:\nwww:x:33:\nweb:x:80:www,bob\n"
        }
        #expect(plan.uid == 33 && plan.gid == 33)
        #expect(plan.steps.contains(.setGroups([80])))
        if case .exec(let e)? = plan.steps.last { #expect(e.env.contains("HOME=/root")) }  // env from config wins

        #expect(throws: SpecError.self) {
            try Self.plan(spec, caller: Caller(uid: 0, gid: 0)) { $0.passwd = "root:x:0:0::/root:/bin/sh\n" }
        }
    }

    enum BadConfig: String, CaseIterable, Sendable {
        case unknownCapability, unknownSyscall, unmappedUID, groupsWithSingleMap, idmapMount, badPropagation,
             personality, ioPriority

        func apply(_ s: inout Spec) {
            switch self {
            case .unknownCapability: s.process?.capabilities?.bounding = ["CAP_FOO"]
            case .unknownSyscall: s.linux?.seccomp?.syscalls?[0].names[0] = "no_such_syscall"
            case .unmappedUID: s.process?.user = User(uid: 5, gid: 0)
            case .groupsWithSingleMap: s.process?.user = User(uid: 0, gid: 0, additionalGids: [0])
            case .idmapMount: s.mounts?.append(Mount(destination: "/x", type: "tmpfs", source: "tmpfs", options: ["idmap"]))
            case .badPropagation: s.linux?.rootfsPropagation = "sideways"
            case .personality: s.linux?.personality = LinuxPersonality(domain: "LINUX32")
            case .ioPriority: s.process?.ioPriority = IOPriority(class: "IOPRIO_CLASS_IDLE")
            }
        }

        var fragment: String {
            switch self {
            case .unknownCapability: return "process.capabilities.bounding[0]: unknown capability \"CAP_FOO\""
            case .unknownSyscall: return "linux.seccomp.syscalls[0].names[0]: unknown syscall \"no_such_syscall\""
            case .unmappedUID: return "process.user.uid: uid 5 is not mapped by linux.uidMappings"
            case .groupsWithSingleMap: return "process.user.additionalGids: setgroups is denied with a single-id mapping"
            case .idmapMount: return "idmapped mounts are not supported"
            case .badPropagation: return "rootfsPropagation"
            case .personality: return "linux.personality: not supported by ward yet; remove it"
            case .ioPriority: return "process.ioPriority: not supported by ward yet; remove it"
            }
        }
    }

    @Test(arguments: BadConfig.allCases)
    func badConfigsAreRefusedWithTheirPath(_ bad: BadConfig) throws {
        let spec = try Self.spec(bad.apply)
        let error = #expect(throws: SpecError.self) { try Self.plan(spec) }
        #expect(error?.description.contains(bad.fragment) == true, "\(error?.description ?? "no error")")
        #expect(error?.description.hasPrefix("config.json: ") == true)
    }

    @Test func lsmLabelsAreRefusedOnlyWhereTheLSMEnforces() throws {
        let spec = try Self.spec { $0.process?.apparmorProfile = "containers-default" }
        #expect(try Self.plan(spec).steps.last != nil, "no AppArmor here: nothing to apply it to")
        #expect(throws: SpecError.self) { try Self.plan(spec) { $0.enabledLSMs = ["apparmor"] } }
    }

    @Test func seccompCompilesDeterministically() throws {
        let plan = try Self.plan(Self.spec())
        let filter = try #require(plan.seccomp)
        let a = try SeccompCompiler.compile(filter)
        let b = try SeccompCompiler.compile(filter)
        #expect(a == b)
        #expect(a.count > 8 && a.count % 8 == 0)
        #expect(filter.rules.contains { $0.name == "clone" && $0.conditions.count == 1 })
    }

    @Test func sharedBenchConfigPlans() throws {
        let path = #filePath.split(separator: "/").dropLast(3).joined(separator: "/")
        let url = "/" + path + "/../shared/bench/hardened-config.json"
        guard let data = FileManager.default.contents(atPath: url) else { return }  // shared/ absent: nothing to check
        let spec = try Spec.decode(Array(data))
        let plan = try PlanBuilder.build(PlanInput(spec: spec, bundle: "/b", rootfs: "/b/rootfs", caller: Caller(uid: 1000, gid: 1000)))
        #expect(plan.seccomp?.rules.count ?? 0 > 400)
        let seccomp = Self.index(plan) { if case .seccomp = $0 { return true }; return false }
        let setIDs = Self.index(plan) { if case .setIDs = $0 { return true }; return false }
        #expect(seccomp < setIDs, "podman's config has no NNP: the filter loads before the cap drop")
    }
}

@Suite struct MountOptionTests {
    @Test(arguments: [
        (["ro", "nosuid"] as [String], MountFlag.rdonly | MountFlag.nosuid, UInt64(0), UInt32(0), [String]()),
        (["rw", "ro", "rw"], 0, 0, 0, []),
        (["rbind", "rprivate"], MountFlag.bind | MountFlag.rec, MountFlag.private | MountFlag.rec, 0, []),
        (["mode=755", "size=64k", "nodev"], MountFlag.nodev, 0, 0, ["mode=755", "size=64k"]),
        (["rro", "rnosuid"], 0, 0, MountAttr.rdonly | MountAttr.nosuid, []),
        (["tmpcopyup", "newinstance"], 0, 0, 0, ["newinstance"]),
    ] as [([String], UInt64, UInt64, UInt32, [String])])
    func parse(options: [String], flags: UInt64, propagation: UInt64, attrs: UInt32, data: [String]) throws {
        let parsed = try MountOptions.parse(options).get()
        #expect(parsed.flags == flags)
        #expect(parsed.propagation == propagation)
        #expect(parsed.attrSet == attrs)
        #expect(parsed.data == data)
    }

    @Test(arguments: [("90", 90.0), ("90s", 90), ("5m", 300), ("1h", 3600), ("250ms", 0.25), ("1.5s", 1.5)])
    func durations(text: String, seconds: Double) {
        #expect(Duration.parse(text) == seconds)
    }

    @Test(arguments: ["", "0", "-1s", "5x", "s", "nan", "inf"])
    func badDurations(text: String) {
        #expect(Duration.parse(text) == nil)
    }

    @Test func subIDFiles() {
        let text = "alice:100000:65536\nbob:200000:65536\n1000:300000:10\nbroken\n"
        #expect(SubIDRange.parse(text, name: "alice", id: 1000) == [SubIDRange(start: 100000, count: 65536), SubIDRange(start: 300000, count: 10)])
    }
}

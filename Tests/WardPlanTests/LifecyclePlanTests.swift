import FoundationEssentials
import Testing
@testable import WardPlan
import WardSpec

/// Plans for create/start, hooks, exec and capability order, checked as data.
@Suite struct LifecyclePlanTests {
    static func index(_ plan: LaunchPlan, _ match: (ChildStep) -> Bool) -> Int { plan.steps.firstIndex(where: match) ?? -1 }

    @Test func createWaitsBeforeTheFdSweepAndHasNoParentDeathSignal() throws {
        let spec = try PlanBuilderTests.spec()
        let plan = try PlanBuilderTests.plan(spec) { $0.options.waitForStart = true; $0.options.detached = true }
        let ready = Self.index(plan) { $0 == .syncReady }
        let close = Self.index(plan) { if case .closeFileDescriptors = $0 { return true }; return false }
        #expect(ready >= 0 && ready < close, "the exec fifo must survive until the init is released")
        #expect(!plan.steps.contains { if case .parentDeathSignal = $0 { return true }; return false })
    }

    @Test func createHooksWaitBeforePivotRoot() throws {
        let spec = try PlanBuilderTests.spec { $0.hooks = Hooks(createRuntime: [Hook(path: "/bin/true")]) }
        let plan = try PlanBuilderTests.plan(spec)
        let hook = Self.index(plan) { $0 == .hookPoint }
        let pivot = Self.index(plan) { $0 == .pivotRoot }
        let lastMount = plan.steps.lastIndex { if case .mount = $0 { return true }; return false } ?? -1
        #expect(hook > lastMount && hook == pivot - 1)
        #expect(!(try PlanBuilderTests.plan(PlanBuilderTests.spec())).steps.contains(.hookPoint), "no hooks, no sync point")
    }

    @Test func boundingSetIsDroppedBeforeTheUidChange() throws {
        let spec = try PlanBuilderTests.spec {
            $0.linux?.namespaces?.removeAll { $0.type == "user" }
            $0.linux?.uidMappings = nil
            $0.linux?.gidMappings = nil
            $0.process?.user = User(uid: 1000, gid: 1000)
            $0.process?.capabilities = LinuxCapabilities(bounding: ["CAP_KILL"], effective: ["CAP_KILL"], permitted: ["CAP_KILL"])
        }
        let plan = try PlanBuilderTests.plan(spec, caller: Caller(uid: 0, gid: 0))
        let drop = Self.index(plan) { if case .dropBoundingSet = $0 { return true }; return false }
        let setIDs = Self.index(plan) { $0 == .setIDs(uid: 1000, gid: 1000) }
        let caps = Self.index(plan) { if case .capabilities(let c) = $0 { return c.dropBounding.isEmpty && c.effective == [5] }; return false }
        #expect(drop >= 0 && drop < setIDs && setIDs < caps)
    }

    @Test func rootInsideAnotherUserNamespaceBindsDevices() throws {
        let spec = try PlanBuilderTests.spec { $0.linux?.namespaces?.removeAll { $0.type == "user" }; $0.linux?.uidMappings = nil; $0.linux?.gidMappings = nil }
        let plan = try PlanBuilderTests.plan(spec, caller: Caller(uid: 0, gid: 0)) { $0.inInitialUserNamespace = false }
        #expect(plan.steps.contains(.bindDevice(destination: "/dev/null", host: "/dev/null")))
    }

    @Test func parentWrittenMapsMakeTheChildRootInside() throws {
        let spec = try PlanBuilderTests.spec {
            $0.linux?.uidMappings = [LinuxIDMapping(containerID: 0, hostID: 300000, size: 1000)]
            $0.linux?.gidMappings = [LinuxIDMapping(containerID: 0, hostID: 300000, size: 1000)]
        }
        let plan = try PlanBuilderTests.plan(spec, caller: Caller(uid: 0, gid: 0))
        #expect(Array(plan.steps.prefix(2)) == [.waitForParent, .setIDs(uid: 0, gid: 0)])
    }

    @Test func enterJoinsUserFirstMountLastAndForksForPid() throws {
        var request = EnterRequest(namespaces: [("mount", "/proc/9/ns/mnt"), ("pid", "/proc/9/ns/pid"), ("user", "/proc/9/ns/user"),
                                                ("network", "/proc/9/ns/net")], args: ["/bin/sh"], env: [])
        request.user = User(uid: 0, gid: 0)
        request.setgroupsAllowed = false
        let plan = try PlanBuilder.enter(request)
        #expect(plan.joinPaths.map(\.type) == ["user", "network", "pid", "mount"])
        #expect(plan.steps.prefix(5) == [.joinNamespace(index: 0), .joinNamespace(index: 1), .joinNamespace(index: 2),
                                         .joinNamespace(index: 3), .fork])
        #expect(!plan.steps.contains { if case .setGroups = $0 { return true }; return false }, "setgroups is denied in there")
        if case .exec(let e)? = plan.steps.last { #expect(e.args == ["/bin/sh"]) } else { Issue.record("exec is last") }
    }
}

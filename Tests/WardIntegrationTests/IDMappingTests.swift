import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// User namespaces: the one ward adds for a rootless caller, multi-range maps through
/// newuidmap/newgidmap, and root running the config as written.
@Suite("User namespaces and id maps")
struct IDMappingTests {
    static let probe = #"""
    echo "uid=$(id -u)"
    echo "gid=$(id -g)"
    echo "pid=$$"
    echo "UIDMAP"; cat /proc/self/uid_map
    echo "GIDMAP"; cat /proc/self/gid_map
    echo "END"
    grep -E '^(CapEff|CapBnd|NoNewPrivs):' /proc/$$/status | tr -d '\t' | sed 's/:/=/'
    """#

    /// The squeezed lines of the uid map and gid map the probe printed.
    static func maps(_ out: String) -> (uid: [String], gid: [String]) {
        let lines = out.split(separator: "\n").map(String.init)
        guard let u = lines.firstIndex(of: "UIDMAP"), let g = lines.firstIndex(of: "GIDMAP"),
              let e = lines.firstIndex(of: "END") else { return ([], []) }
        return (lines[(u + 1)..<g].map(squeeze), lines[(g + 1)..<e].map(squeeze))
    }

    @Test("rootless: a config without a user namespace gets one, with a notice on stderr")
    func rootlessAddsUserNamespace() async throws {
        let user = Harness.user
        let r = try await runScript(Self.probe) {
            $0.removeNamespace("user")
            $0["linux.uidMappings"] = nil
            $0["linux.gidMappings"] = nil
        }
        #expect(r.stderr.contains("added one that maps uid \(user.uid)"), "\(r)")
        let maps = Self.maps(r.stdout)
        #expect(maps.uid == ["0 \(user.uid) 1"], "\(r)")
        #expect(maps.gid == ["0 \(user.gid) 1"], "\(r)")
        #expect(keyValues(r.stdout)["uid"] == "0")
    }

    @Test("multi-range map as the unprivileged user (newuidmap/newgidmap) and process.user 1000",
          .enabled(if: Harness.userHasSubIDs, "the test user has no /etc/subuid and /etc/subgid ranges"))
    func multiRangeUnprivileged() async throws {
        let user = Harness.user
        let sub = try #require(user.subIDRange("/etc/subuid"), "\(user.name) has no /etc/subuid range")
        let subg = try #require(user.subIDRange("/etc/subgid"), "\(user.name) has no /etc/subgid range")
        let r = try await runScript(Self.probe) {
            $0.mapWithSubIDs(of: user, sub: sub, subg: subg)
            $0["process.env"] = ["PATH=/bin", "HOME=/"]
        }
        let maps = Self.maps(r.stdout)
        #expect(maps.uid == ["0 \(user.uid) 1", "1 \(sub.start) \(sub.count)"], "\(r)")
        #expect(maps.gid == ["0 \(user.gid) 1", "1 \(subg.start) \(subg.count)"], "\(r)")
        let kv = keyValues(r.stdout)
        #expect(kv["uid"] == "1000", "\(r)")
        #expect(kv["gid"] == "1000", "\(r)")
    }

    @Test("a non-root process.user gets exactly the configured capabilities (CAP_KILL = 0x20)",
          .enabled(if: Harness.userHasSubIDs, "the test user has no /etc/subuid and /etc/subgid ranges"))
    func nonRootUserWithCapabilities() async throws {
        let user = Harness.user
        let sub = try #require(user.subIDRange("/etc/subuid"), "\(user.name) has no /etc/subuid range")
        let subg = try #require(user.subIDRange("/etc/subgid"), "\(user.name) has no /etc/subgid range")
        let r = try await runScript(Self.probe) {
            $0.mapWithSubIDs(of: user, sub: sub, subg: subg)
            $0.setCapabilities(["CAP_KILL"])
        }
        let kv = keyValues(r.stdout)
        #expect(kv["uid"] == "1000", "\(r)")
        #expect(kv["CapEff"] == "0000000000000020", "\(r)")
        #expect(kv["CapBnd"] == "0000000000000020", "\(r)")
    }

    @Test("a range not delegated in /etc/subuid is refused before anything starts")
    func undelegatedRange() async throws {
        try await withSandbox(script: "true", configure: {
            $0["linux.uidMappings"] = [["containerID": 0, "hostID": 4_000_000, "size": 10]]
        }) { sb in
            let r = try await sb.run()
            #expect(r.status == 125, "\(r)")
            #expect(r.stderr.contains("linux.uidMappings[0]"), "\(r)")
            #expect(r.stderr.contains("not delegated"), "\(r)")
        }
    }

    @Test("root, config without a user namespace: runs as real root with exactly the configured caps",
          .enabled(if: Harness.isRoot, "needs root: ward honours the config as written only for root"))
    func rootWithoutUserNamespace() async throws {
        let r = try await runScript(Self.probe, as: .root) {
            $0["linux.namespaces"] = ["pid", "mount", "uts", "ipc", "network"].map { ["type": $0] }
            $0["linux.uidMappings"] = nil
            $0["linux.gidMappings"] = nil
            $0.setCapabilities(["CAP_NET_BIND_SERVICE", "CAP_KILL"])
        }
        #expect(!r.stderr.contains("added one"), "\(r)")
        let maps = Self.maps(r.stdout)
        #expect(maps.uid == ["0 0 4294967295"], "the initial user namespace: \(r)")
        let kv = keyValues(r.stdout)
        #expect(kv["uid"] == "0")
        #expect(kv["pid"] == "1")
        #expect(kv["CapEff"] == "0000000000000420", "\(r)")
        #expect(kv["CapBnd"] == "0000000000000420", "\(r)")
        #expect(kv["NoNewPrivs"] == "1")
    }

    @Test("root writes a multi-id map itself: uidMappings [{0, 300000, 1000}]",
          .enabled(if: Harness.isRoot, "needs root: only root may map ids it does not own without helpers"))
    func rootWritesMultiIDMap() async throws {
        let r = try await runScript(Self.probe, as: .root) {
            $0["linux.uidMappings"] = [["containerID": 0, "hostID": 300_000, "size": 1000]]
            $0["linux.gidMappings"] = [["containerID": 0, "hostID": 300_000, "size": 1000]]
            $0["process.user"] = ["uid": 0, "gid": 0]
        }
        let maps = Self.maps(r.stdout)
        #expect(maps.uid == ["0 300000 1000"], "\(r)")
        #expect(maps.gid == ["0 300000 1000"], "\(r)")
        #expect(keyValues(r.stdout)["uid"] == "0")
    }
}

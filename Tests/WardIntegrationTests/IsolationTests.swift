import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What the sandboxed process observes about itself: identity, namespaces, seccomp, capabilities,
/// the filesystem, limits and its environment.
@Suite("Isolation seen from inside")
struct IsolationTests {
    /// Prints the workload's own view as key=value lines ($$ is the workload itself).
    static let probe = #"""
    echo "uidmap=$(cat /proc/self/uid_map)"
    echo "gidmap=$(cat /proc/self/gid_map)"
    echo "uid=$(id -u)"
    echo "gid=$(id -g)"
    echo "pid=$$"
    echo "hostname=$(hostname)"
    grep -E '^(Seccomp|NoNewPrivs|CapInh|CapPrm|CapEff|CapBnd|CapAmb):' /proc/$$/status | tr -d '\t' | sed 's/:/=/'
    """#

    @Test("ward spec config: root in a user namespace mapping only the caller, pid 1, hostname, seccomp, no caps, no_new_privs")
    func hardenedDefaults() async throws {
        let r = try await runScript(Self.probe) { $0["hostname"] = "ward-it-host" }
        let kv = keyValues(r.stdout)
        let user = Harness.user
        #expect(squeeze(kv["uidmap"] ?? "") == "0 \(user.uid) 1", "\(r)")
        #expect(squeeze(kv["gidmap"] ?? "") == "0 \(user.gid) 1", "\(r)")
        #expect(kv["uid"] == "0")
        #expect(kv["gid"] == "0")
        #expect(kv["pid"] == "1")
        #expect(kv["hostname"] == "ward-it-host")
        #expect(kv["Seccomp"] == "2")
        #expect(kv["NoNewPrivs"] == "1")
        for set in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
            #expect(kv[set] == "0000000000000000", "\(set): \(r)")
        }
    }

    @Test("capabilities exactly as configured: CAP_NET_BIND_SERVICE + CAP_KILL = 0x420")
    func configuredCapabilities() async throws {
        let r = try await runScript(Self.probe) { $0.setCapabilities(["CAP_NET_BIND_SERVICE", "CAP_KILL"]) }
        let kv = keyValues(r.stdout)
        for set in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
            #expect(kv[set] == "0000000000000420", "\(set): \(r)")
        }
        #expect(kv["NoNewPrivs"] == "1")
    }

    @Test("a seccomp ERRNO(38) rule on getcwd over an ALLOW default: getcwd fails with ENOSYS")
    func seccompErrnoRule() async throws {
        let r = try await runScript(#"cd /etc; pwd -P 2>&1; echo "rc=$?"; /bin/pwd -P 2>&1; echo "rc2=$?"; echo "ok=alive""#) {
            $0["linux.seccomp.defaultAction"] = "SCMP_ACT_ALLOW"
            $0["linux.seccomp.defaultErrnoRet"] = nil
            $0["linux.seccomp.syscalls"] = [["names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38]]
        }
        let kv = keyValues(r.stdout)
        #expect(r.stdout.contains("Function not implemented"), "\(r)")
        #expect(kv["rc2"] != "0", "\(r)")
        #expect(!r.stdout.contains("\n/etc\n") && !r.stdout.hasPrefix("/etc\n"), "getcwd succeeded: \(r)")
        #expect(kv["ok"] == "alive")
    }

    @Test("the default seccomp allow-list refuses a new user namespace (EPERM)")
    func seccompRefusesUnshare() async throws {
        let r = try await runScript(#"unshare -U true 2>&1; echo "rc=$?""#)
        #expect(keyValues(r.stdout)["rc"] != "0", "\(r)")
        #expect(r.stdout.contains("Operation not permitted"), "\(r)")
    }

    @Test("read-only root and readonlyPaths refuse writes with EROFS")
    func readOnlyRootAndPaths() async throws {
        let r = try await runScript(#"""
        touch /evil 2>&1; echo "root=$?"
        echo 1 2>&1 >/proc/sys/net/ipv4/ip_forward; echo "procsys=$?"
        echo x >/tmp/ok && echo "tmp=$(cat /tmp/ok)"
        """#)
        let kv = keyValues(r.stdout)
        #expect(kv["root"] == "1", "\(r)")
        #expect(kv["procsys"] != "0", "\(r)")
        #expect(r.stdout.components(separatedBy: "Read-only file system").count == 3, "both writes refused with EROFS: \(r)")
        #expect(kv["tmp"] == "x", "the tmpfs on /tmp stays writable: \(r)")
        #expect(!FileManager.default.fileExists(atPath: "/evil"))
    }

    @Test("maskedPaths: /proc/kcore empty or unreadable, a masked dir is empty, a masked file reads empty")
    func maskedPaths() async throws {
        try await withSandbox(script: #"""
        echo "kcore=$(cat /proc/kcore 2>/dev/null | wc -c)"
        echo "srv=$(ls -A /srv | wc -l)"
        echo "secret=$(cat /etc/secret 2>/dev/null | wc -c)"
        echo "sysfw=$(ls -A /sys/firmware | wc -l)"
        """#, configure: {
            var masked = $0["linux.maskedPaths"] as? [String] ?? []
            masked += ["/srv", "/etc/secret"]
            $0["linux.maskedPaths"] = masked
        }) { sb in
            try FileManager.default.createDirectory(atPath: sb.rootfs + "/srv", withIntermediateDirectories: true)
            try "hidden\n".write(toFile: sb.rootfs + "/srv/hidden", atomically: false, encoding: .utf8)
            try "top secret\n".write(toFile: sb.rootfs + "/etc/secret", atomically: false, encoding: .utf8)
            try await sb.chownToUser(sb.rootfs)
            let r = try await sb.run()
            #expect(r.status == 0, "\(r)")
            let kv = keyValues(r.stdout)
            #expect(kv["kcore"] == "0", "\(r)")
            #expect(kv["srv"] == "0", "\(r)")
            #expect(kv["secret"] == "0", "\(r)")
            #expect(kv["sysfw"] == "0", "\(r)")
        }
    }

    @Test("rlimits, umask, env, cwd as configured")
    func processAttributes() async throws {
        let r = try await runScript(#"""
        echo "nofile=$(ulimit -n)"
        echo "nofilehard=$(ulimit -Hn)"
        echo "umask=$(umask)"
        echo "foo=$FOO"
        echo "home=$HOME"
        echo "cwd=$(pwd)"
        """#) {
            $0["process.rlimits"] = [["type": "RLIMIT_NOFILE", "soft": 256, "hard": 512]]
            $0["process.user.umask"] = 0o027
            $0["process.env"] = ["PATH=/bin:/sbin", "FOO=bar baz", "HOME=/root"]
            $0["process.cwd"] = "/etc"
        }
        let kv = keyValues(r.stdout)
        #expect(kv["nofile"] == "256", "\(r)")
        #expect(kv["nofilehard"] == "512", "\(r)")
        #expect(kv["umask"] == "0027", "\(r)")
        #expect(kv["foo"] == "bar baz", "\(r)")
        #expect(kv["home"] == "/root", "\(r)")
        #expect(kv["cwd"] == "/etc", "\(r)")
    }

    @Test("ward's own environment does not reach the workload, only process.env")
    func hostEnvironmentNotInherited() async throws {
        let r = try await runScript(#"env | sort"#)
        #expect(!r.stdout.contains("XDG_CACHE_HOME"), "\(r)")
        #expect(!r.stdout.contains("LANG=C"), "\(r)")
        #expect(!r.stdout.contains("/tmp/ward-it"), "ward's HOME leaked: \(r)")
        #expect(r.stdout.contains("TERM=xterm"), "\(r)")
        #expect(r.stdout.contains("HOME=/root"), "\(r)")
    }

    @Test("no inherited fds: ward is started with extra fds (a file, a directory) and the workload sees only 0 1 2")
    func noInheritedFileDescriptors() async throws {
        let script = #"""
        echo SELF; ls -1 /proc/self/fd
        echo SHELL; ls -1 /proc/$$/fd
        echo END
        """#
        try await withSandbox(script: script) { sb in
            let file = open(sb.bundle + "/config.json", O_RDONLY | O_CLOEXEC)
            let directory = open(sb.bundle, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            defer { close(file); close(directory) }
            let extra: [Int32: Int32] = [5: file, 7: directory, 9: file]

            // The same spawn without ward does hand those fds over (the test proves something).
            let control = try Child(["/bin/ls", "-1", "/proc/self/fd"], extraFDs: extra, outputDirectory: sb.dir)
            let c = await control.wait()
            #expect(Set(c.stdout.split(separator: "\n").map(String.init)).isSuperset(of: ["0", "1", "2", "5", "7", "9"]), "\(c)")

            let r = try await sb.run(extraFDs: extra)
            #expect(r.status == 0, "\(r)")
            let lines = r.stdout.split(separator: "\n").map(String.init)
            guard let s = lines.firstIndex(of: "SELF"), let h = lines.firstIndex(of: "SHELL"), let e = lines.firstIndex(of: "END") else {
                Issue.record("unexpected output: \(r)")
                return
            }
            let selfFDs = Set(lines[(s + 1)..<h]), shellFDs = Set(lines[(h + 1)..<e])
            // The workload itself (the shell, exec'd by ward) holds exactly 0 1 2.
            #expect(shellFDs == ["0", "1", "2"], "\(r)")
            // ls holds 0 1 2 and the directory fd it is reading, at the lowest free number.
            #expect(selfFDs == ["0", "1", "2", "3"], "\(r)")
        }
    }

    @Test("--preserve-fds 1 passes fd 3 on, and only it")
    func preserveFileDescriptors() async throws {
        try await withSandbox(script: #"echo SHELL; ls -1 /proc/$$/fd; echo END; cat <&3"#) { sb in
            try "through fd 3\n".write(toFile: sb.dir + "/fd3.txt", atomically: false, encoding: .utf8)
            try await sb.chownToUser(sb.dir + "/fd3.txt")
            let three = open(sb.dir + "/fd3.txt", O_RDONLY | O_CLOEXEC)
            let other = open(sb.bundle + "/config.json", O_RDONLY | O_CLOEXEC)
            defer { close(three); close(other) }
            let r = try await sb.run(["--preserve-fds", "1"], extraFDs: [3: three, 6: other])
            #expect(r.status == 0, "\(r)")
            let lines = r.stdout.split(separator: "\n").map(String.init)
            if let s = lines.firstIndex(of: "SHELL"), let e = lines.firstIndex(of: "END") {
                #expect(Set(lines[(s + 1)..<e]) == ["0", "1", "2", "3"], "\(r)")
            } else {
                Issue.record("unexpected output: \(r)")
            }
            #expect(r.stdout.hasSuffix("through fd 3\n"), "\(r)")
        }
    }
}

import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The runc verbs as a container engine drives them (create, start, state, kill, delete, list,
/// exec, hooks, the console socket), run as the unprivileged test user against a state root of
/// the test's own. Each test ends with nothing left: no process, no host mount, no state.
@Suite("Lifecycle verbs: create/start/state/kill/delete, exec, hooks, console")
struct LifecycleVerbTests {
    static let loop = #"trap "exit 3" TERM; echo ready; while :; do sleep 0.1; done"#

    @Test("create → start → kill → delete, with state, list and the pid file at each step")
    func fullLifecycle() async throws {
        try await withSandbox(script: Self.loop) { sb in
            try await sb.save()
            let id = sb.id
            let pidFile = sb.dir + "/init.pid"
            let create = try sb.wardChild(["create", "--bundle", sb.bundle, "--pid-file", pidFile, id])
            let created = await create.wait(timeout: 20)
            #expect(created.status == 0, "\(created)")

            var state = try await sb.state(id)
            #expect(state["status"] as? String == "created", "\(state)")
            #expect(state["id"] as? String == id)
            #expect(state["bundle"] as? String == sb.bundle)
            #expect(state["ociVersion"] as? String != nil)
            #expect(state["owner"] as? String == String(sb.user.uid), "\(state)")
            let pid = try #require(state["pid"] as? Int, "\(state)")
            let pidText = try String(contentsOfFile: pidFile, encoding: .utf8)
            #expect(pidText.trimmingCharacters(in: .whitespacesAndNewlines) == String(pid), "pid file \(pidText) vs state \(pid)")
            #expect(Int32(pidText) != nil, "the pid file holds just the number: \(pidText.debugDescription)")
            // The init exists, in a pid namespace of its own (it is still ward's code until start).
            let initNS = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/pid")
            #expect(initNS != (try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/pid")))
            #expect(try await sb.list().map { $0["status"] as? String } == ["created"])
            // Waiting on the exec fifo: the workload has not run.
            try await Task.sleep(for: .milliseconds(100))
            #expect(!create.stdoutSoFar.contains("ready"), "the workload ran before start: \(create.stdoutSoFar)")

            let start = try await sb.ward(["start", id])
            #expect(start.status == 0, "\(start)")
            #expect(await create.waitForOutput("ready"), "the workload never started: \(create.stdoutSoFar)")
            #expect(try String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8).contains("/bin/sh"), "the init is the workload now")
            state = try await sb.state(id)
            #expect(state["status"] as? String == "running", "\(state)")
            #expect(state["pid"] as? Int == pid, "\(state)")
            let listed = try await sb.list()
            #expect(listed.map { $0["status"] as? String } == ["running"], "\(listed)")
            #expect(listed.first?["id"] as? String == id)

            let ps = try await sb.ward(["ps", "--format", "json", id])
            #expect(ps.status == 0, "\(ps)")
            let pids = try JSONSerialization.jsonObject(with: Data(ps.stdout.utf8)) as? [Int] ?? []
            #expect(pids.contains(pid), "\(ps)")

            let kill = try await sb.ward(["kill", id, "TERM"])
            #expect(kill.status == 0, "\(kill)")
            state = try await sb.waitForStatus(id, "stopped")
            #expect(state["status"] as? String == "stopped", "\(state)")
            #expect(state["pid"] == nil, "a stopped container has no pid: \(state)")
            #expect(try await sb.list().map { $0["status"] as? String } == ["stopped"])

            let delete = try await sb.ward(["delete", id])
            #expect(delete.status == 0, "\(delete)")
            let gone = try await sb.ward(["state", id])
            #expect(gone.status == 125, "\(gone)")
            #expect(gone.stderr.contains("does not exist"), "\(gone)")
            #expect(try await sb.list().isEmpty)
            #expect(sb.stateEntries().isEmpty, "state left: \(sb.stateEntries())")
        }
    }

    @Test("kill KILL stops a container whose init ignores TERM; delete --force removes a created one")
    func killAndForce() async throws {
        try await withSandbox(script: #"trap "" TERM; echo ready; while :; do sleep 0.1; done"#) { sb in
            try await sb.save()
            #expect(try await sb.ward(["create", "-b", sb.bundle, "a"]).status == 0)
            #expect(try await sb.ward(["create", "-b", sb.bundle, "b"]).status == 0)
            #expect(try await sb.ward(["start", "a"]).status == 0)
            #expect(try await sb.ward(["kill", "a", "TERM"]).status == 0)
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await sb.state("a")["status"] as? String == "running", "TERM is trapped and ignored")
            #expect(try await sb.ward(["kill", "a", "9"]).status == 0)
            #expect(try await sb.waitForStatus("a", "stopped")["status"] as? String == "stopped")
            #expect(try await sb.ward(["delete", "a"]).status == 0)
            // b is still created (waiting on its fifo): delete refuses, --force kills it.
            let refused = try await sb.ward(["delete", "b"])
            #expect(refused.status == 125 && refused.stderr.contains("created"), "\(refused)")
            #expect(try await sb.ward(["delete", "--force", "b"]).status == 0)
            #expect(sb.stateEntries().isEmpty, "\(sb.stateEntries())")
        }
    }

    @Test("exec joins every namespace, with its own caps, no_new_privs, env, cwd; its exit status passes through")
    func exec() async throws {
        let script = #"echo "host=$(hostname) ns=$(readlink /proc/self/ns/pid) cap=$(grep CapEff /proc/self/status | cut -f2)"; echo ready; while :; do sleep 0.1; done"#
        try await withSandbox(script: script, configure: { $0["process.noNewPrivileges"] = false }) { sb in
            try await sb.save()
            let create = try sb.wardChild(["create", "-b", sb.bundle, sb.id])
            #expect(await create.wait(timeout: 20).status == 0)
            #expect(try await sb.ward(["start", sb.id]).status == 0)
            #expect(await create.waitForOutput("ready"))
            let initLine = keyValuesSpaced(create.stdoutSoFar)
            let initPID = try #require(try await sb.state(sb.id)["pid"] as? Int)
            let hostView = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(initPID)/ns/pid")

            let probe = #"echo "host=$(hostname)"; echo "ns=$(readlink /proc/self/ns/pid)"; echo "init=$(tr '\0' ' ' </proc/1/cmdline)"; "#
                + #"grep -E '^(CapEff|NoNewPrivs)' /proc/self/status | tr -d '\t' | sed 's/:/=/'; echo "foo=$FOO"; echo "cwd=$(pwd)"; exit 7"#
            let plain = try await sb.ward(["exec", sb.id, "/bin/sh", "-c", probe])
            #expect(plain.status == 7, "exit status passes through: \(plain)")
            let p = keyValues(plain.stdout)
            #expect(p["host"] == "ward" && initLine["host"] == "ward", "\(plain) init: \(initLine)")
            #expect(p["ns"] == hostView && p["ns"] == initLine["ns"], "exec's pid ns \(p["ns"] ?? "-"), init's \(initLine["ns"] ?? "-"), host view \(hostView)")
            #expect(p["init"]?.contains("/bin/sh -c") == true, "pid 1 is the container's init: \(plain)")
            #expect(p["CapEff"] == "0000000000000000" && initLine["cap"] == "0000000000000000", "\(plain)")
            #expect(p["NoNewPrivs"] == "0", "\(plain)")
            #expect(p["foo"] == "" && p["cwd"] == "/", "\(plain)")

            let tuned = try await sb.ward(["exec", "--cap", "CAP_KILL", "--no-new-privs", "-e", "FOO=bar baz", "--cwd", "/etc",
                                           sb.id, "/bin/sh", "-c", probe])
            #expect(tuned.status == 7, "\(tuned)")
            let t = keyValues(tuned.stdout)
            #expect(t["CapEff"] == "0000000000000020", "CAP_KILL is bit 5: \(tuned)")
            #expect(t["NoNewPrivs"] == "1", "\(tuned)")
            #expect(t["foo"] == "bar baz" && t["cwd"] == "/etc", "\(tuned)")
            #expect(t["ns"] == hostView, "\(tuned)")
            // The init itself still has no capabilities.
            let initStatus = try String(contentsOfFile: "/proc/\(initPID)/status", encoding: .utf8)
            #expect(initStatus.contains("CapEff:\t0000000000000000"), "\(initStatus)")

            // --process FILE: the whole process from JSON.
            let processFile = sb.dir + "/process.json"
            let process: [String: Any] = [
                "args": ["/bin/sh", "-c", #"echo "proc=$X-$(pwd)-$(id -u)"; exit 4"#],
                "env": ["PATH=/bin", "X=42", sb.tokenVariable], "cwd": "/tmp", "user": ["uid": 0, "gid": 0],
            ]
            try JSONSerialization.data(withJSONObject: process).write(to: URL(fileURLWithPath: processFile))
            chmod(processFile, 0o644)
            let fromFile = try await sb.ward(["exec", "--process", processFile, sb.id])
            #expect(fromFile.status == 4, "\(fromFile)")
            #expect(keyValues(fromFile.stdout)["proc"] == "42-/tmp-0", "\(fromFile)")

            // exec --pid-file, --detach: the process is in the container and ends on its own.
            let execPid = sb.dir + "/exec.pid"
            let detached = try await sb.ward(["exec", "-d", "--pid-file", execPid, sb.id, "/bin/sleep", "0.3"])
            #expect(detached.status == 0, "\(detached)")
            let pidText = (try? String(contentsOfFile: execPid, encoding: .utf8)) ?? ""
            #expect(Int32(pidText) != nil, "exec --pid-file: \(pidText.debugDescription)")

            // An unknown capability is a clear error, not a silent drop.
            let badCap = try await sb.ward(["exec", "--cap", "CAP_NOPE", sb.id, "/bin/true"])
            #expect(badCap.status == 125 && badCap.stderr.contains("CAP_NOPE"), "\(badCap)")

            #expect(try await sb.ward(["delete", "--force", sb.id]).status == 0)
            #expect(sb.stateEntries().isEmpty)
        }
    }

    @Test("--preserve-fds 1 passes fd 3 to the workload, with create and with run")
    func preserveFDs() async throws {
        try await withSandbox(script: #"read line <&3 || exit 9; echo "fd3=$line""#) { sb in
            try await sb.save()
            let path = sb.dir + "/fd3.txt"
            try "from fd 3\n".write(toFile: path, atomically: false, encoding: .utf8)

            let fd = open(path, O_RDONLY | O_CLOEXEC)
            #expect(fd >= 0)
            defer { close(fd) }
            let create = try sb.wardChild(["create", "-b", sb.bundle, "--preserve-fds", "1", sb.id], extraFDs: [3: fd])
            let created = await create.wait(timeout: 20)
            #expect(created.status == 0, "\(created)")
            #expect(try await sb.ward(["start", sb.id]).status == 0)
            #expect(await create.waitForOutput("fd3="), "\(create.stdoutSoFar)")
            #expect(keyValues(create.stdoutSoFar)["fd3"] == "from fd 3", "\(create.stdoutSoFar)")
            _ = try await sb.waitForStatus(sb.id, "stopped")
            #expect(try await sb.ward(["delete", sb.id]).status == 0)

            let fd2 = open(path, O_RDONLY | O_CLOEXEC)
            defer { close(fd2) }
            let run = try await sb.ward(["run", "-b", sb.bundle, "--preserve-fds", "1", "r1"], extraFDs: [3: fd2])
            #expect(run.status == 0, "\(run)")
            #expect(keyValues(run.stdout)["fd3"] == "from fd 3", "\(run)")

            // Without --preserve-fds, fd 3 is not passed on.
            let fd3 = open(path, O_RDONLY | O_CLOEXEC)
            defer { close(fd3) }
            let closed = try await sb.ward(["run", "-b", sb.bundle, "r2"], extraFDs: [3: fd3])
            #expect(closed.status == 9 && closed.stderr.contains("Bad file descriptor"), "\(closed)")
            #expect(sb.stateEntries().isEmpty, "\(sb.stateEntries())")
        }
    }

    @Test("--console-socket: the pty master arrives over SCM_RIGHTS and drives the shell")
    func consoleSocket() async throws {
        try await withSandbox(args: ["/bin/sh"], configure: { $0["process.terminal"] = true }) { sb in
            try await sb.save()
            let listener = try ConsoleListener(path: sb.dir + "/console.sock", owner: sb.user)
            defer { listener.close() }
            let create = try sb.wardChild(["create", "-b", sb.bundle, "--console-socket", listener.path, sb.id])
            let master = try await listener.receiveFD(timeout: 20)
            defer { Glibc.close(master) }
            let created = await create.wait(timeout: 20)
            #expect(created.status == 0, "\(created)")
            var st = stat()
            #expect(fstat(master, &st) == 0 && (st.st_mode & S_IFMT) == S_IFCHR, "a character device (the pty master)")

            #expect(try await sb.ward(["start", sb.id]).status == 0)
            let terminal = PtyReader(fd: master)
            _ = await terminal.read(until: { !$0.isEmpty }, timeout: 3)  // the prompt
            terminal.write("echo hi-$((40+2))\n")
            let output = await terminal.read(until: { $0.contains("hi-42") }, timeout: 10)
            #expect(output.contains("hi-42"), "terminal output: \(output.debugDescription)")

            // exec -t: a second pty, over the same kind of socket.
            let execListener = try ConsoleListener(path: sb.dir + "/exec.sock", owner: sb.user)
            defer { execListener.close() }
            let exec = try sb.wardChild(["exec", "-t", "-d", "--console-socket", execListener.path, sb.id, "/bin/sh"])
            let execMaster = try await execListener.receiveFD(timeout: 20)
            defer { Glibc.close(execMaster) }
            #expect(await exec.wait(timeout: 20).status == 0)
            let execTerminal = PtyReader(fd: execMaster)
            _ = await execTerminal.read(until: { !$0.isEmpty }, timeout: 3)
            execTerminal.write("echo ex-$((1+1)) $(tty)\n")
            let execOutput = await execTerminal.read(until: { $0.contains("ex-2 /dev/pts/") }, timeout: 10)
            #expect(execOutput.contains("ex-2 /dev/pts/"), "exec terminal output: \(execOutput.debugDescription)")
            execTerminal.write("exit\n")

            terminal.write("exit\n")
            let state = try await sb.waitForStatus(sb.id, "stopped")
            #expect(state["status"] as? String == "stopped", "\(state)")
            #expect(try await sb.ward(["delete", sb.id]).status == 0)
            #expect(sb.stateEntries().isEmpty)
        }
    }

    @Test("a terminal container without --console-socket is refused")
    func terminalNeedsSocket() async throws {
        try await withSandbox(args: ["/bin/sh"], configure: { $0["process.terminal"] = true }) { sb in
            try await sb.save()
            let r = try await sb.ward(["create", "-b", sb.bundle, sb.id])
            #expect(r.status == 125 && r.stderr.contains("console-socket"), "\(r)")
            #expect(sb.stateEntries().isEmpty)
        }
    }

    @Test("kill --all reaches every process of the container, exec'd ones too")
    func killAll() async throws {
        try await withSandbox(script: #"trap "" TERM; echo ready; while :; do sleep 0.1; done"#) { sb in
            try await sb.save()
            #expect(try await sb.ward(["run", "-d", "-b", sb.bundle, sb.id]).status == 0)
            #expect(try await sb.ward(["exec", "-d", sb.id, "/bin/sleep", "60"]).status == 0)
            let before = try await sb.ward(["ps", "--format", "json", sb.id])
            let pids = try JSONSerialization.jsonObject(with: Data(before.stdout.utf8)) as? [Int] ?? []
            #expect(pids.count >= 2, "\(before)")
            let kill = try await sb.ward(["kill", "--all", sb.id, "SIGKILL"])
            #expect(kill.status == 0, "\(kill)")
            #expect(try await sb.waitForStatus(sb.id, "stopped")["status"] as? String == "stopped")
            #expect(await sb.waitForNoProcesses().isEmpty, "kill --all left: \(sb.processes())")
            let after = try await sb.ward(["ps", "--format", "json", sb.id])
            #expect(after.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "[]", "\(after)")
            let again = try await sb.ward(["kill", sb.id, "KILL"])
            #expect(again.status == 125 && again.stderr.contains("stopped"), "\(again)")
            #expect(try await sb.ward(["delete", sb.id]).status == 0)
            #expect(sb.stateEntries().isEmpty)
        }
    }

    @Test("foreground run registers its state while running (a generated id without one) and removes it, unless --keep")
    func runRegistersState() async throws {
        try await withSandbox(script: Self.loop) { sb in
            try await sb.save()
            let run = try sb.wardChild(["run", "-b", sb.bundle])
            #expect(await run.waitForOutput("ready"), "\(run.stderrSoFar)")
            let listed = try await sb.list()
            #expect(listed.count == 1, "\(listed)")
            let id = try #require(listed.first?["id"] as? String)
            #expect(id.hasPrefix("ward-") && id.count == 17, "generated id \(id)")
            #expect(listed.first?["status"] as? String == "running" && listed.first?["pid"] as? Int != nil, "\(listed)")
            #expect(try await sb.ward(["kill", id, "TERM"]).status == 0)
            let r = await run.wait(timeout: 20)
            #expect(r.status == 3, "the trap's status: \(r)")
            #expect(sb.stateEntries().isEmpty, "run removes its state at exit: \(sb.stateEntries())")

            sb.config["process.args"] = ["/bin/sh", "-c", "exit 4"]
            try await sb.save()
            let kept = try await sb.ward(["run", "--keep", "-b", sb.bundle, "kept"])
            #expect(kept.status == 4, "\(kept)")
            let state = try await sb.state("kept")
            #expect(state["status"] as? String == "stopped", "\(state)")
            let dup = try await sb.ward(["run", "-b", sb.bundle, "kept"])
            #expect(dup.status == 125 && dup.stderr.contains("already exists"), "\(dup)")
            #expect(try await sb.ward(["delete", "kept"]).status == 0)
            #expect(sb.stateEntries().isEmpty)
        }
    }

    @Test("while create is still in its hooks, state and list say creating (not damaged)")
    func stateWhileCreating() async throws {
        try await withSandbox(script: Self.loop) { sb in
            sb.config["hooks"] = ["prestart": [["path": "/bin/sleep", "args": ["sleep", "4"], "env": [sb.tokenVariable]]]]
            try await sb.save()
            let create = try sb.wardChild(["create", "-b", sb.bundle, sb.id])
            #expect(await sb.waitForStateEntry(sb.id), "the state entry never appeared")
            // The hook sleeps 4 s: poll (a loaded machine may be slow to get there), then check.
            var state = try await sb.ward(["state", sb.id])
            for _ in 0..<30 where !(state.status == 0 && state.stdout.contains(#""creating""#)) {
                try await Task.sleep(for: .milliseconds(100))
                state = try await sb.ward(["state", sb.id])
            }
            #expect(state.status == 0 && state.stdout.contains(#""creating""#), "state during create: \(state)")
            let list = try await sb.ward(["list", "--format", "json"])
            #expect(list.stdout.contains(#""creating""#), "list during create: \(list)")
            let delete = try await sb.ward(["delete", sb.id])
            #expect(delete.status == 125 && !delete.stderr.contains("damaged"), "delete (no --force) during create: \(delete)")
            #expect(await create.wait(timeout: 20).status == 0)
            #expect(try await sb.state(sb.id)["status"] as? String == "created")
            #expect(try await sb.ward(["delete", "--force", sb.id]).status == 0)
            #expect(sb.stateEntries().isEmpty)
        }
    }

    @Test("delete --force while create is in its hooks can't orphan the container's init")
    func forceDeleteWhileCreating() async throws {
        try await withSandbox(script: Self.loop) { sb in
            sb.config["hooks"] = ["prestart": [["path": "/bin/sleep", "args": ["sleep", "1.5"], "env": [sb.tokenVariable]]]]
            try await sb.save()
            let create = try sb.wardChild(["create", "-b", sb.bundle, sb.id])
            #expect(await sb.waitForStateEntry(sb.id), "the state entry never appeared")
            try await Task.sleep(for: .milliseconds(200))
            let forced = try await sb.ward(["delete", "--force", sb.id])
            let created = await create.wait(timeout: 20)
            // Either order is fine (delete waits for create and then removes the container, or create
            // notices and fails); an init left running without state is not.
            if sb.stateEntries().contains(sb.id) {
                #expect(try await sb.ward(["delete", "--force", sb.id]).status == 0)
            } else {
                let left = await sb.waitForNoProcesses(timeout: 2)
                #expect(left.isEmpty, """
                    delete --force (status \(forced.status)) during create (status \(created.status)) removed the state \
                    but left the init running, unreachable by ward: \(left)
                    """)
            }
            #expect(sb.stateEntries().isEmpty)
        }
    }

    // MARK: - hooks

    /// Appends "<phase> <status> <pid|nopid> <id|noid>" to $LOG, from the state on stdin.
    static let hookScript = #"""
        #!/bin/sh
        IFS= read -r in || true
        st=none
        for s in creating created running stopped; do
          case "$in" in *"\"status\":\"$s\""*|*"\"status\": \"$s\""*) st=$s;; esac
        done
        case "$in" in *'"pid"'*) pid=pid;; *) pid=nopid;; esac
        case "$in" in *"\"id\":\"$WANT_ID\""*|*"\"id\": \"$WANT_ID\""*) id=id;; *) id=noid;; esac
        echo "$1 $st $pid $id" >>"$LOG"
        """# + "\n"

    @Test("hooks run in order with the state on stdin: prestart … poststop across create/start/kill/delete")
    func hooksInOrder() async throws {
        try await withSandbox(script: Self.loop) { sb in
            let logDir = sb.dir + "/hooklog"
            try FileManager.default.createDirectory(atPath: logDir, withIntermediateDirectories: false)
            try FileManager.default.createDirectory(atPath: sb.rootfs + "/hooklog", withIntermediateDirectories: false)
            let hostHook = sb.dir + "/hook.sh"
            try writeExecutable(hostHook, Self.hookScript)
            try writeExecutable(sb.rootfs + "/hook.sh", Self.hookScript)
            try await sb.chownToUser(sb.dir)
            func hook(_ phase: String, path: String, log: String) -> [String: Any] {
                ["path": path, "args": ["hook", phase], "timeout": 10,
                 "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LOG=\(log)", "WANT_ID=\(sb.id)", sb.tokenVariable]]
            }
            let hostLog = logDir + "/hooks.log"
            var hooks: [String: Any] = [:]
            for phase in ["prestart", "createRuntime", "createContainer", "poststart", "poststop"] {
                hooks[phase] = [hook(phase, path: hostHook, log: hostLog)]
            }
            // startContainer runs in the container after pivot_root: the rootfs's copy, the bind mount.
            hooks["startContainer"] = [hook("startContainer", path: "/hook.sh", log: "/hooklog/hooks.log")]
            sb.config["hooks"] = hooks
            sb.config.edit("mounts") { $0.append(["destination": "/hooklog", "type": "bind", "source": logDir, "options": ["rbind", "rw"]]) }
            try await sb.save()

            let create = try await sb.ward(["create", "-b", sb.bundle, sb.id])
            #expect(create.status == 0, "\(create)")
            #expect(sb.hookLog(hostLog) == ["prestart", "createRuntime", "createContainer"], "\(sb.hookLogLines(hostLog))")
            let start = try await sb.ward(["start", sb.id])
            #expect(start.status == 0, "\(start)")
            #expect(try await sb.ward(["kill", sb.id, "KILL"]).status == 0)
            _ = try await sb.waitForStatus(sb.id, "stopped")
            let delete = try await sb.ward(["delete", sb.id])
            #expect(delete.status == 0, "\(delete)")

            let lines = sb.hookLogLines(hostLog)
            #expect(lines.map { $0.split(separator: " ").first.map(String.init) ?? "" }
                    == ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"], "\(lines)")
            for line in lines {
                #expect(line.hasSuffix(" id"), "the hook's stdin had the container's id: \(line)")
            }
            let byPhase = Dictionary(lines.map { l in (String(l.prefix { $0 != " " }), l) }, uniquingKeysWith: { a, _ in a })
            #expect(byPhase["prestart"] == "prestart creating pid id", "\(lines)")
            #expect(byPhase["startContainer"] == "startContainer created pid id", "\(lines)")
            #expect(byPhase["poststart"] == "poststart running pid id", "\(lines)")
            #expect(byPhase["poststop"] == "poststop stopped nopid id", "\(lines)")
            #expect(sb.stateEntries().isEmpty)
        }
    }

    @Test("hooks with foreground run: the same six phases in order")
    func hooksWithRun() async throws {
        try await withSandbox(script: "echo workload") { sb in
            let hostHook = sb.dir + "/hook.sh"
            try writeExecutable(hostHook, Self.hookScript)
            try writeExecutable(sb.rootfs + "/hook.sh", Self.hookScript)
            try FileManager.default.createDirectory(atPath: sb.dir + "/hooklog", withIntermediateDirectories: false)
            try FileManager.default.createDirectory(atPath: sb.rootfs + "/hooklog", withIntermediateDirectories: false)
            try await sb.chownToUser(sb.dir)
            let hostLog = sb.dir + "/hooklog/hooks.log"
            var hooks: [String: Any] = [:]
            for phase in ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"] {
                let inside = phase == "startContainer"
                hooks[phase] = [["path": inside ? "/hook.sh" : hostHook, "args": ["hook", phase],
                                 "env": ["PATH=/usr/bin:/bin", "LOG=\(inside ? "/hooklog/hooks.log" : hostLog)", "WANT_ID=\(sb.id)", sb.tokenVariable]]]
            }
            sb.config["hooks"] = hooks
            sb.config.edit("mounts") { $0.append(["destination": "/hooklog", "type": "bind", "source": sb.dir + "/hooklog", "options": ["rbind", "rw"]]) }
            try await sb.save()
            let run = try await sb.ward(["run", "-b", sb.bundle, sb.id])
            #expect(run.status == 0 && run.stdout == "workload\n", "\(run)")
            #expect(sb.hookLog(hostLog) == ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
                    "\(sb.hookLogLines(hostLog))")
            #expect(sb.stateEntries().isEmpty)
        }
    }

    @Test("a failing prestart hook makes create fail with a clear error and leaves nothing")
    func failingHook() async throws {
        try await withSandbox(script: Self.loop) { sb in
            sb.config["hooks"] = ["prestart": [["path": "/bin/sh", "args": ["sh", "-c", "exit 1"], "env": [sb.tokenVariable]]]]
            try await sb.save()
            let r = try await sb.ward(["create", "-b", sb.bundle, sb.id])
            #expect(r.status == 125, "\(r)")
            #expect(r.stderr.contains("hooks.prestart[0]") && r.stderr.contains("status 1"), "\(r)")
            #expect(r.stderr.split(separator: "\n").count == 1, "one line: \(r)")
            #expect(sb.stateEntries().isEmpty, "\(sb.stateEntries())")
            #expect(await sb.waitForNoProcesses().isEmpty)
            let state = try await sb.ward(["state", sb.id])
            #expect(state.status == 125 && state.stderr.contains("does not exist"), "\(state)")
        }
    }

    @Test("a hook that hangs past its timeout fails create within a few seconds")
    func hookTimeout() async throws {
        try await withSandbox(script: Self.loop) { sb in
            sb.config["hooks"] = ["createRuntime": [["path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1, "env": [sb.tokenVariable]]]]
            try await sb.save()
            let r = try await sb.ward(["create", "-b", sb.bundle, sb.id], timeout: 20)
            #expect(r.status == 125, "\(r)")
            #expect(r.elapsed < 6, "\(r)")
            #expect(r.stderr.contains("hooks.createRuntime[0]") && r.stderr.contains("timed out"), "\(r)")
            #expect(sb.stateEntries().isEmpty, "\(sb.stateEntries())")
        }
    }

    @Test("a failing createContainer hook fails create; failing poststart/poststop hooks are warnings")
    func hookFailureModes() async throws {
        try await withSandbox(script: Self.loop) { sb in
            sb.config["hooks"] = ["createContainer": [["path": "/bin/sh", "args": ["sh", "-c", "exit 2"], "env": [sb.tokenVariable]]]]
            try await sb.save()
            let r = try await sb.ward(["create", "-b", sb.bundle, sb.id])
            #expect(r.status == 125 && r.stderr.contains("hooks.createContainer[0]") && r.stderr.contains("status 2"), "\(r)")
            #expect(sb.stateEntries().isEmpty, "\(sb.stateEntries())")
            #expect(await sb.waitForNoProcesses().isEmpty, "\(sb.processes())")

            let failing: [[String: Any]] = [["path": "/bin/false", "args": ["false"]]]
            sb.config["hooks"] = ["poststart": failing, "poststop": failing]
            try await sb.save()
            #expect(try await sb.ward(["create", "-b", sb.bundle, sb.id]).status == 0)
            let start = try await sb.ward(["start", sb.id])
            #expect(start.status == 0 && start.stderr.contains("hooks.poststart[0]"), "a warning, not a failure: \(start)")
            #expect(try await sb.state(sb.id)["status"] as? String == "running")
            let delete = try await sb.ward(["delete", "--force", sb.id])
            #expect(delete.status == 0 && delete.stderr.contains("hooks.poststop[0]"), "\(delete)")
            #expect(sb.stateEntries().isEmpty)
        }
    }

    @Test("a failing startContainer hook fails start and stops the container")
    func failingStartContainerHook() async throws {
        try await withSandbox(script: Self.loop) { sb in
            sb.config["hooks"] = ["startContainer": [["path": "/bin/false", "args": ["false"]]]]
            try await sb.save()
            let create = try sb.wardChild(["create", "-b", sb.bundle, sb.id])
            #expect(await create.wait(timeout: 20).status == 0)
            let r = try await sb.ward(["start", sb.id])
            #expect(r.status == 125 && r.stderr.contains("hooks.startContainer[0]"), "\(r)")
            #expect(try await sb.waitForStatus(sb.id, "stopped")["status"] as? String == "stopped")
            #expect(!create.stdoutSoFar.contains("ready"), "the workload must not run: \(create.stdoutSoFar)")
            #expect(try await sb.ward(["delete", sb.id]).status == 0)
            #expect(sb.stateEntries().isEmpty)
        }
    }

    // MARK: - concurrency, bad input, logs

    @Test("50 containers created, started and deleted concurrently: all succeed, nothing is left")
    func concurrent() async throws {
        try await withSandbox(args: ["/bin/sleep", "60"]) { sb in
            try await sb.save()
            let ids = (0..<50).map { "c\($0)" }
            let runner = sb.runner, bundle = sb.bundle
            let failures = await withTaskGroup(of: String?.self) { group -> [String] in
                var pending = ids[...]
                var failures: [String] = []
                func add() {
                    guard let id = pending.popFirst() else { return }
                    group.addTask {
                        do {
                            for verb in [["create", "-b", bundle, id], ["start", id], ["state", id], ["delete", "--force", id]] {
                                let r = try await runner.run(verb)
                                if r.status != 0 { return "\(id) \(verb[0]): \(r)" }
                                if verb[0] == "state" && !r.stdout.contains(#""running""#) { return "\(id) not running: \(r.stdout)" }
                            }
                            return nil
                        } catch {
                            return "\(id): \(error)"
                        }
                    }
                }
                for _ in 0..<12 { add() }
                for await failure in group {
                    if let failure { failures.append(failure) }
                    add()
                }
                return failures
            }
            #expect(failures.isEmpty, "\(failures.count) failed:\n\(failures.prefix(3).joined(separator: "\n"))")
            #expect(sb.stateEntries().isEmpty, "\(sb.stateEntries())")
            #expect(try await sb.list().isEmpty)
        }
    }

    @Test("bad input to the verbs: non-zero, one clear line, and another container is undisturbed")
    func badInput() async throws {
        try await withSandbox(script: Self.loop) { sb in
            try await sb.save()
            let bystander = try sb.wardChild(["create", "-b", sb.bundle, "bystander"])
            #expect(await bystander.wait(timeout: 20).status == 0)
            #expect(try await sb.ward(["start", "bystander"]).status == 0)
            let pid = try #require(try await sb.state("bystander")["pid"] as? Int)

            var cases: [(args: [String], fragment: String)] = []
            for verb in ["state", "start", "kill", "delete", "exec", "ps", "resume"] {
                cases.append(([verb, "nope"] + (verb == "exec" ? ["/bin/true"] : []), "does not exist"))
            }
            cases.append((["create", "-b", sb.bundle, "bystander"], "already exists"))
            for bad in ["a/b", "..", "../x", ".hidden", ""] {
                cases.append((["create", "-b", sb.bundle, bad], "invalid"))
                cases.append((["state", bad], "invalid"))
                cases.append((["delete", "--force", bad], "invalid"))
            }
            cases.append((["start", "bystander"], "running"))
            cases.append((["kill", "bystander", "NOSUCHSIG"], "unknown signal"))
            cases.append((["kill", "bystander", "99"], "unknown signal"))
            cases.append((["pause", "bystander"], "cgroup"))
            cases.append((["resume", "bystander"], "cgroup"))
            cases.append((["delete", "bystander"], "running"))
            cases.append((["list", "--format", "yaml"], "--format"))
            cases.append((["create", "-b", sb.dir + "/no-such-bundle", "x"], "no-such-bundle"))
            cases.append((["start"], "missing container ID"))

            for c in cases {
                let r = try await sb.ward(c.args)
                let lines = r.stderr.split(separator: "\n")
                #expect(r.status == 125, "\(c.args): \(r)")
                #expect(lines.count == 1 && lines[0].hasPrefix("ward: "), "\(c.args): one line: \(r)")
                #expect(r.stderr.contains(c.fragment), "\(c.args) should say \(c.fragment): \(r)")
            }
            // Nothing of those left a trace: no "x" or "nope" entries, and the bystander still runs.
            #expect(sb.stateEntries() == ["bystander"], "\(sb.stateEntries())")
            let state = try await sb.state("bystander")
            #expect(state["status"] as? String == "running" && state["pid"] as? Int == pid, "\(state)")

            // A second running container: delete without --force refuses, with --force works.
            #expect(try await sb.ward(["run", "-d", "-b", sb.bundle, "victim"]).status == 0)
            let refused = try await sb.ward(["delete", "victim"])
            #expect(refused.status == 125 && refused.stderr.contains("--force"), "\(refused)")
            #expect(try await sb.state("victim")["status"] as? String == "running")
            let forced = try await sb.ward(["delete", "--force", "victim"])
            #expect(forced.status == 0, "\(forced)")
            #expect(try await sb.state("bystander")["status"] as? String == "running")

            #expect(try await sb.ward(["delete", "--force", "bystander"]).status == 0)
            #expect(sb.stateEntries().isEmpty, "\(sb.stateEntries())")
        }
    }

    @Test("--log FILE --log-format json writes JSON lines with level, msg and time")
    func jsonLog() async throws {
        try await withSandbox(script: "true") { sb in
            let log = sb.dir + "/ward.log"
            let r = try await sb.ward(["--log", log, "--log-format", "json", "state", "no-such-container"])
            #expect(r.status == 125, "\(r)")
            #expect(r.stderr.contains("does not exist"), "errors still reach stderr: \(r)")
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            let lines = text.split(separator: "\n")
            #expect(!lines.isEmpty, "log: \(text.debugDescription)")
            for line in lines {
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] ?? [:]
                #expect(object["level"] as? String == "error", "\(line)")
                #expect((object["msg"] as? String)?.contains("does not exist") == true, "\(line)")
                let time = object["time"] as? String ?? ""
                #expect(ISO8601DateFormatter.withFractional.date(from: time) != nil, "RFC 3339 time: \(line)")
            }

            let bad = try await sb.ward(["--log-format", "xml", "list"])
            #expect(bad.status == 125 && bad.stderr.contains("--log-format"), "\(bad)")
        }
    }
}

// MARK: - helpers

/// Writes an executable through an O_CLOEXEC fd: Foundation's String.write leaves its fd
/// inheritable, and a child spawned meanwhile by a parallel test keeps it open for writing, so
/// executing the file fails with ETXTBSY.
func writeExecutable(_ path: String, _ text: String) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o755)
    guard fd >= 0 else { throw TestFailure("open \(path): errno \(errno)") }
    defer { close(fd) }
    let bytes = Array(text.utf8)
    guard write(fd, bytes, bytes.count) == bytes.count else { throw TestFailure("write \(path): errno \(errno)") }
    fchmod(fd, 0o755)
}

extension ISO8601DateFormatter {
    nonisolated(unsafe) static let withFractional: ISO8601DateFormatter = {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f
    }()
}

/// "key=value" words of a line such as "host=ward ns=pid:[1] CapEff:\t0".
func keyValuesSpaced(_ text: String) -> [String: String] {
    var result: [String: String] = [:]
    for word in text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }) {
        guard let eq = word.firstIndex(of: "=") else { continue }
        result[String(word[..<eq])] = String(word[word.index(after: eq)...])
    }
    return result
}

extension Sandbox {
    /// This test's state root (ward makes it, 0700, as the test user).
    var stateRoot: String { dir + "/state" }

    /// `ward --root STATE ARGS` as the test user, started (not waited for).
    func wardChild(_ args: [String], extraFDs: [Int32: Int32] = [:]) throws -> Child {
        try Child(invocation(["--root", stateRoot] + args, as: .testUser), extraFDs: extraFDs, outputDirectory: dir)
    }

    /// The same, as a Sendable value for task groups.
    var runner: WardRunner { WardRunner(prefix: invocation(["--root", stateRoot], as: .testUser), dir: dir) }

    /// `ward --root STATE ARGS` as the test user, to the end.
    func ward(_ args: [String], extraFDs: [Int32: Int32] = [:],
              timeout: TimeInterval = 30) async throws -> Child.Result {
        await (try wardChild(args, extraFDs: extraFDs)).wait(timeout: timeout)
    }

    func state(_ id: String) async throws -> [String: Any] {
        let r = try await ward(["state", id])
        guard r.status == 0 else { throw TestFailure("ward state \(id): \(r)") }
        guard let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any] else {
            throw TestFailure("ward state \(id): not a JSON object: \(r)")
        }
        return object
    }

    func list() async throws -> [[String: Any]] {
        let r = try await ward(["list", "--format", "json"])
        guard r.status == 0 else { throw TestFailure("ward list: \(r)") }
        guard let array = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]] else {
            throw TestFailure("ward list: not a JSON array: \(r)")
        }
        return array
    }

    /// Polls `ward state` until the status is `status` (or 10 s pass); returns the last state.
    func waitForStatus(_ id: String, _ status: String, timeout: TimeInterval = 10) async throws -> [String: Any] {
        let deadline = Date().addingTimeInterval(timeout)
        var state = try await self.state(id)
        while state["status"] as? String != status && Date() < deadline {
            try await Task.sleep(for: .milliseconds(50))
            state = try await self.state(id)
        }
        return state
    }

    /// Polls until `<root>/<id>` exists.
    func waitForStateEntry(_ id: String, timeout: TimeInterval = 10) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if access(stateRoot + "/" + id, F_OK) == 0 { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return false
    }

    /// The entries of the state root (none, when it does not exist).
    func stateEntries() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: stateRoot)) ?? []).sorted()
    }

    func hookLogLines(_ path: String) -> [String] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    /// The phases in a hook log, in order.
    func hookLog(_ path: String) -> [String] {
        hookLogLines(path).map { String($0.prefix { $0 != " " }) }
    }
}

struct WardRunner: Sendable {
    var prefix: [String]
    var dir: String
    func run(_ args: [String], timeout: TimeInterval = 30) async throws -> Child.Result {
        await (try Child(prefix + args, outputDirectory: dir)).wait(timeout: timeout)
    }
}

/// An AF_UNIX listener for `--console-socket`: accepts one connection and takes the fd that
/// comes with its SCM_RIGHTS message (as conmon and go-runc do).
final class ConsoleListener {
    let path: String
    let fd: Int32

    init(path: String, owner: TestUser) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: errno \(errno)") }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { throw TestFailure("\(path): too long") }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0, listen(fd, 1) == 0 else { throw TestFailure("bind/listen \(path): errno \(errno)") }
        // connect() needs write permission on the socket file.
        chown(path, owner.uid, owner.gid)
    }

    func close() { Glibc.close(fd) }

    /// Waits (without blocking a thread) until `fd` is readable.
    static func waitReadable(_ fd: Int32, deadline: Date) async throws {
        while true {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, 0) > 0 { return }
            if Date() > deadline { throw TestFailure("timed out waiting on fd \(fd)") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Accepts one connection and returns the fd passed in its first message.
    func receiveFD(timeout: TimeInterval) async throws -> Int32 {
        let deadline = Date().addingTimeInterval(timeout)
        try await Self.waitReadable(fd, deadline: deadline)
        let conn = accept(fd, nil, nil)
        guard conn >= 0 else { throw TestFailure("accept: errno \(errno)") }
        _ = fcntl(conn, F_SETFD, FD_CLOEXEC)
        defer { Glibc.close(conn) }
        try await Self.waitReadable(conn, deadline: deadline)

        var data = [UInt8](repeating: 0, count: 4096)
        // CMSG_SPACE(sizeof(int)) is 24 on 64-bit Linux; room for a few.
        var control = [UInt8](repeating: 0, count: 128)
        let received: Int = data.withUnsafeMutableBytes { dataBuf in
            control.withUnsafeMutableBytes { controlBuf in
                var iov = iovec(iov_base: dataBuf.baseAddress, iov_len: dataBuf.count)
                return withUnsafeMutablePointer(to: &iov) { iovp in
                    var msg = msghdr()
                    msg.msg_iov = iovp
                    msg.msg_iovlen = 1
                    msg.msg_control = controlBuf.baseAddress
                    msg.msg_controllen = controlBuf.count
                    let n = recvmsg(conn, &msg, Int32(MSG_CMSG_CLOEXEC))
                    return n < 0 ? -1 : Int(msg.msg_controllen)
                }
            }
        }
        guard received >= 0 else { throw TestFailure("recvmsg: errno \(errno)") }
        // struct cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; } then the data, 8-aligned.
        var offset = 0
        let header = MemoryLayout<Int>.size + 8
        while offset + header <= received {
            let len = control[offset..<offset + 8].withUnsafeBytes { $0.loadUnaligned(as: Int.self) }
            let level = control[offset + 8..<offset + 12].withUnsafeBytes { $0.loadUnaligned(as: Int32.self) }
            let type = control[offset + 12..<offset + 16].withUnsafeBytes { $0.loadUnaligned(as: Int32.self) }
            if level == SOL_SOCKET && type == 1 /* SCM_RIGHTS */ && len >= header + 4 {
                return control[offset + header..<offset + header + 4].withUnsafeBytes { $0.loadUnaligned(as: Int32.self) }
            }
            guard len > 0 else { break }
            offset += (len + 7) & ~7
        }
        throw TestFailure("no SCM_RIGHTS fd in the console socket message (\(received) bytes of control data)")
    }
}

/// Non-blocking reads and writes on a pty master.
final class PtyReader {
    let fd: Int32
    var buffer: [UInt8] = []

    init(fd: Int32) {
        self.fd = fd
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    }

    func write(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    }

    /// Reads until `done(all text so far)` or EOF/EIO or the timeout; returns the text.
    func read(until done: (String) -> Bool, timeout: TimeInterval) async -> String {
        let deadline = Date().addingTimeInterval(timeout)
        var chunk = [UInt8](repeating: 0, count: 4096)
        while Date() < deadline {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                buffer += chunk[0..<n]
                if done(String(decoding: buffer, as: UTF8.self)) { break }
                continue
            }
            if n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) { break }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return String(decoding: buffer, as: UTF8.self)
    }
}

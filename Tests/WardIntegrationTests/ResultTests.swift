import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `ward run --result`: the record for each way a sandbox can end, checked field by field and
/// against docs/result-schema.json (with python3's jsonschema, Draft 2020-12); the redirections
/// and the per-run config changes test harnesses use.
@Suite("Result records")
struct ResultTests {
    static let schema = Harness.repoRoot + "/docs/result-schema.json"

    /// The record ward wrote to `path`.
    static func record(_ path: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let object = try JSONSerialization.jsonObject(with: data)
        return try #require(object as? [String: Any], "not a JSON object: \(String(decoding: data, as: UTF8.self))",
                            sourceLocation: sourceLocation)
    }

    /// Validates the files against the schema; returns the validator's complaints (empty: valid).
    static func schemaErrors(_ paths: [String], in dir: String) async throws -> String {
        let script = """
        import json, sys, jsonschema
        schema = json.load(open(sys.argv[1]))
        jsonschema.Draft202012Validator.check_schema(schema)
        validator = jsonschema.Draft202012Validator(schema)
        for path in sys.argv[2:]:
            for e in validator.iter_errors(json.load(open(path))):
                print(f"{path}: {'/'.join(map(str, e.absolute_path))}: {e.message}")
        """
        return try await Child.check([python, "-c", script, schema] + paths, in: dir)
    }

    /// A python3 with jsonschema (scripts/install-deps installs Debian's python3-jsonschema;
    /// a python3 earlier on PATH, e.g. pyenv's, is used if it has the module).
    static let python: String = {
        for candidate in ["python3", "/usr/bin/python3"] {
            if let r = try? Child.runSync([candidate, "-c", "import jsonschema; jsonschema.Draft202012Validator"]), r.status == 0 {
                return candidate
            }
        }
        return "python3"  // the failure then says what is missing
    }()

    static func expectValid(_ paths: [String], in dir: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let errors = try await schemaErrors(paths, in: dir)
        #expect(errors.isEmpty, "schema violations:\n\(errors)", sourceLocation: sourceLocation)
    }

    static func seconds(_ v: Any?) -> Double? { (v as? NSNumber)?.doubleValue }

    @Test("the schema is a valid Draft 2020-12 schema and rejects a record that breaks it")
    func schemaItself() async throws {
        let dir = Harness.makeTempDirectory(prefix: "ward-schema")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bad = dir + "/bad.json"
        try #"{"schemaVersion": 2, "id": "x", "secretEnv": "leak"}"#.write(toFile: bad, atomically: false, encoding: .utf8)
        let errors = try await Self.schemaErrors([bad], in: dir)
        #expect(errors.contains("schemaVersion") || errors.contains("2 was expected"), "\(errors)")
        #expect(errors.contains("secretEnv"), "\(errors)")
    }

    @Test("exit 3: exitCode 3, no signal, setup/workload timing and the init's rusage")
    func exitThree() async throws {
        try await withSandbox(script: "echo busy; i=0; while [ $i -lt 2000 ]; do i=$((i+1)); done; exit 3") { sb in
            let path = sb.dir + "/result.json"
            let r = try await sb.run(["--result", path])
            #expect(r.status == 3, "\(r)")
            #expect(r.stdout == "busy\n")
            let rec = try Self.record(path)
            #expect(rec["schemaVersion"] as? Int == 1)
            #expect(rec["id"] as? String == sb.id)
            #expect(rec["bundle"] as? String == sb.bundle)
            #expect(rec["exitCode"] as? Int == 3 && rec["wardExitCode"] as? Int == 3)
            #expect(rec["signal"] is NSNull && rec["launchError"] is NSNull)
            #expect(rec["timedOut"] as? Bool == false)
            #expect(rec["oomKilled"] is NSNull && rec["seccompDenials"] is NSNull && rec["image"] is NSNull && rec["profile"] is NSNull)
            let timing = try #require(rec["timing"] as? [String: Any])
            let setup = try #require(Self.seconds(timing["setupSeconds"])), workload = try #require(Self.seconds(timing["workloadSeconds"]))
            let total = try #require(Self.seconds(timing["totalSeconds"]))
            #expect(setup > 0 && setup < 10 && workload > 0 && total >= setup + workload - 0.001, "\(timing)")
            let usage = try #require(rec["usage"] as? [String: Any])
            #expect((Self.seconds(usage["userSeconds"]) ?? 0) + (Self.seconds(usage["systemSeconds"]) ?? 0) > 0, "\(usage)")
            #expect((usage["maxRSSKiB"] as? Int ?? 0) > 100, "\(usage)")
            try await Self.expectValid([path], in: sb.dir)
        }
    }

    @Test("killed by SIGSEGV (no pid namespace, so the shell is not init): signal SIGSEGV/11, exitCode null, ward 139")
    func segfault() async throws {
        try await withSandbox(script: "kill -SEGV $$", configure: {
            $0.removeNamespace("pid")
            $0.removeMount("/proc")
            $0["linux.maskedPaths"] = nil
            $0["linux.readonlyPaths"] = nil
        }) { sb in
            let path = sb.dir + "/result.json"
            let r = try await sb.run(["--result", path])
            #expect(r.status == 139, "\(r)")
            let rec = try Self.record(path)
            #expect(rec["exitCode"] is NSNull && rec["wardExitCode"] as? Int == 139)
            let signal = try #require(rec["signal"] as? [String: Any])
            #expect(signal["name"] as? String == "SIGSEGV" && signal["number"] as? Int == 11)
            #expect(rec["timedOut"] as? Bool == false && rec["launchError"] is NSNull)
            try await Self.expectValid([path], in: sb.dir)
        }
    }

    @Test("timed out: timedOut, SIGKILL, ward 124, workload time about the timeout")
    func timedOut() async throws {
        try await withSandbox(args: ["/bin/sleep", "30"]) { sb in
            let path = sb.dir + "/result.json"
            let r = try await sb.run(["--timeout", "300ms", "--result", path])
            #expect(r.status == 124, "\(r)")
            let rec = try Self.record(path)
            #expect(rec["timedOut"] as? Bool == true && rec["wardExitCode"] as? Int == 124 && rec["exitCode"] is NSNull)
            let signal = try #require(rec["signal"] as? [String: Any])
            #expect(signal["name"] as? String == "SIGKILL" && signal["number"] as? Int == 9)
            let workload = Self.seconds((rec["timing"] as? [String: Any])?["workloadSeconds"]) ?? 0
            #expect(workload > 0.2 && workload < 5, "\(rec)")
            try await Self.expectValid([path], in: sb.dir)
        }
    }

    @Test("a syscall the default seccomp filter denies (unshare -U): EPERM, the workload exits 1")
    func deniedSyscall() async throws {
        try await withSandbox(args: ["/bin/unshare", "-U", "/bin/true"]) { sb in
            let path = sb.dir + "/result.json"
            let r = try await sb.run(["--result", path])
            #expect(r.status == 1, "\(r)")
            #expect(r.stderr.contains("Operation not permitted"), "\(r)")
            let rec = try Self.record(path)
            #expect(rec["exitCode"] as? Int == 1 && rec["signal"] is NSNull && rec["launchError"] is NSNull)
            #expect(rec["seccompDenials"] is NSNull)  // not collected without --seccomp-report
            try await Self.expectValid([path], in: sb.dir)
        }
    }

    @Test("launch failures: a missing program (127) and a missing bundle (125) record launchError, the message ward printed")
    func launchFailures() async throws {
        try await withSandbox(args: ["/bin/no-such-program"]) { sb in
            let missing = sb.dir + "/missing.json", noBundle = sb.dir + "/nobundle.json", badFlag = sb.dir + "/badflag.json"
            let r = try await sb.run(["--result", missing])
            #expect(r.status == 127, "\(r)")
            let rec = try Self.record(missing)
            let message = try #require(rec["launchError"] as? String)
            #expect(message.contains("/bin/no-such-program") && message.contains("ENOENT"))
            #expect(r.stderr.contains("ward: " + message), "\(r)")
            #expect(rec["wardExitCode"] as? Int == 127 && rec["exitCode"] is NSNull && rec["usage"] is NSNull)
            #expect(Self.seconds((rec["timing"] as? [String: Any])?["workloadSeconds"]) == nil)

            let r2 = try await Child(sb.invocation(["run", "--bundle", sb.dir + "/nope", "--result", noBundle, "nb"], as: .testUser),
                                     outputDirectory: sb.dir).wait()
            #expect(r2.status == 125, "\(r2)")
            let rec2 = try Self.record(noBundle)
            #expect((rec2["launchError"] as? String)?.contains(sb.dir + "/nope") == true && rec2["bundle"] is NSNull)
            #expect(rec2["wardExitCode"] as? Int == 125)

            // A bad value of ward's own options is a launch failure too, written to the record.
            let r3 = try await sb.run(["--timeout", "soon", "--result", badFlag])
            #expect(r3.status == 125, "\(r3)")
            #expect((try Self.record(badFlag)["launchError"] as? String)?.contains("--timeout") == true)
            try await Self.expectValid([missing, noBundle, badFlag], in: sb.dir)
        }
    }

    @Test("--result fd:N writes to an inherited fd; fds inside --preserve-fds are refused")
    func resultFD() async throws {
        try await withSandbox(script: "exit 0") { sb in
            let path = sb.dir + "/via-fd.json"
            let fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            #expect(fd >= 0)
            defer { close(fd) }
            let r = try await sb.run(["--result", "fd:5"], extraFDs: [5: fd])
            #expect(r.status == 0, "\(r)")
            #expect(try Self.record(path)["exitCode"] as? Int == 0)
            let r2 = try await sb.run(["--preserve-fds", "3", "--result", "fd:5"], extraFDs: [3: fd, 4: fd, 5: fd])
            #expect(r2.status == 125 && r2.stderr.contains("--preserve-fds"), "\(r2)")
        }
    }

    @Test("--stdin/--stdout/--stderr: files opened by ward, 0644, truncated; one file for both is shared; a symlink is refused")
    func redirections() async throws {
        try await withSandbox(script: "read a; echo \"out:$a\"; echo err >&2; echo out2") { sb in
            let input = sb.dir + "/in.txt", out = sb.dir + "/out.txt", err = sb.dir + "/err.txt", both = sb.dir + "/both.txt"
            try "hello\n".write(toFile: input, atomically: false, encoding: .utf8)
            try "stale content that must go\n".write(toFile: out, atomically: false, encoding: .utf8)
            try await sb.chownToUser(out)
            let r = try await sb.run(["--stdin", input, "--stdout", out, "--stderr", err])
            #expect(r.status == 0, "\(r)")
            #expect(r.stdout.isEmpty && r.stderr.isEmpty, "\(r)")
            #expect(try String(contentsOfFile: out, encoding: .utf8) == "out:hello\nout2\n")
            #expect(try String(contentsOfFile: err, encoding: .utf8) == "err\n")
            var st = stat()
            #expect(stat(err, &st) == 0 && st.st_mode & 0o777 == 0o644 && st.st_uid == sb.user.uid)

            let r2 = try await sb.run(["--stdin", input, "--stdout", both, "--stderr", both])
            #expect(r2.status == 0, "\(r2)")
            #expect(try String(contentsOfFile: both, encoding: .utf8) == "out:hello\nerr\nout2\n")

            let link = sb.dir + "/link.txt"
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: out)
            let result = sb.dir + "/refused.json"
            let r3 = try await sb.run(["--stdout", link, "--result", result])
            #expect(r3.status == 125 && r3.stderr.contains("ELOOP"), "\(r3)")
            #expect((try Self.record(result)["launchError"] as? String)?.contains("symlink") == true)
            #expect(try String(contentsOfFile: out, encoding: .utf8) == "out:hello\nout2\n")  // untouched
        }
    }

    @Test("--env sets (and overrides), --mount binds (ro refuses writes), ID -- ARGS replaces process.args")
    func overrides() async throws {
        try await withSandbox(script: "echo from-config") { sb in
            let share = sb.dir + "/share"
            try FileManager.default.createDirectory(atPath: share, withIntermediateDirectories: false)
            try "data\n".write(toFile: share + "/input", atomically: false, encoding: .utf8)
            try await sb.chownToUser(share)
            try await sb.save()
            let script = #"echo "A=$A PATH=$PATH"; cat /mnt/in/input; touch /mnt/in/x 2>/dev/null && echo rw || echo ro; touch /mnt/rw/y && echo rw"#
            let r = try await Child(sb.invocation(["run", "--bundle", sb.bundle, "--env", "A=1 2", "--env", "PATH=/bin",
                                                   "--mount", "\(share):/mnt/in:ro", "--mount", "\(share):/mnt/rw",
                                                   sb.id, "--", "/bin/sh", "-c", script], as: .testUser),
                                    outputDirectory: sb.dir).wait()
            #expect(r.status == 0, "\(r)")
            #expect(r.stdout == "A=1 2 PATH=/bin\ndata\nro\nrw\n", "\(r)")
            #expect(FileManager.default.fileExists(atPath: share + "/y"))
            #expect(try String(contentsOfFile: sb.bundle + "/config.json", encoding: .utf8).contains("from-config"))

            let bad = try await sb.run(["--mount", "relative-dir-that-is-missing:/x"])
            #expect(bad.status == 125 && bad.stderr.contains("--mount"), "\(bad)")
            let bad2 = try await sb.run(["--env", "=x"])
            #expect(bad2.status == 125 && bad2.stderr.contains("--env"), "\(bad2)")
        }
    }

    @Test("the record holds no environment, no --env value and no secret")
    func noSecretsInRecord() async throws {
        try await withSandbox(script: "test -s /run/secrets/tok && test -n \"$TOK\" && test -n \"$PLAIN\"") { sb in
            let value = "s3cret-\(UUID().uuidString)", plain = "plain-\(UUID().uuidString)"
            let source = sb.dir + "/tok"
            try value.write(toFile: source, atomically: false, encoding: .utf8)
            try await sb.chownToUser(source)
            let path = sb.dir + "/result.json"
            let r = try await sb.run(["--secret", "source=\(source),target=tok", "--secret-env", "TOK=tok", "--env", "PLAIN=\(plain)",
                                      "--result", path])
            #expect(r.status == 0, "\(r)")
            let text = try String(contentsOfFile: path, encoding: .utf8)
            #expect(!text.contains(value) && !text.contains(plain) && !text.contains("PATH") && !text.contains(sb.token), "\(text)")
            try await Self.expectValid([path], in: sb.dir)
        }
    }
}

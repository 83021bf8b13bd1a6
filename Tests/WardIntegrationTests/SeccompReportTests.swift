import Foundation
import Testing

/// `ward run --seccomp-report`: refusals go through seccomp user notification, ward records them
/// and answers with the filter's own errno, so the workload sees exactly what it would without.
@Suite("Seccomp report")
struct SeccompReportTests {
    @Test("refused syscalls are reported by name, count, errno and first args; the workload still sees EPERM")
    func reportsRefusals() async throws {
        try await withSandbox(script: "unshare -U true; echo rc=$?; unshare -U true; mount -t tmpfs x /tmp; exit 3") { sb in
            let r = try await sb.run(["--seccomp-report"])
            #expect(r.status == 3, "\(r)")
            #expect(r.stdout.contains("rc=1"), "the workload must see the refusal as before: \(r)")
            #expect(r.stderr.contains("seccomp report (user notification): 2 syscall(s) refused"), "\(r)")
            #expect(r.stderr.contains("unshare ×2 EPERM (first args 0x10000000"), "\(r)")
            #expect(r.stderr.contains("mount ×1 EPERM"), "\(r)")
        }
    }

    @Test("without the flag nothing is reported; a run with nothing refused says so")
    func quietWithoutTheFlag() async throws {
        try await withSandbox(script: "true") { sb in
            let plain = try await sb.run()
            #expect(plain.status == 0 && !plain.stderr.contains("seccomp report"), "\(plain)")
            let clean = try await sb.run(["--seccomp-report"])
            #expect(clean.status == 0 && clean.stderr.contains("no syscall was refused"), "\(clean)")
        }
    }

    @Test("a filter that refuses sendmsg can't hand ward the listener: a clear error, nothing started")
    func needsSendmsg() async throws {
        try await withSandbox(script: "true") { sb in
            sb.config.edit("linux.seccomp.syscalls") { rules in
                for i in rules.indices {
                    if var names = rules[i]["names"] as? [String] {
                        names.removeAll { $0 == "sendmsg" }
                        rules[i]["names"] = names
                    }
                }
            }
            let r = try await sb.run(["--seccomp-report"])
            #expect(r.status == 125 && r.stderr.contains("--seccomp-report needs sendmsg allowed"), "\(r)")
        }
    }

    @Test("profile learn: a busybox workload's own syscalls become an allow-list it then passes under; mount, ptrace and bpf stay refused")
    func learnsAProfile() async throws {
        try await withSandbox(script: "true") { sb in
            let workload = ["sh", "-c", "ls /; cat /etc/passwd; sleep 0.1"]
            let learned = sb.dir + "/learned.json"
            let learn = try await sb.ward(["profile", "learn", "-b", sb.bundle, "--base", "default", "-o", learned, "--"] + workload)
            #expect(learn.status == 0 && learn.stderr.contains("profile learn: the workload exited 0"), "\(learn)")
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: learned))) as? [String: Any]
            let seccomp = json?["seccomp"] as? [String: Any]
            let names = ((seccomp?["syscalls"] as? [[String: Any]])?.first?["names"] as? [String]) ?? []
            #expect(seccomp?["defaultAction"] as? String == "SCMP_ACT_ERRNO")
            #expect(names.contains("execve") && names.contains("getdents64") && names.contains("openat"), "\(names)")
            for denied in ["mount", "ptrace", "bpf", "unshare", "keyctl"] { #expect(!names.contains(denied), "\(denied) in \(names)") }
            #expect(names.count < 80, "an allow-list of what ran, not everything: \(names.count)")

            let again = try await sb.ward(["run", "-b", sb.bundle, "--profile", learned, "\(sb.id)-learned", "--"] + workload)
            #expect(again.status == 0, "the workload passes under its learned profile: \(again)")
            // (busybox's mount gives up on geteuid, which the learned list lacks, before it calls mount)
            let other = try await sb.ward(["run", "-b", sb.bundle, "--profile", learned, "--seccomp-report", "\(sb.id)-other", "--",
                                           "sh", "-c", "unshare -U true; ls /"])
            #expect(other.stderr.contains("unshare ×1 EPERM"), "what the workload never did is refused: \(other)")
        }
    }
}


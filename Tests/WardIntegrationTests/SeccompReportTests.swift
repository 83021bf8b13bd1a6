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
}

import WardPlan
import WardRuntime
import WardSpec
import WardSystem

#if canImport(Glibc)
import Glibc
#endif

/// `ward profile learn`: runs the workload once with a filter that sends every syscall to ward
/// (seccomp user notification, let through with SECCOMP_USER_NOTIF_FLAG_CONTINUE), then writes
/// the base profile with an allow-list of exactly what the workload called. Rootless: no eBPF, no
/// CAP_SYS_ADMIN, no audit log. Calls ward itself makes before the exec are not counted.
enum ProfileLearn {
    static func run(_ args: ParsedArguments, _ context: Context) throws(WardError) -> Int32 {
        guard let output = args.value("--output") else { throw WardError("profile learn: -o FILE: where to write the learned profile") }
        guard !args.trailing.isEmpty else { throw WardError("profile learn: give the workload after --, e.g. -- sh -c 'ls /'") }
        var request = try runRequest(args, context)
        request.bundle.spec.process?.args = args.trailing
        request.options.seccompLearn = true
        if let text = args.value("--timeout") {
            guard let seconds = Duration.parse(text) else { throw WardError("profile learn: --timeout \"\(text)\": expected a duration such as 30s") }
            request.timeout = seconds
        }
        let arches = request.bundle.spec.linux?.seccomp?.architectures ?? ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
        let plan = try Launcher.plan(request)
        let outcome = try Launcher.run(plan, request: request, log: context.log)
        let seen = Set((outcome.denials ?? []).map(\.syscall)).subtracting(["#"])
        let names = seen.union(ResolvedSeccomp.learnHandoff).sorted()

        var profile = request.profile ?? Profile(file: output, name: "learned")
        profile.name = "learned"
        profile.description = "Learned from: \(args.trailing.joined(separator: " "))"
        profile.rationale = "An allow-list of the \(names.count) syscalls this workload made in one run (ward profile learn), on top of \(request.profile?.name ?? "the bundle's config"); everything else gets EPERM."
        profile.seccomp = .oci(LinuxSeccomp(defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: 1, architectures: arches,
                                            syscalls: [LinuxSyscall(names: names, action: "SCMP_ACT_ALLOW")]))
        let fd = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0, Sys.writeAll(fd: fd, profile.jsonValue.prettyJSONText) else {
            let e = errno
            if fd >= 0 { close(fd) }
            throw WardError("profile learn: -o \(output): \(ErrnoName.of(e))")
        }
        close(fd)
        Sys.stderr("ward: profile learn: the workload exited \(outcome.exitCode) and made \(seen.count) distinct syscalls; wrote \(output) (\(names.count) allowed)")
        return outcome.exitCode
    }
}

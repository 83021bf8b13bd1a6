import CSeccomp
import CWardShim
import WardSpec
import WardSystem

#if canImport(Glibc)
import Glibc
#endif

/// A seccomp filter with every name resolved to a number, ready for libseccomp.
public struct ResolvedSeccomp: Equatable, Sendable {
    public var defaultAction: UInt32
    /// libseccomp arch tokens (SCMP_ARCH_*), in config order.
    public var architectures: [UInt32]
    public var rules: [Rule]
    /// SECCOMP_FILTER_FLAG_* for seccomp(2) at load time.
    public var loadFlags: UInt32

    public struct Rule: Equatable, Sendable {
        public var path: String          // JSON path, for errors
        public var name: String
        public var number: Int32
        public var action: UInt32
        public var conditions: [Condition]
    }

    public struct Condition: Equatable, Sendable {
        public var index: UInt32
        public var op: UInt32
        public var value: UInt64
        public var valueTwo: UInt64
    }

    /// A stable byte serialization of everything that determines the BPF output. The cache key is
    /// a hash of this plus the libseccomp version.
    public var cacheMaterial: [UInt8] {
        var text = "v2 optimize=2 default=\(defaultAction) arch=\(architectures.map(String.init).joined(separator: ","))\n"
        for rule in rules {
            text += "\(rule.number) \(rule.action)"
            for c in rule.conditions { text += " \(c.index):\(c.op):\(c.value):\(c.valueTwo)" }
            text += "\n"
        }
        return Array(text.utf8)
    }
}

public enum SeccompAction {
    public static let killProcess: UInt32 = 0x8000_0000
    public static let killThread: UInt32 = 0x0000_0000
    public static let trap: UInt32 = 0x0003_0000
    public static let log: UInt32 = 0x7ffc_0000
    public static let allow: UInt32 = 0x7fff_0000
    public static let notify: UInt32 = 0x7fc0_0000
    public static func errno(_ e: UInt32) -> UInt32 { 0x0005_0000 | (e & 0xffff) }
    public static func trace(_ e: UInt32) -> UInt32 { 0x7ff0_0000 | (e & 0xffff) }
}

public enum SeccompResolver {
    public static let compareOps: [String: UInt32] = [
        "SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4,
        "SCMP_CMP_GE": 5, "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7,
    ]
    public static let loadFlags: [String: UInt32] = [
        "SECCOMP_FILTER_FLAG_TSYNC": 1, "SECCOMP_FILTER_FLAG_LOG": 2,
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 4, "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": 32,
    ]
    static let eperm: UInt32 = 1

    /// Resolve the OCI seccomp section. Unknown syscall names are an error (a typo in an
    /// allow-list silently breaks the workload; in a deny-list it silently opens a hole).
    public static func resolve(_ seccomp: LinuxSeccomp, file: String, base: String = "linux.seccomp") throws(PlanError) -> ResolvedSeccomp {
        let defaultErrno = seccomp.defaultErrnoRet.map { UInt32(truncatingIfNeeded: $0) } ?? eperm
        let defaultAction = try action(seccomp.defaultAction, errnoRet: defaultErrno,
                                       file: file, path: "\(base).defaultAction")
        var arches: [UInt32] = []
        for (i, name) in (seccomp.architectures ?? []).enumerated() {
            let short = name.hasPrefix("SCMP_ARCH_") ? String(name.dropFirst(10)).lowercased() : name.lowercased()
            let token = seccomp_arch_resolve_name(short)
            guard token != 0 else {
                throw PlanError(file: file, path: "\(base).architectures[\(i)]",
                                message: "architecture \"\(name)\" is not known to libseccomp \(libseccompVersion)")
            }
            if !arches.contains(token) { arches.append(token) }
        }
        var flags: UInt32 = 0
        for (i, name) in (seccomp.flags ?? []).enumerated() {
            guard let bit = loadFlags[name] else {
                throw PlanError(file: file, path: "\(base).flags[\(i)]", message: "unknown seccomp flag \"\(name)\"")
            }
            flags |= bit
        }
        var rules: [ResolvedSeccomp.Rule] = []
        for (i, syscall) in (seccomp.syscalls ?? []).enumerated() {
            let path = "\(base).syscalls[\(i)]"
            let act = try action(syscall.action, errnoRet: syscall.errnoRet.map { UInt32(truncatingIfNeeded: $0) } ?? eperm,
                                 file: file, path: "\(path).action")
            var conditions: [ResolvedSeccomp.Condition] = []
            for (j, arg) in (syscall.args ?? []).enumerated() {
                guard let op = compareOps[arg.op] else {
                    throw PlanError(file: file, path: "\(path).args[\(j)].op", message: "unknown operator \"\(arg.op)\"")
                }
                conditions.append(.init(index: UInt32(arg.index), op: op, value: arg.value, valueTwo: arg.valueTwo ?? 0))
            }
            for (j, name) in syscall.names.enumerated() {
                let number = seccomp_syscall_resolve_name(name)
                guard number != __NR_SCMP_ERROR else {
                    throw PlanError(file: file, path: "\(path).names[\(j)]",
                                    message: "unknown syscall \"\(name)\" (not known to libseccomp \(libseccompVersion)); check the spelling or remove it")
                }
                rules.append(.init(path: path, name: name, number: number, action: act, conditions: conditions))
            }
        }
        return ResolvedSeccomp(defaultAction: defaultAction, architectures: arches, rules: rules, loadFlags: flags)
    }

    static func action(_ name: String, errnoRet: UInt32, file: String, path: String) throws(PlanError) -> UInt32 {
        switch name {
        case "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD": return SeccompAction.killThread
        case "SCMP_ACT_KILL_PROCESS": return SeccompAction.killProcess
        case "SCMP_ACT_TRAP": return SeccompAction.trap
        case "SCMP_ACT_ERRNO": return SeccompAction.errno(errnoRet)
        case "SCMP_ACT_TRACE": return SeccompAction.trace(errnoRet)
        case "SCMP_ACT_LOG": return SeccompAction.log
        case "SCMP_ACT_ALLOW": return SeccompAction.allow
        case "SCMP_ACT_NOTIFY":
            throw PlanError(file: file, path: path, message: "SCMP_ACT_NOTIFY needs a seccomp agent, which ward does not run; use SCMP_ACT_ERRNO or SCMP_ACT_LOG")
        default:
            throw PlanError(file: file, path: path, message: "unknown action \"\(name)\"")
        }
    }

    public static var libseccompVersion: String {
        guard let v = seccomp_version() else { return "unknown" }
        return "\(v.pointee.major).\(v.pointee.minor).\(v.pointee.micro)"
    }
}

/// Compiles a resolved filter to classic BPF with libseccomp, in the parent. The child only loads
/// the bytes with seccomp(2) (ARCHITECTURE.md: compute everything possible before clone).
public enum SeccompCompiler {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Returns the BPF program as raw `struct sock_filter` bytes (8 bytes per instruction).
    public static func compile(_ filter: ResolvedSeccomp) throws(Failure) -> [UInt8] {
        guard let ctx = seccomp_init(filter.defaultAction) else {
            throw Failure(description: "seccomp_init failed: the default action is not valid")
        }
        defer { seccomp_release(ctx) }
        // ward loads the program itself and sets no_new_privs only when the config asks for it.
        _ = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0)
        // A binary tree of syscall numbers instead of a linear list: the kernel emulates the
        // filter for every syscall when it loads it (to build its action cache), so a 440-name
        // allow-list loads several times faster, and each filtered syscall costs O(log n).
        _ = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2)
        for arch in filter.architectures {
            let rc = seccomp_arch_add(ctx, arch)
            if rc != 0 && rc != -EEXIST {
                throw Failure(description: "seccomp_arch_add(\(arch)): \(errnoName(-rc))")
            }
        }
        for rule in filter.rules where rule.action != filter.defaultAction {
            let conds = rule.conditions.map {
                scmp_arg_cmp(arg: $0.index, op: scmp_compare(rawValue: $0.op), datum_a: $0.value, datum_b: $0.valueTwo)
            }
            // libseccomp can't AND two conditions on the same argument: such rules become one
            // rule per condition (OR), which is what runc and crun do.
            let indices = rule.conditions.map(\.index)
            let groups: [[scmp_arg_cmp]] = Set(indices).count == indices.count ? [conds] : conds.map { [$0] }
            for group in groups {
                let rc = group.withUnsafeBufferPointer {
                    seccomp_rule_add_array(ctx, rule.action, rule.number, UInt32($0.count), $0.baseAddress)
                }
                if rc != 0 {
                    throw Failure(description: "\(rule.path): seccomp rule for \"\(rule.name)\" refused by libseccomp: \(errnoName(-rc))")
                }
            }
        }
        let fd = ward_memfd("ward-seccomp")
        guard fd >= 0 else { throw Failure(description: "memfd_create: \(errnoName(errno))") }
        defer { close(fd) }
        let rc = seccomp_export_bpf(ctx, fd)
        guard rc == 0 else { throw Failure(description: "seccomp_export_bpf: \(errnoName(-rc))") }
        let size = Int(lseek(fd, 0, SEEK_END))
        guard size > 0, size % 8 == 0 else { throw Failure(description: "seccomp_export_bpf wrote \(size) bytes") }
        var bytes = [UInt8](repeating: 0, count: size)
        let got = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, size, 0) }
        guard got == size else { throw Failure(description: "reading the compiled filter: \(errnoName(errno))") }
        return bytes
    }

    static func errnoName(_ e: Int32) -> String { ErrnoName.of(e) }
}

/// `--seccomp-report`: what ward answers each notification with, so the workload sees exactly
/// the errno its filter would have returned.
public struct SeccompReportMap: Equatable, Sendable {
    public var errnoByName: [String: Int32]
    public var defaultErrno: Int32
    /// `ward profile learn`: every notification is let through (and recorded), none refused.
    public var learn = false
}

extension ResolvedSeccomp {
    static let loadFlagNewListener: UInt32 = 8

    /// The same filter with every refusal-by-errno turned into a user notification (ward records
    /// it and answers with that errno). Kill and trap actions stay as they are: those end in
    /// SIGSYS, which the exit status already reports. Needs `sendmsg` allowed outright: the
    /// child hands the listener to ward with it right after loading the filter.
    public func reportingDenials(file: String) throws(PlanError) -> (ResolvedSeccomp, SeccompReportMap) {
        func isErrno(_ action: UInt32) -> Bool { action & 0xffff_0000 == 0x0005_0000 }
        let sendmsgAllowed = defaultAction == SeccompAction.allow
            || rules.contains { $0.name == "sendmsg" && $0.action == SeccompAction.allow && $0.conditions.isEmpty }
        guard sendmsgAllowed else {
            throw PlanError(file: file, path: "linux.seccomp",
                            message: "--seccomp-report needs sendmsg allowed by the filter (ward receives the notification fd through it); allow sendmsg or drop --seccomp-report")
        }
        var map = SeccompReportMap(errnoByName: [:], defaultErrno: isErrno(defaultAction) ? Int32(defaultAction & 0xffff) : 1)
        var out = self
        for i in out.rules.indices where isErrno(out.rules[i].action) {
            map.errnoByName[out.rules[i].name] = Int32(out.rules[i].action & 0xffff)
            out.rules[i].action = SeccompAction.notify
        }
        // libseccomp can't make NOTIFY the default action: give every syscall the filter leaves
        // to an errno default a NOTIFY rule of its own instead.
        if isErrno(defaultAction) {
            let covered = Set(rules.map(\.name))
            for name in SeccompResolver.nativeSyscallNames() where !covered.contains(name) {
                let number = seccomp_syscall_resolve_name(name)
                guard number != __NR_SCMP_ERROR else { continue }
                out.rules.append(.init(path: "--seccomp-report", name: name, number: number,
                                       action: SeccompAction.notify, conditions: []))
            }
        }
        out.loadFlags |= Self.loadFlagNewListener
        return (out, map)
    }
}

extension ResolvedSeccomp {
    /// What ward needs after loading the filter to hand over the listener and exec: allowed
    /// outright in learn mode (so no notification can wait on itself), and put in every learned
    /// profile.
    public static let learnHandoff = ["sendmsg", "close", "execve", "exit", "exit_group"]

    /// `ward profile learn`: a notification for every syscall libseccomp knows (on every arch of
    /// `architectures`), which ward records and lets through.
    public static func learning(architectures: [UInt32]) -> ResolvedSeccomp {
        var rules: [Rule] = []
        for name in SeccompResolver.nativeSyscallNames() where !learnHandoff.contains(name) {
            let number = seccomp_syscall_resolve_name(name)
            guard number != __NR_SCMP_ERROR else { continue }
            rules.append(.init(path: "profile learn", name: name, number: number, action: SeccompAction.notify, conditions: []))
        }
        return ResolvedSeccomp(defaultAction: SeccompAction.allow, architectures: architectures, rules: rules,
                               loadFlags: loadFlagNewListener)
    }
}

extension SeccompResolver {
    /// Every syscall libseccomp knows on the native architecture.
    static func nativeSyscallNames() -> [String] {
        let arch = seccomp_arch_native()
        var names: [String] = []
        for number in Int32(0)..<1024 {
            guard let cName = seccomp_syscall_resolve_num_arch(arch, number) else { continue }
            names.append(String(cString: cName))
            free(cName)
        }
        return names
    }

    /// The syscall's name on `arch` (an AUDIT_ARCH_* value, as in seccomp_data), or "#NR".
    public static func name(arch: UInt32, number: Int32) -> String {
        guard let cName = seccomp_syscall_resolve_num_arch(arch, number) else { return "#\(number)" }
        defer { free(cName) }
        return String(cString: cName)
    }
}

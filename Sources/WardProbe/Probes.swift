import CWardShim
import WardSpec

#if canImport(Glibc)
import Glibc
#endif

/// `ward __probe`: the attack-probe battery, run inside the sandbox as its workload. Each probe
/// tries one step an attacker would take, with harmless arguments (the "bad-argument method":
/// an invalid argument the kernel rejects with EBADF/EFAULT/EINVAL proves the call reached the
/// kernel; the seccomp filter's errno or ENOSYS proves it was filtered), or confined to a forked
/// child, and decides allowed/blocked from the errno it gets.
public struct ProbeBattery {
    var status: [String: String] = [:]
    /// The errno a seccomp filter returns for a denied call (learned; EPERM assumed when unknown).
    var filterErrno: Int32 = EPERM
    var filterErrnoLearned = false
    var seccompMode = 0
    var capEff: UInt64 = 0

    public init() {
        if let text = Self.readText("/proc/self/status") {
            for line in text.split(separator: "\n") {
                guard let colon = line.firstIndex(of: ":") else { continue }
                status[String(line[..<colon])] = String(line[line.index(after: colon)...]).trimmed
            }
        }
        seccompMode = Int(status["Seccomp"] ?? "0") ?? 0
        capEff = UInt64(status["CapEff"] ?? "0", radix: 16) ?? 0
        if seccompMode == 2 {
            // mount(NULL target) reaches the kernel as EFAULT; anything else is the filter's answer.
            let r = sys("mount", 0, 0, 0, 0, 0)
            if r < 0 && -r != EFAULT { filterErrno = Int32(-r); filterErrnoLearned = true }
        }
    }

    /// Runs every probe; the JSON document `ward __probe` prints.
    public static func runAll() -> JSONValue {
        var battery = ProbeBattery()
        let records = battery.all()
        var u = utsname()
        uname(&u)
        let release = withUnsafeBytes(of: u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return .object([
            "probeVersion": .int(1),
            "kernel": .string(release),
            "probes": .array(records.map(\.json)),
        ])
    }

    // MARK: helpers

    static func readText(_ path: String, limit: Int = 1 << 20) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 8192)
        while out.count < limit {
            let n = read(fd, &buf, buf.count)
            if n <= 0 { break }
            out += buf[0..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func name(_ e: Int32) -> String { String(cString: ward_errno_name(e)) }

    func sys(_ name: String, _ a: Int = 0, _ b: Int = 0, _ c: Int = 0, _ d: Int = 0, _ e: Int = 0, _ f: Int = 0) -> Int {
        let nr = ward_probe_nr(name)
        guard nr >= 0 else { return -Int(ENOSYS) }
        return ward_probe_syscall(nr, a, b, c, d, e, f)
    }

    func hasCap(_ n: Int) -> Bool { capEff & (1 << UInt64(n)) != 0 }

    /// Whether errno `e` from a call whose bad arguments the kernel never answers with the filter's
    /// errno means the seccomp filter refused it.
    func filtered(_ e: Int32) -> Bool {
        e == ENOSYS || (seccompMode == 2 && e == filterErrno)
    }

    func record(_ id: String, _ title: String, _ nist: String, _ result: ProbeRecord.Result, _ mechanism: String, _ detail: String) -> ProbeRecord {
        ProbeRecord(id: id, title: title, result: result, mechanism: mechanism, detail: detail, nist: nist)
    }

    /// A call made with invalid arguments: reaching the kernel = allowed.
    /// `capability`: the kernel checks this capability before the arguments (its EPERM is then ambiguous).
    func badArgument(_ id: String, _ title: String, _ nist: String, syscall: String, capability: Int? = nil,
                     _ call: () -> Int) -> ProbeRecord {
        let r = call()
        if r >= 0 { return record(id, title, nist, .allowed, "none", "\(syscall) reached the kernel (returned \(r))") }
        let e = Int32(-r)
        if e == ENOSYS {
            guard seccompMode == 2 else { return record(id, title, nist, .notApplicable, "none", "\(syscall): ENOSYS with no seccomp filter: this kernel lacks it") }
            return record(id, title, nist, .blocked, "seccomp", "\(syscall): ENOSYS from the seccomp filter (the syscall exists)")
        }
        if e == EPERM || e == EACCES || e == filterErrno {
            if let capability, !hasCap(capability), e == EPERM || e == EACCES {
                if seccompMode == 2 && e == filterErrno {
                    return record(id, title, nist, .blocked, "seccomp|capability",
                                  "\(syscall): \(Self.name(e)); the kernel wants capability \(capability) first and the seccomp filter answers \(Self.name(filterErrno)) too")
                }
                return record(id, title, nist, .blocked, "capability", "\(syscall): \(Self.name(e)); capability \(capability) not in CapEff")
            }
            if filtered(e) { return record(id, title, nist, .blocked, "seccomp", "\(syscall): \(Self.name(e)) from the seccomp filter (bad arguments, so the kernel would have said EINVAL/EFAULT/EBADF)") }
            return record(id, title, nist, .blocked, "lsm", "\(syscall): \(Self.name(e)) with no seccomp filter")
        }
        return record(id, title, nist, .allowed, "none", "\(syscall) reached the kernel (\(Self.name(e)) for the bad arguments)")
    }

    /// A real attempt `e` (0 = it worked), attributed with a bad-argument call when refused.
    func attempt(_ id: String, _ title: String, _ nist: String, what: String, errno e: Int32,
                 badArgument: () -> Int, otherMechanism: String = "namespace") -> ProbeRecord {
        if e == 0 { return record(id, title, nist, .allowed, "none", "\(what) succeeded") }
        if e == ENOSYS {
            guard seccompMode == 2 else { return record(id, title, nist, .notApplicable, "none", "\(what): ENOSYS with no seccomp filter: this kernel lacks it") }
            return record(id, title, nist, .blocked, "seccomp", "\(what): ENOSYS from the seccomp filter")
        }
        if e == EROFS { return record(id, title, nist, .blocked, "readonly-fs", "\(what): EROFS") }
        if e == EPERM || e == EACCES {
            let b = badArgument()
            if b < 0 && filtered(Int32(-b)) {
                return record(id, title, nist, .blocked, "seccomp", "\(what): \(Self.name(e)); the same call with bad arguments also gets \(Self.name(Int32(-b))): the seccomp filter")
            }
            return record(id, title, nist, .blocked, "capability", "\(what): \(Self.name(e)); the call reaches the kernel (bad arguments get \(b < 0 ? Self.name(Int32(-b)) : String(b))), which refuses it: the capability is missing (CapEff \(String(capEff, radix: 16)))")
        }
        return record(id, title, nist, .blocked, otherMechanism, "\(what): \(Self.name(e))")
    }
}

extension StringProtocol {
    var trimmed: String {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" || c == "\n" { s.removeFirst() }
        while let c = s.last, c == " " || c == "\t" || c == "\n" { s.removeLast() }
        return String(s)
    }
}

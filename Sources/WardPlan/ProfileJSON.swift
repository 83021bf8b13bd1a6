import WardSpec

extension Profile {
    /// The profile as JSON (a `seccompFile` shows as the file name until resolved).
    public var jsonValue: JSONValue {
        var m: [String: JSONValue] = [
            "name": .string(name), "description": .string(description), "rationale": .string(rationale),
        ]
        func strings(_ list: [String]?) -> JSONValue? { list.map { .array($0.map { .string($0) }) } }
        m["namespaces"] = strings(namespaces)
        m["capabilities"] = strings(capabilities)
        m["noNewPrivileges"] = noNewPrivileges.map { .bool($0) }
        m["readonlyRootfs"] = readonlyRootfs.map { .bool($0) }
        m["writableMounts"] = strings(writableMounts)
        m["maskedPaths"] = strings(maskedPaths)
        m["readonlyPaths"] = strings(readonlyPaths)
        m["rlimits"] = rlimits.map { .array($0.map { .object(["type": .string($0.type), "soft": .uint($0.soft), "hard": .uint($0.hard)]) }) }
        m["lifetime"] = lifetime.map { .string($0) }
        m["secrets"] = strings(secrets)
        switch seccomp {
        case .disabled: m["seccomp"] = .string("none")
        case .oci(let s): m["seccomp"] = s.jsonValue
        case .dockerFile(let f): m["seccompFile"] = .string(f)
        case nil: break
        }
        return .object(m)
    }

    /// Syscalls the filter allows, by name: unconditionally, or only with argument conditions.
    /// nil when the profile sets no filter or removes it (then nothing is filtered by it).
    public var allowedSyscalls: (always: Set<String>, conditional: Set<String>)? {
        guard case .oci(let s) = seccomp else { return nil }
        var always = Set<String>(), conditional = Set<String>()
        let defaultAllows = s.defaultAction == "SCMP_ACT_ALLOW" || s.defaultAction == "SCMP_ACT_LOG"
        for rule in s.syscalls ?? [] where rule.action == "SCMP_ACT_ALLOW" || rule.action == "SCMP_ACT_LOG" {
            if rule.args?.isEmpty ?? true { always.formUnion(rule.names) } else { conditional.formUnion(rule.names) }
        }
        if defaultAllows {
            // A deny-list: report what it refuses instead, as negative knowledge is not a set of names.
            return (always, conditional)
        }
        return (always, conditional.subtracting(always))
    }

    /// What differs between two profiles, one line per difference.
    public static func diff(_ a: Profile, _ b: Profile) -> [String] {
        var lines: [String] = []
        let ja = a.jsonValue, jb = b.jsonValue
        let listFields = ["namespaces", "capabilities", "writableMounts", "maskedPaths", "readonlyPaths", "secrets"]
        for field in ["namespaces", "capabilities", "noNewPrivileges", "readonlyRootfs", "writableMounts", "maskedPaths",
                      "readonlyPaths", "rlimits", "lifetime", "secrets"] {
            let va = ja[field], vb = jb[field]
            guard va != vb else { continue }
            if listFields.contains(field), case .array(let xa)? = va, case .array(let xb)? = vb {
                let onlyA = xa.filter { !xb.contains($0) }.map(show), onlyB = xb.filter { !xa.contains($0) }.map(show)
                if onlyA.isEmpty && onlyB.isEmpty { lines.append("\(field): same entries, different order"); continue }
                if !onlyA.isEmpty { lines.append("\(field): only in \(a.name): \(onlyA.joined(separator: ", "))") }
                if !onlyB.isEmpty { lines.append("\(field): only in \(b.name): \(onlyB.joined(separator: ", "))") }
            } else if field == "rlimits" {
                let ra = Dictionary(uniqueKeysWithValues: (a.rlimits ?? []).map { ($0.type, $0) })
                let rb = Dictionary(uniqueKeysWithValues: (b.rlimits ?? []).map { ($0.type, $0) })
                for type in Set(ra.keys).union(rb.keys).sorted() where ra[type] != rb[type] {
                    func s(_ r: POSIXRlimit?) -> String { r.map { "soft \($0.soft) hard \($0.hard)" } ?? "unset" }
                    lines.append("rlimits.\(type): \(a.name) \(s(ra[type])), \(b.name) \(s(rb[type]))")
                }
                if a.rlimits == nil || b.rlimits == nil {
                    lines.append("rlimits: \(a.name) \(a.rlimits == nil ? "leaves the config's" : "sets"), \(b.name) \(b.rlimits == nil ? "leaves the config's" : "sets")")
                }
            } else {
                lines.append("\(field): \(a.name) \(va.map(show) ?? "unset (the config's)"), \(b.name) \(vb.map(show) ?? "unset (the config's)")")
            }
        }
        lines += seccompDiff(a, b)
        return lines
    }

    static func show(_ v: JSONValue) -> String {
        if case .string(let s) = v { return s }
        return v.jsonText
    }

    static func seccompSummary(_ p: Profile) -> String {
        switch p.seccomp {
        case .disabled: "no filter"
        case .oci(let s): "filter, default \(s.defaultAction)\(s.defaultErrnoRet.map { " (errno \($0))" } ?? "")"
        case .dockerFile(let f): "Docker-format file \(f) (unresolved)"
        case nil: "unset (the config's)"
        }
    }

    static func seccompDiff(_ a: Profile, _ b: Profile) -> [String] {
        var lines: [String] = []
        if a.seccomp == b.seccomp { return [] }
        let sa = seccompSummary(a), sb = seccompSummary(b)
        if sa != sb { lines.append("seccomp: \(a.name) \(sa), \(b.name) \(sb)") }
        let ea = a.allowedSyscalls, eb = b.allowedSyscalls
        func sorted(_ s: Set<String>) -> String { s.sorted().joined(separator: " ") }
        switch (ea, eb) {
        case let (x?, y?):
            let allA = x.always.union(x.conditional), allB = y.always.union(y.conditional)
            let onlyA = allA.subtracting(allB), onlyB = allB.subtracting(allA)
            if !onlyA.isEmpty { lines.append("seccomp: allowed only by \(a.name) (\(onlyA.count)): \(sorted(onlyA))") }
            if !onlyB.isEmpty { lines.append("seccomp: allowed only by \(b.name) (\(onlyB.count)): \(sorted(onlyB))") }
            let condA = x.conditional.intersection(y.always), condB = y.conditional.intersection(x.always)
            if !condA.isEmpty { lines.append("seccomp: allowed by \(a.name) only with argument conditions, by \(b.name) always: \(sorted(condA))") }
            if !condB.isEmpty { lines.append("seccomp: allowed by \(b.name) only with argument conditions, by \(a.name) always: \(sorted(condB))") }
            if onlyA.isEmpty && onlyB.isEmpty && condA.isEmpty && condB.isEmpty {
                lines.append("seccomp: the same syscalls allowed; rules differ in actions, errno values or argument conditions")
            }
        case let (x?, nil) where b.seccomp == .disabled:
            lines.append("seccomp: \(b.name) allows every syscall; \(a.name) allows \(x.always.union(x.conditional).count)")
        case let (nil, y?) where a.seccomp == .disabled:
            lines.append("seccomp: \(a.name) allows every syscall; \(b.name) allows \(y.always.union(y.conditional).count)")
        default: break
        }
        return lines
    }
}

extension LinuxSeccomp {
    public var jsonValue: JSONValue {
        var m: [String: JSONValue] = ["defaultAction": .string(defaultAction)]
        if let e = defaultErrnoRet { m["defaultErrnoRet"] = .int(Int64(e)) }
        if let a = architectures { m["architectures"] = .array(a.map { .string($0) }) }
        if let f = flags { m["flags"] = .array(f.map { .string($0) }) }
        if let rules = syscalls {
            m["syscalls"] = .array(rules.map { rule in
                var r: [String: JSONValue] = ["names": .array(rule.names.map { .string($0) }), "action": .string(rule.action)]
                if let e = rule.errnoRet { r["errnoRet"] = .int(Int64(e)) }
                if let args = rule.args {
                    r["args"] = .array(args.map { a in
                        var o: [String: JSONValue] = ["index": .int(Int64(a.index)), "value": .uint(a.value), "op": .string(a.op)]
                        if let two = a.valueTwo { o["valueTwo"] = .uint(two) }
                        return .object(o)
                    })
                }
                return .object(r)
            })
        }
        return .object(m)
    }
}

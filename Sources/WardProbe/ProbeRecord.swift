import WardSpec

/// One probe's finding: did the sandbox allow the attack step, and what stopped it.
/// Serialised as `{"id","title","result","mechanism","detail","nist"}` (docs/compare-schema.json).
public struct ProbeRecord: Sendable, Equatable {
    public enum Result: String, Sendable { case allowed, blocked, notApplicable = "n/a" }

    public var id: String
    public var title: String
    public var result: Result
    /// seccomp | capability | readonly-fs | noexec | namespace | masked-path | no_new_privs | rlimit | seal | sysctl | none
    public var mechanism: String
    public var detail: String
    /// The NIST SP 800-190 section whose countermeasure this probe checks.
    public var nist: String

    public init(id: String, title: String, result: Result, mechanism: String, detail: String, nist: String) {
        self.id = id; self.title = title; self.result = result; self.mechanism = mechanism
        self.detail = detail; self.nist = nist
    }

    public var json: JSONValue {
        .object(["id": .string(id), "title": .string(title), "result": .string(result.rawValue),
                 "mechanism": .string(mechanism), "detail": .string(detail), "nist": .string(nist)])
    }

    public init?(json: JSONValue) {
        guard case .string(let id)? = json["id"], case .string(let title)? = json["title"],
              case .string(let r)? = json["result"], let result = Result(rawValue: r),
              case .string(let mechanism)? = json["mechanism"], case .string(let detail)? = json["detail"],
              case .string(let nist)? = json["nist"] else { return nil }
        self.init(id: id, title: title, result: result, mechanism: mechanism, detail: detail, nist: nist)
    }
}

/// NIST SP 800-190 sections the probes map to (section 4: risks; each has its countermeasures).
public enum NIST {
    public static let titles: [String: String] = [
        "4.1.4": "Embedded clear text secrets",
        "4.4.1": "Vulnerabilities within the runtime software",
        "4.4.2": "Unbounded network access from containers",
        "4.4.3": "Insecure container runtime configurations",
        "4.4.4": "App vulnerabilities (file system drift, immutable containers)",
        "4.5.2": "Shared kernel (reduce the kernel attack surface)",
        "4.5.4": "Improper user access rights",
        "4.5.5": "Host OS file system tampering",
    ]
}

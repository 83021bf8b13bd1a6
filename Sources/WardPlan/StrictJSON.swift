import WardSpec

/// A strict reader for ward's own JSON formats (profiles, Docker/Podman seccomp files): unlike
/// `config.json` (an OCI format that must tolerate extensions), an unknown key is an error that
/// names the file and the JSON path, so a typo never silently weakens a policy.
struct StrictValue {
    let value: JSONValue
    let path: String
    let file: String

    func failure(_ message: String) -> PlanError { PlanError(file: file, path: path, message: message) }

    func object(allowed: [String]) throws(PlanError) -> StrictObject {
        guard case .object(let members) = value else { throw failure("expected an object") }
        for key in members.keys.sorted() where !allowed.contains(key) {
            throw PlanError(file: file, path: JSONPath.member(path, key),
                            message: "unknown field; expected one of: \(allowed.joined(separator: ", "))")
        }
        return StrictObject(members: members, path: path, file: file)
    }

    func string() throws(PlanError) -> String {
        guard case .string(let s) = value else { throw failure("expected a string") }
        return s
    }

    func bool() throws(PlanError) -> Bool {
        guard case .bool(let b) = value else { throw failure("expected a boolean") }
        return b
    }

    func uint64() throws(PlanError) -> UInt64 {
        switch value {
        case .int(let i) where i >= 0: return UInt64(i)
        case .uint(let u): return u
        case .double(let d) where d >= 0 && d == d.rounded() && d < 1.8e19: return UInt64(d)
        default: throw failure("expected a non-negative integer")
        }
    }

    func array() throws(PlanError) -> [StrictValue] {
        guard case .array(let items) = value else { throw failure("expected an array") }
        return items.enumerated().map { StrictValue(value: $1, path: "\(path)[\($0)]", file: file) }
    }

    func strings() throws(PlanError) -> [String] {
        var out: [String] = []
        for item in try array() { out.append(try item.string()) }
        return out
    }
}

struct StrictObject {
    let members: [String: JSONValue]
    let path: String
    let file: String

    /// The member `key`, or nil when absent (null counts as absent).
    subscript(key: String) -> StrictValue? {
        guard let v = members[key], v != .null else { return nil }
        return StrictValue(value: v, path: JSONPath.member(path, key), file: file)
    }

    func required(_ key: String) throws(PlanError) -> StrictValue {
        guard let v = self[key] else {
            throw PlanError(file: file, path: JSONPath.member(path, key), message: "missing required field")
        }
        return v
    }

    func string(_ key: String) throws(PlanError) -> String? { try self[key]?.string() }
    func bool(_ key: String) throws(PlanError) -> Bool? { try self[key]?.bool() }
    func strings(_ key: String) throws(PlanError) -> [String]? { try self[key]?.strings() }
    func uint64(_ key: String) throws(PlanError) -> UInt64? { try self[key]?.uint64() }
}


/// Formats JSON paths: `process.user.uid`, `mounts[2]`, `linux.sysctl["net.ipv4.ip_forward"]`.
public enum JSONPath {
    public static func format(_ codingPath: [any CodingKey]) -> String {
        codingPath.reduce("") { path, key in
            if let index = key.intValue, key.stringValue == "Index \(index)" {
                return "\(path)[\(index)]"
            }
            return member(path, key.stringValue)
        }
    }

    /// `base.key`, or `base["key"]` when the key is not a plain identifier.
    public static func member(_ base: String, _ key: String) -> String {
        let isIdentifier = (key.first.map { $0.isLetter || $0 == "_" } ?? false)
            && key.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
        if isIdentifier { return base.isEmpty ? key : "\(base).\(key)" }
        var escaped = ""
        for c in key {
            if c == "\\" || c == "\"" { escaped.append("\\") }
            escaped.append(c)
        }
        return "\(base)[\"\(escaped)\"]"
    }
}

/// Decoding of ward's JSON inputs with errors that name the file and the JSON path.
public enum JSONFile {
    /// Parses `data` strictly (RFC 8259) and decodes a `T`; unknown keys are ignored.
    public static func decode<T: JSONDecodable>(_ type: T.Type, from data: [UInt8], file: String) throws(SpecError) -> T {
        try T(json: JSONReader(value: try parse(data, file: file), file: file))
    }

    /// The same for any `Decodable`, through Codable (slower to start; see JSONReader.swift).
    public static func decode<T: Decodable>(_ type: T.Type, from data: [UInt8], file: String) throws(SpecError) -> T {
        let tree = try parse(data, file: file)
        do {
            return try T(from: TreeDecoder(reader: JSONReader(value: tree, file: file)))
        } catch let error as SpecError {
            throw error
        } catch let error as DecodingError {  // thrown by a type's own init(from:)
            throw SpecError(error, file: file)
        } catch {
            throw SpecError(file: file, path: "", message: "\(error)")
        }
    }

    /// Parses `data` into a `JSONValue`; a syntax error reports its line and column.
    public static func parse(_ bytes: [UInt8], file: String) throws(SpecError) -> JSONValue {
        do {
            return try JSONParser.parse(bytes)
        } catch {
            throw SpecError(file: file, path: "", message: "not valid JSON: \(error)")
        }
    }
}

extension Spec {
    /// Decodes a `config.json`. Errors look like
    /// `config.json: linux.seccomp.syscalls[3].action: expected a string`.
    /// Decoding checks only types; call `validate()` before acting on the spec.
    public static func decode(_ bytes: [UInt8], file: String = "config.json") throws(SpecError) -> Spec {
        try JSONFile.decode(Spec.self, from: bytes, file: file)
    }
}

/// The path to a value as a parent chain; the path is spelled out only for errors.
indirect enum CodingPathNode: Sendable {
    case root
    case key(String, CodingPathNode)
    case index(Int, CodingPathNode)

    /// `process.user.uid`, `mounts[2]`, `linux.sysctl["net.ipv4.ip_forward"]`.
    var path: String {
        switch self {
        case .root: ""
        case .key(let name, let parent): JSONPath.member(parent.path, name)
        case .index(let index, let parent): "\(parent.path)[\(index)]"
        }
    }

    var codingPath: [any CodingKey] {
        var keys: [any CodingKey] = []
        var node = self
        while true {
            switch node {
            case .root: return keys.reversed()
            case .key(let name, let parent):
                keys.append(PathKey(stringValue: name))
                node = parent
            case .index(let index, let parent):
                keys.append(PathKey(intValue: index))
                node = parent
            }
        }
    }
}

/// A key in a coding path; array indices read "Index N", as in JSONDecoder.
struct PathKey: CodingKey {
    let stringValue: String
    let intValue: Int?

    init(stringValue: String) {
        self.stringValue = stringValue
        self.intValue = nil
    }

    init(intValue: Int) {
        self.stringValue = "Index \(intValue)"
        self.intValue = intValue
    }
}

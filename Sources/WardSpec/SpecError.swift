import FoundationEssentials

/// A problem in a JSON input file, with the JSON path where it is.
/// `description` is the user-facing message, e.g.
/// `config.json: process.user.uid: missing required field`.
public struct SpecError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    /// Dotted keys and `[N]` indices, e.g. `linux.seccomp.syscalls[3].action`; empty for the whole file.
    public var path: String
    public var message: String

    public init(file: String, path: String, message: String) {
        self.file = file
        self.path = path
        self.message = message
    }

    public var description: String {
        path.isEmpty ? "\(file): \(message)" : "\(file): \(path): \(message)"
    }
}

extension SpecError {
    /// Translates a `DecodingError` (from any decoder) into a message naming the JSON path.
    public init(_ error: DecodingError, file: String) {
        switch error {
        case .typeMismatch(let type, let context):
            self.init(file: file, path: JSONPath.format(context.codingPath),
                      message: "expected \(Self.describe(type))")
        case .valueNotFound(let type, let context):
            self.init(file: file, path: JSONPath.format(context.codingPath),
                      message: "expected \(Self.describe(type)), found null")
        case .keyNotFound(let key, let context):
            self.init(file: file, path: JSONPath.format(context.codingPath + [key]),
                      message: "missing required field")
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            // JSONDecoder's syntax errors; JSONFile.decode reports its own with a position.
            self.init(file: file, path: "", message: "not valid JSON")
        case .dataCorrupted(let context):
            self.init(file: file, path: JSONPath.format(context.codingPath), message: context.debugDescription)
        @unknown default:
            self.init(file: file, path: "", message: "could not be decoded")
        }
    }

    /// "a string", "an integer", ... for the Swift type a decoder expected; never a Swift type name.
    static func describe(_ type: Any.Type) -> String {
        if type == String.self { return "a string" }
        if type == Bool.self { return "a boolean" }
        if type is any BinaryInteger.Type { return "an integer" }
        if type is any BinaryFloatingPoint.Type { return "a number" }
        let name = String(describing: type)
        if name.hasPrefix("Array<") || name.hasPrefix("[") && !name.contains(":") { return "an array" }
        if name.hasPrefix("Dictionary<") || name.hasPrefix("[") { return "an object" }
        return "a different kind of value"
    }
}

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
        let isIdentifier = key.first.map { $0.isLetter || $0 == "_" } ?? false
            && key.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
        if isIdentifier { return base.isEmpty ? key : "\(base).\(key)" }
        let escaped = key.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"")
        return "\(base)[\"\(escaped)\"]"
    }
}

/// Decoding of ward's JSON inputs with errors that name the file and the JSON path.
public enum JSONFile {
    /// Parses `data` strictly (RFC 8259) and decodes a `T`; unknown keys are ignored.
    public static func decode<T: JSONDecodable>(_ type: T.Type, from data: Data, file: String) throws(SpecError) -> T {
        try T(json: JSONReader(value: try parse(data, file: file), file: file))
    }

    /// The same for any `Decodable`, through Codable (slower to start; see JSONReader.swift).
    public static func decode<T: Decodable>(_ type: T.Type, from data: Data, file: String) throws(SpecError) -> T {
        let tree = try parse(data, file: file)
        do {
            return try T(from: TreeDecoder(value: tree))
        } catch let error as DecodingError {
            throw SpecError(error, file: file)
        } catch let error as SpecError {
            throw error
        } catch {
            throw SpecError(file: file, path: "", message: "\(error)")
        }
    }

    /// Parses `data` into a `JSONValue`; a syntax error reports its line and column.
    public static func parse(_ data: Data, file: String) throws(SpecError) -> JSONValue {
        do {
            return try JSONParser.parse(data)
        } catch {
            throw SpecError(file: file, path: "", message: "not valid JSON: \(error)")
        }
    }
}

extension Spec {
    /// Decodes a `config.json`. Errors look like
    /// `config.json: linux.seccomp.syscalls[3].action: expected a string`.
    /// Decoding checks only types; call `validate()` before acting on the spec.
    public static func decode(_ data: Data, file: String = "config.json") throws(SpecError) -> Spec {
        try JSONFile.decode(Spec.self, from: data, file: file)
    }
}

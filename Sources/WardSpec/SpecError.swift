
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
        let name = String(describing: type)  // "Array<Any>", "Dictionary<String, Any>", ...
        if name.hasPrefix("Array<") { return "an array" }
        if name.hasPrefix("Dictionary<") { return "an object" }
        return "a different kind of value"
    }
}

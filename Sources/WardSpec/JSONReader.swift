// Fast decoding from a parsed tree, for the models read at every start.
//
// Why not only Codable: in the static release binary, each synthesized
// init(from:) instantiates KeyedDecodingContainer<CodingKeys> by mangled name,
// and the first `CodingKeys: CodingKey` lookup per type scans every conformance
// record in the binary. Measured cold on podman's config.json, decode+validate
// took ~0.85 ms through Codable and ~0.45 ms through init(json:) (JSONDecoder
// alone: ~1.1 ms), out of a ~1 ms start budget. The models stay Codable for
// encoding and for other decoders; the tests check that both decodings agree.

/// A `Decodable` type with a fast decoding from a parsed JSON tree.
public protocol JSONDecodable: Decodable {
    init(json: JSONReader) throws(SpecError)
}

/// One value of a parsed JSON tree, with its path for error messages.
public struct JSONReader {
    public let value: JSONValue
    let node: CodingPathNode
    let file: String

    init(value: JSONValue, node: CodingPathNode = .root, file: String) {
        self.value = value
        self.node = node
        self.file = file
    }

    /// The JSON path of this value, e.g. `process.user.uid`.
    public var path: String { node.path }

    public func failure(_ message: String) -> SpecError {
        SpecError(file: file, path: path, message: message)
    }

    /// "expected a string", or "expected a string, found null".
    public func mismatch(_ expected: String) -> SpecError {
        failure(value == .null ? "expected \(expected), found null" : "expected \(expected)")
    }

    public func object() throws(SpecError) -> JSONObjectReader {
        guard case .object(let members) = value else { throw mismatch("an object") }
        return JSONObjectReader(members: members, node: node, file: file)
    }

    public func array<Element: JSONDecodable>() throws(SpecError) -> [Element] {
        guard case .array(let elements) = value else { throw mismatch("an array") }
        var result: [Element] = []
        result.reserveCapacity(elements.count)
        for (index, element) in elements.enumerated() {
            result.append(try Element(json: self.element(element, at: index)))
        }
        return result
    }

    /// A reader for `element`, the `index`th element of this array.
    func element(_ element: JSONValue, at index: Int) -> JSONReader {
        JSONReader(value: element, node: .index(index, node), file: file)
    }

    public func string() throws(SpecError) -> String {
        guard case .string(let string) = value else { throw mismatch("a string") }
        return string
    }

    public func bool() throws(SpecError) -> Bool {
        guard case .bool(let bool) = value else { throw mismatch("a boolean") }
        return bool
    }

    public func integer<T: FixedWidthInteger>() throws(SpecError) -> T {
        let result: T?
        let text: String
        switch value {
        case .int(let int): (result, text) = (T(exactly: int), "\(int)")
        case .uint(let uint): (result, text) = (T(exactly: uint), "\(uint)")
        case .double(let double): (result, text) = (T(exactly: double), "\(double)")
        default: throw mismatch("an integer")
        }
        guard let result else { throw failure("expected an integer in \(T.min)...\(T.max), got \(text)") }
        return result
    }

    public func double() throws(SpecError) -> Double {
        switch value {
        case .int(let int): Double(int)
        case .uint(let uint): Double(uint)
        case .double(let double): double
        default: throw mismatch("a number")
        }
    }
}

/// The members of a JSON object; unknown members are ignored.
public struct JSONObjectReader {
    let members: [String: JSONValue]
    let node: CodingPathNode
    let file: String

    /// A member that must be present and not null.
    public func required<T: JSONDecodable>(_ key: String) throws(SpecError) -> T {
        try T(json: try member(key))
    }

    /// A member that may be absent or null, as with Codable's `decodeIfPresent`.
    public func optional<T: JSONDecodable>(_ key: String) throws(SpecError) -> T? {
        guard let value = members[key], value != .null else { return nil }
        return try T(json: JSONReader(value: value, node: .key(key, node), file: file))
    }

    /// A reader for the member `key`, which must be present.
    public func member(_ key: String) throws(SpecError) -> JSONReader {
        let node = CodingPathNode.key(key, node)
        guard let value = members[key] else {
            throw SpecError(file: file, path: node.path, message: "missing required field")
        }
        return JSONReader(value: value, node: node, file: file)
    }
}

// MARK: Leaves and collections

extension String: JSONDecodable {
    public init(json: JSONReader) throws(SpecError) { self = try json.string() }
}

extension Bool: JSONDecodable {
    public init(json: JSONReader) throws(SpecError) { self = try json.bool() }
}

extension Double: JSONDecodable {
    public init(json: JSONReader) throws(SpecError) { self = try json.double() }
}

extension Int: JSONDecodable {
    public init(json: JSONReader) throws(SpecError) { self = try json.integer() }
}

extension Int32: JSONDecodable {
    public init(json: JSONReader) throws(SpecError) { self = try json.integer() }
}

extension Int64: JSONDecodable {
    public init(json: JSONReader) throws(SpecError) { self = try json.integer() }
}

extension UInt: JSONDecodable {
    public init(json: JSONReader) throws(SpecError) { self = try json.integer() }
}

extension UInt32: JSONDecodable {
    public init(json: JSONReader) throws(SpecError) { self = try json.integer() }
}

extension UInt64: JSONDecodable {
    public init(json: JSONReader) throws(SpecError) { self = try json.integer() }
}

extension JSONValue: JSONDecodable {
    public init(json: JSONReader) throws(SpecError) { self = json.value }
}

extension Array: JSONDecodable where Element: JSONDecodable {
    public init(json: JSONReader) throws(SpecError) { self = try json.array() }
}

extension Dictionary: JSONDecodable where Key == String, Value: JSONDecodable {
    public init(json: JSONReader) throws(SpecError) {
        let object = try json.object()
        self.init(minimumCapacity: object.members.count)
        for key in object.members.keys {
            self[key] = try object.required(key) as Value
        }
    }
}

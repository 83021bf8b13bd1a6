// A `Decoder` over a parsed `JSONValue`, for `Decodable` types that are not
// `JSONDecodable`: every decoding error carries the full coding path, including
// integers that do not fit their field (which JSONDecoder reports without a path).

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

struct TreeDecoder: Decoder {
    let value: JSONValue
    var node: CodingPathNode = .root
    var codingPath: [any CodingKey] { node.codingPath }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let members) = value else {
            throw mismatch([String: JSONValue].self)
        }
        return KeyedDecodingContainer(KeyedTreeContainer<Key>(members: members, node: node))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let elements) = value else {
            throw mismatch([JSONValue].self)
        }
        return UnkeyedTreeContainer(elements: elements, node: node)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { self }

    // MARK: Leaf values

    func decodeString() throws -> String {
        guard case .string(let string) = value else { throw mismatch(String.self) }
        return string
    }

    func decodeBool() throws -> Bool {
        guard case .bool(let bool) = value else { throw mismatch(Bool.self) }
        return bool
    }

    func decodeInteger<T: FixedWidthInteger>() throws -> T {
        let result: T?
        switch value {
        case .int(let int): result = T(exactly: int)
        case .uint(let uint): result = T(exactly: uint)
        case .double(let double): result = T(exactly: double)
        default: throw mismatch(T.self)
        }
        guard let result else {
            throw DecodingError.dataCorrupted(.init(
                codingPath: codingPath, debugDescription: "expected an integer in \(T.min)...\(T.max), got \(number)"))
        }
        return result
    }

    func decodeFloat<T: BinaryFloatingPoint>() throws -> T {
        switch value {
        case .int(let int): return T(int)
        case .uint(let uint): return T(uint)
        case .double(let double): return T(double)
        default: throw mismatch(T.self)
        }
    }

    func decode<T: Decodable>() throws -> T {
        try T(from: self)
    }

    private var number: String {
        switch value {
        case .int(let int): "\(int)"
        case .uint(let uint): "\(uint)"
        case .double(let double): "\(double)"
        default: value.kind
        }
    }

    private func mismatch(_ type: Any.Type) -> DecodingError {
        let context = DecodingError.Context(codingPath: codingPath, debugDescription: "found \(value.kind)")
        return value == .null ? .valueNotFound(type, context) : .typeMismatch(type, context)
    }
}

extension TreeDecoder: SingleValueDecodingContainer {
    func decodeNil() -> Bool { value == .null }
    func decode(_ type: Bool.Type) throws -> Bool { try decodeBool() }
    func decode(_ type: String.Type) throws -> String { try decodeString() }
    func decode(_ type: Double.Type) throws -> Double { try decodeFloat() }
    func decode(_ type: Float.Type) throws -> Float { try decodeFloat() }
    func decode(_ type: Int.Type) throws -> Int { try decodeInteger() }
    func decode(_ type: Int8.Type) throws -> Int8 { try decodeInteger() }
    func decode(_ type: Int16.Type) throws -> Int16 { try decodeInteger() }
    func decode(_ type: Int32.Type) throws -> Int32 { try decodeInteger() }
    func decode(_ type: Int64.Type) throws -> Int64 { try decodeInteger() }
    func decode(_ type: UInt.Type) throws -> UInt { try decodeInteger() }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try decodeInteger() }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try decodeInteger() }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try decodeInteger() }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try decodeInteger() }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try decode() }
}

struct KeyedTreeContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let members: [String: JSONValue]
    let node: CodingPathNode
    var codingPath: [any CodingKey] { node.codingPath }

    var allKeys: [Key] { members.keys.compactMap { Key(stringValue: $0) } }

    func contains(_ key: Key) -> Bool { members[key.stringValue] != nil }

    private func member(_ key: Key) throws -> JSONValue {
        guard let value = members[key.stringValue] else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "missing"))
        }
        return value
    }

    private func child(_ key: Key) throws -> TreeDecoder {
        TreeDecoder(value: try member(key), node: .key(key.stringValue, node))
    }

    func decodeNil(forKey key: Key) throws -> Bool { try member(key) == .null }
    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try child(key).decodeBool() }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try child(key).decodeString() }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try child(key).decodeFloat() }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try child(key).decodeFloat() }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try child(key).decodeInteger() }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try child(key).decodeInteger() }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try child(key).decodeInteger() }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try child(key).decodeInteger() }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try child(key).decodeInteger() }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try child(key).decodeInteger() }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try child(key).decodeInteger() }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try child(key).decodeInteger() }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try child(key).decodeInteger() }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try child(key).decodeInteger() }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try child(key).decode() }

    func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type, forKey key: Key
    ) throws -> KeyedDecodingContainer<NestedKey> {
        try child(key).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try child(key).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder {
        TreeDecoder(value: .object(members), node: node)
    }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        try child(key)
    }
}

struct UnkeyedTreeContainer: UnkeyedDecodingContainer {
    let elements: [JSONValue]
    let node: CodingPathNode
    private(set) var currentIndex = 0
    var codingPath: [any CodingKey] { node.codingPath }

    init(elements: [JSONValue], node: CodingPathNode) {
        self.elements = elements
        self.node = node
    }

    var count: Int? { elements.count }
    var isAtEnd: Bool { currentIndex >= elements.count }

    private mutating func next(_ type: Any.Type) throws -> TreeDecoder {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(type, .init(codingPath: codingPath, debugDescription: "at end"))
        }
        defer { currentIndex += 1 }
        return TreeDecoder(value: elements[currentIndex], node: .index(currentIndex, node))
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, elements[currentIndex] == .null else { return false }
        currentIndex += 1
        return true
    }

    mutating func decode(_ type: Bool.Type) throws -> Bool { try next(type).decodeBool() }
    mutating func decode(_ type: String.Type) throws -> String { try next(type).decodeString() }
    mutating func decode(_ type: Double.Type) throws -> Double { try next(type).decodeFloat() }
    mutating func decode(_ type: Float.Type) throws -> Float { try next(type).decodeFloat() }
    mutating func decode(_ type: Int.Type) throws -> Int { try next(type).decodeInteger() }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try next(type).decodeInteger() }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try next(type).decodeInteger() }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try next(type).decodeInteger() }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try next(type).decodeInteger() }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try next(type).decodeInteger() }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try next(type).decodeInteger() }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try next(type).decodeInteger() }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try next(type).decodeInteger() }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try next(type).decodeInteger() }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try next(type).decode() }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type
    ) throws -> KeyedDecodingContainer<NestedKey> {
        try next([String: JSONValue].self).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try next([JSONValue].self).unkeyedContainer()
    }

    mutating func superDecoder() throws -> any Decoder {
        try next(JSONValue.self)
    }
}

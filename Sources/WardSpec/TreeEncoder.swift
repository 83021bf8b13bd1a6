// An `Encoder` that builds a `JSONValue`, the counterpart of TreeDecoder: `ward spec --profile`
// writes a Spec through it. (Foundation's JSONEncoder would link FoundationEssentials into the
// static binary, and its pages and conformance records into every start: ~1.6 MB of peak RSS.)

extension JSONValue {
    /// `value` as a JSON tree, as its `Encodable` conformance describes it (nil optionals left out).
    public static func encoding<T: Encodable>(_ value: T) throws -> JSONValue {
        let root = TreeNode()
        try value.encode(to: TreeEncoder(node: root, codingPath: []))
        return root.json
    }
}

/// A value under construction: containers keep their children by reference until the end.
final class TreeNode {
    enum Kind { case unset, value(JSONValue), object([(String, TreeNode)]), array([TreeNode]) }
    var kind: Kind = .unset

    var json: JSONValue {
        switch kind {
        case .unset: return .null
        case .value(let v): return v
        case .object(let members): return .object(Dictionary(members.map { ($0.0, $0.1.json) }, uniquingKeysWith: { $1 }))
        case .array(let items): return .array(items.map(\.json))
        }
    }

    func child(forKey key: String) -> TreeNode {
        let node = TreeNode()
        if case .object(var members) = kind { members.append((key, node)); kind = .object(members) } else { kind = .object([(key, node)]) }
        return node
    }

    func appendChild() -> TreeNode {
        let node = TreeNode()
        if case .array(var items) = kind { items.append(node); kind = .array(items) } else { kind = .array([node]) }
        return node
    }
}

struct TreeEncoder: Encoder {
    let node: TreeNode
    var codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if case .object = node.kind {} else { node.kind = .object([]) }
        return KeyedEncodingContainer(KeyedTreeEncoder<Key>(node: node, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if case .array = node.kind {} else { node.kind = .array([]) }
        return UnkeyedTreeEncoder(node: node, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { self }
}

extension TreeEncoder: SingleValueEncodingContainer {
    func encodeNil() { node.kind = .value(.null) }
    func encode(_ value: Bool) { node.kind = .value(.bool(value)) }
    func encode(_ value: String) { node.kind = .value(.string(value)) }
    func encode(_ value: Double) { node.kind = .value(.double(value)) }
    func encode(_ value: Float) { node.kind = .value(.double(Double(value))) }
    func encode(_ value: Int) { node.kind = .value(.int(Int64(value))) }
    func encode(_ value: Int8) { node.kind = .value(.int(Int64(value))) }
    func encode(_ value: Int16) { node.kind = .value(.int(Int64(value))) }
    func encode(_ value: Int32) { node.kind = .value(.int(Int64(value))) }
    func encode(_ value: Int64) { node.kind = .value(.int(value)) }
    func encode(_ value: UInt) { node.kind = .value(.uint(UInt64(value))) }
    func encode(_ value: UInt8) { node.kind = .value(.uint(UInt64(value))) }
    func encode(_ value: UInt16) { node.kind = .value(.uint(UInt64(value))) }
    func encode(_ value: UInt32) { node.kind = .value(.uint(UInt64(value))) }
    func encode(_ value: UInt64) { node.kind = .value(.uint(value)) }
    func encode<T: Encodable>(_ value: T) throws { try value.encode(to: self) }
}

struct KeyedTreeEncoder<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let node: TreeNode
    var codingPath: [any CodingKey]

    func encoder(_ key: Key) -> TreeEncoder { TreeEncoder(node: node.child(forKey: key.stringValue), codingPath: codingPath + [key]) }

    mutating func encodeNil(forKey key: Key) { encoder(key).encodeNil() }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws { try value.encode(to: encoder(key)) }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        encoder(key).container(keyedBy: keyType)
    }
    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer { encoder(key).unkeyedContainer() }
    mutating func superEncoder() -> any Encoder { TreeEncoder(node: node.child(forKey: "super"), codingPath: codingPath) }
    mutating func superEncoder(forKey key: Key) -> any Encoder { encoder(key) }
}

struct UnkeyedTreeEncoder: UnkeyedEncodingContainer {
    let node: TreeNode
    var codingPath: [any CodingKey]
    var count: Int { if case .array(let items) = node.kind { items.count } else { 0 } }

    func encoder() -> TreeEncoder { TreeEncoder(node: node.appendChild(), codingPath: codingPath) }

    mutating func encodeNil() { encoder().encodeNil() }
    mutating func encode<T: Encodable>(_ value: T) throws { try value.encode(to: encoder()) }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        encoder().container(keyedBy: keyType)
    }
    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer { encoder().unkeyedContainer() }
    mutating func superEncoder() -> any Encoder { encoder() }
}

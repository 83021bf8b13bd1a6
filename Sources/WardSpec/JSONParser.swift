
// A strict RFC 8259 parser into `JSONValue`.
//
// Why not JSONDecoder: off Darwin, swift-foundation drops the reason and
// position of a syntax error, and reports a number that does not fit its field
// (`"uid": -1`) as "not valid JSON" with no path. Parsing into a tree first, then
// decoding the tree (JSONReader, or TreeDecoder for plain Codable types), gives a
// line and column for syntax errors and a JSON path for every other error.

/// A JSON syntax error with its 1-based line and column.
struct JSONSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    var reason: String
    var line: Int
    var column: Int

    var description: String { "\(reason) at line \(line), column \(column)" }
}

struct JSONParser {
    /// Deeper nesting is refused rather than risk exhausting the stack.
    static let maxDepth = 512

    /// Valid only during `parse`.
    private let bytes: UnsafeBufferPointer<UInt8>
    private var index = 0
    private var depth = 0

    static func parse(_ bytes: [UInt8]) throws(JSONSyntaxError) -> JSONValue {
        let result = bytes.withUnsafeBufferPointer { buffer in
            var parser = JSONParser(bytes: buffer)
            return Result { () throws(JSONSyntaxError) in try parser.parseDocument() }
        }
        return try result.get()
    }

    private init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    private mutating func parseDocument() throws(JSONSyntaxError) -> JSONValue {
        // RFC 8259 §8.1 lets parsers skip a byte order mark.
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { index = 3 }
        skipWhitespace()
        let value = try parseValue()
        skipWhitespace()
        if let byte = peek() { throw error("unexpected \(show(byte)) after the JSON value") }
        return value
    }

    // MARK: Values

    private mutating func parseValue() throws(JSONSyntaxError) -> JSONValue {
        guard let byte = peek() else { throw error("unexpected end of input") }
        switch byte {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): return try parseLiteral("true", .bool(true))
        case UInt8(ascii: "f"): return try parseLiteral("false", .bool(false))
        case UInt8(ascii: "n"): return try parseLiteral("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        case _ where isWordByte(byte): throw unexpectedWord()
        default: throw error("expected a value, found \(show(byte))")
        }
    }

    private mutating func parseObject() throws(JSONSyntaxError) -> JSONValue {
        try enter()
        index += 1  // {
        var members: [String: JSONValue] = [:]
        skipWhitespace()
        if peek() == UInt8(ascii: "}") {
            index += 1
            depth -= 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard let byte = peek() else { throw error("unexpected end of input") }
            guard byte == UInt8(ascii: "\"") else {
                if byte == UInt8(ascii: "}") { throw error("trailing comma before '}'") }
                throw error("expected a key in double quotes, found \(show(byte))")
            }
            let key = try parseString()
            skipWhitespace()
            try expect(":", "after the key \(quote(key))")
            skipWhitespace()
            members[key] = try parseValue()  // A repeated key: the last one wins, as in runc and crun.
            skipWhitespace()
            guard let next = peek() else { throw error("unexpected end of input") }
            index += 1
            if next == UInt8(ascii: "}") { break }
            guard next == UInt8(ascii: ",") else {
                throw error("expected ',' or '}' after an object member, found \(show(next))", at: index - 1)
            }
        }
        depth -= 1
        return .object(members)
    }

    private mutating func parseArray() throws(JSONSyntaxError) -> JSONValue {
        try enter()
        index += 1  // [
        var elements: [JSONValue] = []
        skipWhitespace()
        if peek() == UInt8(ascii: "]") {
            index += 1
            depth -= 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            if peek() == UInt8(ascii: "]") { throw error("trailing comma before ']'") }
            elements.append(try parseValue())
            skipWhitespace()
            guard let next = peek() else { throw error("unexpected end of input") }
            index += 1
            if next == UInt8(ascii: "]") { break }
            guard next == UInt8(ascii: ",") else {
                throw error("expected ',' or ']' after an array element, found \(show(next))", at: index - 1)
            }
        }
        depth -= 1
        return .array(elements)
    }

    private mutating func parseLiteral(_ word: String, _ value: JSONValue) throws(JSONSyntaxError) -> JSONValue {
        let end = index + word.utf8.count
        guard end <= bytes.count, bytes[index..<end].elementsEqual(word.utf8),
              end == bytes.count || !isWordByte(bytes[end]) else {
            throw unexpectedWord()
        }
        index = end
        return value
    }

    private mutating func parseNumber() throws(JSONSyntaxError) -> JSONValue {
        let start = index
        var isInteger = true
        if peek() == UInt8(ascii: "-") { index += 1 }
        if peek() == UInt8(ascii: "0") {
            index += 1
            if let byte = peek(), isDigit(byte) { throw error("invalid number: leading zeros are not allowed") }
        } else {
            try digits()
        }
        if peek() == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            try digits()
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            isInteger = false
            index += 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { index += 1 }
            try digits()
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        if isInteger {
            if let value = Int64(text) { return .int(value) }
            if let value = UInt64(text) { return .uint(value) }
        }
        guard let value = Double(text), value.isFinite else {
            throw error("number \(text) is out of range", at: start)
        }
        return .double(value)
    }

    private mutating func digits() throws(JSONSyntaxError) {
        guard let byte = peek(), isDigit(byte) else {
            throw error("invalid number: expected a digit, found \(peek().map(show) ?? "end of input")")
        }
        while let byte = peek(), isDigit(byte) { index += 1 }
    }

    // MARK: Strings

    private mutating func parseString() throws(JSONSyntaxError) -> String {
        let openingQuote = index
        index += 1
        var escaped: [UInt8] = []  // used (and allocated) only once an escape appears
        var hasEscapes = false
        var runStart = index
        var isASCII = true
        while true {
            guard let byte = peek() else {
                throw error("unterminated string; no closing quote for the string that starts", at: openingQuote)
            }
            switch byte {
            case UInt8(ascii: "\""):
                let run = UnsafeBufferPointer(rebasing: bytes[runStart..<index])
                index += 1
                guard hasEscapes else { return try makeString(run, isASCII: isASCII, at: openingQuote) }
                escaped.append(contentsOf: run)
                return try makeString(escaped, isASCII: isASCII, at: openingQuote)
            case UInt8(ascii: "\\"):
                escaped.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<index]))
                hasEscapes = true
                isASCII = try parseEscape(into: &escaped) && isASCII
                runStart = index
            case 0..<0x20:
                throw error("control character \(show(byte)) in string; escape it")
            default:
                isASCII = isASCII && byte < 0x80
                index += 1
            }
        }
    }

    private func makeString(
        _ utf8: some Collection<UInt8>, isASCII: Bool, at openingQuote: Int
    ) throws(JSONSyntaxError) -> String {
        if isASCII { return String(decoding: utf8, as: UTF8.self) }  // ASCII is always valid UTF-8
        guard let string = String(validating: utf8, as: UTF8.self) else {
            throw error("invalid UTF-8 in string", at: openingQuote + 1)
        }
        return string
    }

    /// Appends the escaped character; returns whether it is ASCII.
    private mutating func parseEscape(into buffer: inout [UInt8]) throws(JSONSyntaxError) -> Bool {
        index += 1  // backslash
        guard let byte = peek() else { throw error("unexpected end of input") }
        if let replacement = unescaped(byte) {
            buffer.append(replacement)
            index += 1
            return true
        }
        guard byte == UInt8(ascii: "u") else {
            throw error("invalid escape: backslash followed by \(show(byte))", at: index - 1)
        }
        let escapeStart = index - 1
        index += 1
        var scalar = try hex4()
        if (0xD800..<0xDC00).contains(scalar) {
            // A high surrogate must be followed by an escaped low surrogate (RFC 8259 §7).
            guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"),
                  bytes[index + 1] == UInt8(ascii: "u") else {
                throw error("unpaired UTF-16 surrogate in \\u escape", at: escapeStart)
            }
            index += 2
            let low = try hex4()
            guard (0xDC00..<0xE000).contains(low) else {
                throw error("unpaired UTF-16 surrogate in \\u escape", at: escapeStart)
            }
            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
        }
        guard let unicode = Unicode.Scalar(scalar) else {
            throw error("unpaired UTF-16 surrogate in \\u escape", at: escapeStart)
        }
        buffer.append(contentsOf: String(Character(unicode)).utf8)
        return unicode.isASCII
    }

    private mutating func hex4() throws(JSONSyntaxError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let byte = peek(), let digit = hexValue(byte) else {
                throw error("invalid \\u escape; expected 4 hex digits")
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }

    // MARK: Helpers

    private func peek() -> UInt8? {
        index < bytes.count ? bytes[index] : nil
    }

    private mutating func skipWhitespace() {
        while let byte = peek(), byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 {
            index += 1
        }
    }

    private mutating func expect(
        _ character: Unicode.Scalar, _ context: @autoclosure () -> String
    ) throws(JSONSyntaxError) {
        guard let byte = peek() else { throw error("unexpected end of input") }
        guard byte == UInt8(ascii: character) else {
            throw error("expected '\(character)' \(context()), found \(show(byte))")
        }
        index += 1
    }

    private mutating func enter() throws(JSONSyntaxError) {
        depth += 1
        if depth > Self.maxDepth { throw error("nested more than \(Self.maxDepth) levels deep") }
    }

    /// An unquoted word such as `pid` or `True`, the usual hand-editing slip.
    private func unexpectedWord() -> JSONSyntaxError {
        var end = index
        while end < bytes.count, end - index < 40, isWordByte(bytes[end]) { end += 1 }
        let word = String(decoding: UnsafeBufferPointer(rebasing: bytes[index..<end]), as: UTF8.self)
        return error("unexpected \(quote(word)); strings need double quotes, and the literals are true, false and null")
    }

    private func isWordByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "-"):
            true
        default: false
        }
    }

    private func isDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    /// The byte a one-character escape such as `\n` stands for.
    private func unescaped(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): byte
        case UInt8(ascii: "b"): 0x08
        case UInt8(ascii: "f"): 0x0C
        case UInt8(ascii: "n"): 0x0A
        case UInt8(ascii: "r"): 0x0D
        case UInt8(ascii: "t"): 0x09
        default: nil
        }
    }

    private func hexValue(_ byte: UInt8) -> UInt32? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }

    /// `'x'` for printable ASCII, `byte 0x01` otherwise.
    private func show(_ byte: UInt8) -> String {
        (0x21..<0x7F).contains(byte) ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(hex(byte))"
    }

    private func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
    }

    /// An error at `position` (default: the current one); columns count characters, not bytes.
    private func error(_ reason: String, at position: Int? = nil) -> JSONSyntaxError {
        var line = 1
        var column = 1
        for byte in bytes[..<min(position ?? index, bytes.count)] {
            if byte == 0x0A {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {  // skip UTF-8 continuation bytes
                column += 1
            }
        }
        return JSONSyntaxError(reason: reason, line: line, column: column)
    }
}

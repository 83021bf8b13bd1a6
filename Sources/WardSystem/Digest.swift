import CMD

/// SHA-256 from libmd (Debian's libmd-dev): small, static-friendly, and no Foundation (swift-crypto
/// pulls Foundation and its 34 MB of ICU data into a static binary: +6 MB of RSS per start).
public enum SHA256 {
    public static func hash<C: Collection>(_ bytes: C) -> [UInt8] where C.Element == UInt8 {
        var ctx = SHA2_CTX()
        SHA256Init(&ctx)
        let contiguous = Array(bytes)
        contiguous.withUnsafeBufferPointer { SHA256Update(&ctx, $0.baseAddress, $0.count) }
        var digest = [UInt8](repeating: 0, count: 32)
        digest.withUnsafeMutableBufferPointer { SHA256Final($0.baseAddress, &ctx) }
        return digest
    }

    /// Lowercase hex of the digest.
    public static func hex<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }
}

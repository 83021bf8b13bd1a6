import Testing
import WardSystem

/// SHA256.Stream (SHA-NI where the CPU has it) against libmd's one-shot SHA256.hash: every
/// length around the 55/56/64-byte padding edges, fed whole and in odd chunks.
@Suite("DigestStream")
struct DigestStreamTests {
    static func stream(_ bytes: [UInt8], chunk: Int) -> [UInt8] {
        var s = SHA256.Stream()
        var i = 0
        while i < bytes.count {
            let n = min(chunk, bytes.count - i)
            bytes[i..<(i + n)].withUnsafeBytes { s.update($0) }
            i += n
        }
        return s.finish()
    }

    @Test("known vectors and every length 0...300 in chunks of 1, 7, 64 and all")
    func matchesLibmd() {
        #expect(SHA256.hex(Self.stream(Array("abc".utf8), chunk: 3)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(Self.stream([], chunk: 1)) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        var state: UInt32 = 12345
        let data: [UInt8] = (0..<5000).map { _ in state = state &* 1_103_515_245 &+ 12345; return UInt8(truncatingIfNeeded: state >> 16) }
        for length in Array(0...300) + [4095, 4096, 4097, 5000] {
            let bytes = Array(data.prefix(length))
            let expected = SHA256.hash(bytes)
            for chunk in [1, 7, 64, max(1, length)] {
                #expect(Self.stream(bytes, chunk: chunk) == expected, "length \(length), chunk \(chunk)")
            }
        }
    }
}

import CMD
import CWardShim

extension SHA256 {
    /// Whether this CPU has the SHA extensions (checked once): then Stream uses them.
    public static let accelerated: Bool = ward_sha256_ni_available() != 0

    /// Incremental SHA-256 (for blobs too large to hold in memory): the SHA-NI code in
    /// CWardShim/sha256_ni.c where the CPU has it (image layers: gigabytes), else libmd.
    public struct Stream {
        private var ctx = SHA2_CTX()
        private var fast = ward_sha256_ctx()
        private let useFast = SHA256.accelerated

        public init() {
            if useFast { ward_sha256_ni_init(&fast) } else { SHA256Init(&ctx) }
        }

        public mutating func update(_ bytes: UnsafeRawBufferPointer) {
            guard let base = bytes.baseAddress, bytes.count > 0 else { return }
            if useFast {
                ward_sha256_ni_update(&fast, base, bytes.count)
            } else {
                SHA256Update(&ctx, base.assumingMemoryBound(to: UInt8.self), bytes.count)
            }
        }

        /// The digest; the stream is spent afterwards.
        public mutating func finish() -> [UInt8] {
            var digest = [UInt8](repeating: 0, count: 32)
            digest.withUnsafeMutableBufferPointer {
                if useFast { ward_sha256_ni_final(&fast, $0.baseAddress) } else { SHA256Final($0.baseAddress, &ctx) }
            }
            return digest
        }
    }
}

import CMD

extension SHA256 {
    /// Incremental SHA-256 (for blobs too large to hold in memory).
    public struct Stream {
        private var ctx = SHA2_CTX()

        public init() { SHA256Init(&ctx) }

        public mutating func update(_ bytes: UnsafeRawBufferPointer) {
            guard let base = bytes.baseAddress, bytes.count > 0 else { return }
            SHA256Update(&ctx, base.assumingMemoryBound(to: UInt8.self), bytes.count)
        }

        /// The digest; the stream is spent afterwards.
        public mutating func finish() -> [UInt8] {
            var digest = [UInt8](repeating: 0, count: 32)
            digest.withUnsafeMutableBufferPointer { SHA256Final($0.baseAddress, &ctx) }
            return digest
        }
    }
}

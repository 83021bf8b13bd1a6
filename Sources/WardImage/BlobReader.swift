import CWardShim
import WardSystem

#if canImport(Glibc)
import Glibc
#endif

/// One blob's bytes, read once from front to back: a whole file (a layout's blobs/sha256/HEX)
/// or a byte range of an archive. Every byte read is hashed; `verify()` reads what is left and
/// checks the total size and the sha256 against the descriptor. Reading never goes past the
/// size the descriptor states, whatever the file holds.
public final class BlobReader {
    public let descriptor: Descriptor?
    let fd: Int32
    let start: Int64
    /// Bytes available: the file's size or the archive member's, before checking.
    public let available: Int64
    let closeFD: Bool
    let owner: AnyObject?
    let label: String
    public private(set) var position: Int64 = 0
    /// When false the bytes are not hashed (the caller verified them already; see LayerApplier.apply(fd:)).
    let hashing: Bool
    var hasher = SHA256.Stream()
    /// Called after every read with the bytes just read (progress).
    public var onRead: ((Int) -> Void)?
    /// `nextChunk`: two buffers in turn, each hashed on a second thread (SHA-NI) while the
    /// caller uses it; a buffer is reused only after its hash is done.
    var chunks: [UnsafeMutableRawBufferPointer] = []
    var chunkSequence: [UInt64] = [0, 0]
    var nextChunkIndex = 0
    var asyncHasher: OpaquePointer?
    /// The digest once computed: a hash stream can be finished only once, verify() more often.
    var digest: String?

    /// - Parameters: `fd` is read with pread from `start`; closed at deinit when `closeFD`.
    ///   `owner` keeps whatever owns `fd` alive (an archive) while this reader lives.
    init(fd: Int32, start: Int64, available: Int64, descriptor: Descriptor?, label: String,
         closeFD: Bool, owner: AnyObject?, hashing: Bool = true) throws(ImageError) {
        self.fd = fd
        self.start = start
        self.available = available
        self.descriptor = descriptor
        self.label = label
        self.closeFD = closeFD
        self.owner = owner
        self.hashing = hashing
        if let descriptor, available > descriptor.size {
            if closeFD { close(fd) }
            throw ImageError("blob \(descriptor.digest): larger than the \(descriptor.size) bytes its descriptor states; refusing it")
        }
    }

    deinit {
        if let asyncHasher { ward_sha256_async_finish(asyncHasher, nil) }
        for chunk in chunks { chunk.deallocate() }
        if closeFD { close(fd) }
    }

    /// The next bytes into `buffer` (hashed); 0 at the end.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(ImageError) -> Int {
        let n = try readUnhashed(into: buffer)
        if hashing && n > 0 { hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n])) }
        return n
    }

    /// The next bytes (at most 1 MiB), hashed while the caller uses them: valid until the call
    /// after next (libarchive needs a read callback's block only until its next call).
    public func nextChunk() throws(ImageError) -> UnsafeRawBufferPointer {
        if chunks.isEmpty {
            chunks = [.allocate(byteCount: 1 << 20, alignment: 64), .allocate(byteCount: 1 << 20, alignment: 64)]
            if hashing { asyncHasher = ward_sha256_async_start() }
        }
        let i = nextChunkIndex
        nextChunkIndex ^= 1
        if let asyncHasher, chunkSequence[i] > 0 { ward_sha256_async_wait(asyncHasher, chunkSequence[i]) }
        let n = try readUnhashed(into: chunks[i])
        let bytes = UnsafeRawBufferPointer(rebasing: chunks[i][0..<n])
        if hashing && n > 0 {
            if let asyncHasher {
                chunkSequence[i] = ward_sha256_async_submit(asyncHasher, bytes.baseAddress, n)
            } else {
                hasher.update(bytes)
            }
        }
        return bytes
    }

    func readUnhashed(into buffer: UnsafeMutableRawBufferPointer) throws(ImageError) -> Int {
        let want = min(Int64(buffer.count), available - position)
        guard want > 0 else { return 0 }
        while true {
            let n = pread(fd, buffer.baseAddress, Int(want), off_t(start + position))
            if n < 0 {
                if errno == EINTR { continue }
                throw ImageError("\(label): \(SystemError("read", errno: errno))")
            }
            if n == 0 { return 0 }  // the file shrank; verify() reports the short size
            position += Int64(n)
            onRead?(n)
            return n
        }
    }

    /// Reads the rest, then checks the size and the digest. Returns the actual `sha256:HEX`.
    @discardableResult
    public func verify() throws(ImageError) -> String {
        let actual: String
        if let digest {
            actual = digest
        } else if !chunks.isEmpty {
            // Chunked reading: drain the same way, then the digest from whichever hasher ran.
            while try nextChunk().count > 0 {}
            if let asyncHasher {
                var digest = [UInt8](repeating: 0, count: 32)
                digest.withUnsafeMutableBufferPointer { ward_sha256_async_finish(asyncHasher, $0.baseAddress) }
                self.asyncHasher = nil
                actual = "sha256:" + SHA256.hex(digest)
            } else {
                actual = "sha256:" + SHA256.hex(hasher.finish())
            }
        } else {
            let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
            defer { scratch.deallocate() }
            while try read(into: scratch) > 0 {}
            actual = "sha256:" + SHA256.hex(hasher.finish())
        }
        digest = actual
        guard let descriptor else { return actual }
        guard position == descriptor.size else {
            throw ImageError("blob \(descriptor.digest): \(position) bytes, but its descriptor states \(descriptor.size); refusing it")
        }
        guard !hashing || actual == descriptor.digest else {
            throw ImageError("blob \(label): digest mismatch: the descriptor expects \(descriptor.digest), the content is \(actual); refusing it")
        }
        return actual
    }
}

extension Descriptor {
    /// A descriptor ward made itself (docker archives have none for their config and layers).
    public init(mediaType: String, digest: String, size: Int64, annotations: [String: String] = [:]) {
        self.mediaType = mediaType
        self.digest = digest
        self.size = size
        self.annotations = annotations
        self.platform = nil
    }
}

import CArchive
import WardSystem

#if canImport(Glibc)
import Glibc
#endif

/// One layer blob read once, front to back, through two libarchive readers:
///
///     blob bytes --(hashed: the blob digest)--> outer reader: raw format, gzip/zstd filters
///       --(hashed: the diffID)--> inner reader: tar format, no filter --> LayerApplier
///
/// so the blob digest and the digest of the uncompressed tar (the config's rootfs.diff_ids[i])
/// are both computed in the single pass that applies the layer, with no copy between the readers
/// (the inner reader gets the outer one's buffers). An uncompressed blob is hashed once: its
/// digest is its diffID. No skip callbacks: every byte libarchive steps over is still read and
/// hashed. `finish()` drains what the tar reader left (padding, trailing blocks) before checking.
final class LayerStream {
    let blob: BlobReader
    let label: String
    let outer: OpaquePointer
    /// The tar reader the applier iterates.
    let inner: OpaquePointer
    var diffHasher = SHA256.Stream()
    var hashDiff = true
    var outerDone = false
    /// The first error a callback met (libarchive only sees "-1").
    var failure: ImageError?
    private(set) var uncompressedBytes: Int64 = 0

    init(blob: BlobReader, label: String) throws(ImageError) {
        self.blob = blob
        self.label = label
        outer = archive_read_new()
        inner = archive_read_new()
        // The media types an OCI layer can have: tar, tar+gzip, tar+zstd. Naming the filters
        // (not _all) keeps the static binary free of lzma/lz4/bzip2/xml2 and their code.
        archive_read_support_filter_gzip(outer)
        archive_read_support_filter_zstd(outer)
        archive_read_support_format_raw(outer)
        let me = Unmanaged.passUnretained(self).toOpaque()
        guard archive_read_open2(outer, me, nil, { _, client, out in
            Unmanaged<LayerStream>.fromOpaque(client!).takeUnretainedValue().readBlob(out!)
        }, nil, nil) == ARCHIVE_OK else {
            throw failure ?? ImageError("\(label): not a readable layer: \(Self.message(outer))")
        }
        var entry: OpaquePointer?
        switch archive_read_next_header(outer, &entry) {
        case ARCHIVE_OK, ARCHIVE_WARN: break
        case ARCHIVE_EOF: outerDone = true
        default: throw failure ?? ImageError("\(label): not a readable layer: \(Self.message(outer))")
        }
        // Not compressed: the bytes the blob reader hashes are the tar itself.
        hashDiff = archive_filter_code(outer, 0) != ARCHIVE_FILTER_NONE || !blob.hashing
        archive_read_support_format_tar(inner)
        guard archive_read_open2(inner, me, nil, { _, client, out in
            Unmanaged<LayerStream>.fromOpaque(client!).takeUnretainedValue().readDecompressed(out!)
        }, nil, nil) == ARCHIVE_OK else {
            throw failure ?? ImageError("\(label): not a readable tar: \(Self.message(inner))")
        }
    }

    deinit {
        archive_read_free(inner)
        archive_read_free(outer)
    }

    static func message(_ archive: OpaquePointer) -> String {
        archive_error_string(archive).map { String(cString: $0) } ?? "unknown libarchive error"
    }

    func readBlob(_ out: UnsafeMutablePointer<UnsafeRawPointer?>) -> la_ssize_t {
        do {
            // Hashed on a second thread while libarchive decompresses and the applier writes.
            let chunk = try blob.nextChunk()
            out.pointee = chunk.baseAddress
            return la_ssize_t(chunk.count)
        } catch {
            if failure == nil { failure = error }
            return -1
        }
    }

    func readDecompressed(_ out: UnsafeMutablePointer<UnsafeRawPointer?>) -> la_ssize_t {
        guard !outerDone else { return 0 }
        var block: UnsafeRawPointer?
        var size = 0
        var offset: la_int64_t = 0
        while true {
            let rc = archive_read_data_block(outer, &block, &size, &offset)
            if rc == ARCHIVE_EOF { outerDone = true; return 0 }
            guard rc == ARCHIVE_OK || rc == ARCHIVE_WARN else {
                if failure == nil { failure = ImageError("\(label): decompressing: \(Self.message(outer))") }
                return -1
            }
            guard size > 0, let block else { continue }
            if hashDiff { diffHasher.update(UnsafeRawBufferPointer(start: block, count: size)) }
            uncompressedBytes += Int64(size)
            out.pointee = block
            return la_ssize_t(size)
        }
    }

    /// After a failed apply: when the blob's digest is wrong, that is the error to report.
    func blobError() -> ImageError? {
        if let failure { return failure }
        do { try blob.verify() } catch { return error }
        return nil
    }

    /// Drains both readers, then checks the blob (size, digest) and the diffID. Returns the diffID.
    func finish(expectedDiffID: String?, index: Int?) throws(ImageError) -> String {
        var ignored: UnsafeRawPointer?
        while readDecompressed(&ignored) > 0 {}
        if let failure { throw failure }
        let digest = try blob.verify()
        let diffID = hashDiff ? "sha256:" + SHA256.hex(diffHasher.finish()) : digest
        if let expectedDiffID, diffID != expectedDiffID {
            let field = index.map { "rootfs.diff_ids[\($0)]" } ?? "diffID"
            throw ImageError("\(label): uncompressed digest mismatch: the image config's \(field) is \(expectedDiffID), the decompressed layer is \(diffID); refusing the image (a corrupt or tampered layer, or a config from another image)")
        }
        return diffID
    }
}

import WardSystem

#if canImport(Glibc)
import Glibc
#endif

/// The members of an uncompressed tar file (an oci-archive or a `docker save` archive), found by
/// reading its headers only: nothing is extracted. A blob is read in place, with pread, from the
/// byte range its header gives, so no member can land anywhere (no paths, no symlinks followed
/// on the host). Symlink members (docker save links repeated layers) are resolved by name,
/// lexically, within the archive's own names.
///
/// Headers: ustar/GNU (octal or base-256 numbers), GNU long names (`L`, `K`) and pax extended
/// headers (`x`: path, linkpath, size; `g` is skipped). Every header's checksum is checked.
final class TarIndex {
    struct Member {
        var offset: Int64   // of the data, in the file
        var size: Int64
        var type: UInt8     // '0' regular, '2' symlink, '1' hardlink, '5' directory, ...
        var link: String
    }

    let path: String
    let fd: Int32
    private(set) var members: [String: Member] = [:]

    deinit { close(fd) }

    /// Indexes `path` (a regular file), taking `fd`: it stays open for the blobs' reads.
    init(path: String, fd: Int32) throws(ImageError) {
        self.path = path
        self.fd = fd
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw ImageError("\(path): \(SystemError("fstat", errno: errno))") }
        let fileSize = Int64(st.st_size)
        var position: Int64 = 0
        var header = [UInt8](repeating: 0, count: 512)
        var longName: String?
        var longLink: String?
        var pax: [String: String] = [:]
        var zeroBlocks = 0
        while position + 512 <= fileSize {
            try Self.pread(fd, &header, at: position, path: path)
            position += 512
            if header.allSatisfy({ $0 == 0 }) {
                zeroBlocks += 1
                if zeroBlocks == 2 { break }
                continue
            }
            zeroBlocks = 0
            guard Self.checksumOK(header) else {
                throw ImageError("\(path): bad tar header checksum at byte \(position - 512); not a tar archive, or a damaged one")
            }
            guard var size = Self.number(header[124..<136]) else {
                throw ImageError("\(path): unreadable size in the tar header at byte \(position - 512)")
            }
            let type = header[156]
            let dataOffset = position
            let padded = (size + 511) & ~511
            guard size >= 0, dataOffset + padded <= fileSize else {
                throw ImageError("\(path): the member at byte \(position - 512) runs past the end of the file (truncated archive?)")
            }
            position += padded
            switch type {
            case UInt8(ascii: "L"), UInt8(ascii: "K"), UInt8(ascii: "x"):
                guard size <= 1 << 20 else { throw ImageError("\(path): tar extension header of \(size) bytes at byte \(dataOffset - 512); refusing it") }
                var data = [UInt8](repeating: 0, count: Int(size))
                try Self.pread(fd, &data, at: dataOffset, path: path)
                if type == UInt8(ascii: "L") { longName = Self.cString(data[...]) }
                else if type == UInt8(ascii: "K") { longLink = Self.cString(data[...]) }
                else { pax = Self.parsePax(data) }
                continue
            case UInt8(ascii: "g"):
                continue
            default:
                break
            }
            var name = Self.cString(header[0..<100])
            if header[257..<262].elementsEqual("ustar".utf8) {
                let prefix = Self.cString(header[345..<500])
                if !prefix.isEmpty { name = prefix + "/" + name }
            }
            var link = Self.cString(header[157..<257])
            if let n = longName { name = n }
            if let l = longLink { link = l }
            if let p = pax["path"] { name = p }
            if let l = pax["linkpath"] { link = l }
            if let s = pax["size"] {
                guard let n = Int64(s), n >= 0 else { throw ImageError("\(path): bad pax size \"\(s)\" for \(name)") }
                // The data ran to the pax size, not the header's: step over that instead.
                position = dataOffset + ((n + 511) & ~511)
                guard position <= fileSize else { throw ImageError("\(path): \(name) runs past the end of the file (truncated archive?)") }
                size = n
            }
            longName = nil; longLink = nil; pax = [:]
            guard let key = Self.normalize(name) else { continue }
            members[key] = Member(offset: dataOffset, size: size, type: type == 0 ? UInt8(ascii: "0") : type, link: link)
        }
    }

    /// `./a//b/` -> `a/b`; nil for names that climb (`..`) or name the root.
    static func normalize(_ name: String) -> String? {
        let parts = name.split(separator: "/", omittingEmptySubsequences: true).filter { $0 != "." }
        if parts.isEmpty || parts.contains("..") { return nil }
        return parts.joined(separator: "/")
    }

    /// The regular-file member `name`, following symlink and hardlink members by name (at most 16),
    /// relative to the link's directory and never above the archive's top.
    func regularFile(_ name: String) throws(ImageError) -> Member {
        guard var key = Self.normalize(name) else { throw ImageError("\(path): \"\(name)\" is not a member name inside the archive") }
        for _ in 0..<16 {
            guard let m = members[key] else { throw ImageError("\(path): no member \"\(key)\" in the archive") }
            switch m.type {
            case UInt8(ascii: "0"), UInt8(ascii: "7"):
                return m
            case UInt8(ascii: "2"), UInt8(ascii: "1"):
                // A symlink is relative to its directory; a hardlink names a member from the top.
                var parts = m.type == UInt8(ascii: "2") && !m.link.hasPrefix("/") ? key.split(separator: "/").dropLast().map(String.init) : []
                for part in m.link.split(separator: "/", omittingEmptySubsequences: true) where part != "." {
                    if part == ".." {
                        guard !parts.isEmpty else { throw ImageError("\(path): member \"\(key)\" links to \"\(m.link)\", outside the archive; refusing it") }
                        parts.removeLast()
                    } else {
                        parts.append(String(part))
                    }
                }
                key = parts.joined(separator: "/")
            default:
                throw ImageError("\(path): member \"\(key)\" is not a regular file")
            }
        }
        throw ImageError("\(path): member \"\(name)\": too many levels of links inside the archive")
    }

    func read(_ member: Member, limit: Int) throws(ImageError) -> [UInt8] {
        guard member.size <= Int64(limit) else { throw ImageError("\(path): a \(member.size)-byte member is too large for metadata") }
        var data = [UInt8](repeating: 0, count: Int(member.size))
        try Self.pread(fd, &data, at: member.offset, path: path)
        return data
    }

    static func pread(_ fd: Int32, _ buffer: inout [UInt8], at offset: Int64, path: String) throws(ImageError) {
        var done = 0
        while done < buffer.count {
            let n = buffer.withUnsafeMutableBytes { Glibc.pread(fd, $0.baseAddress! + done, $0.count - done, off_t(offset) + off_t(done)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ImageError("\(path): \(SystemError("pread", errno: errno))")
            }
            if n == 0 { throw ImageError("\(path): unexpected end of file at byte \(offset + Int64(done)) (truncated archive?)") }
            done += n
        }
    }

    static func cString(_ bytes: ArraySlice<UInt8>) -> String {
        let end = bytes.firstIndex(of: 0) ?? bytes.endIndex
        return String(decoding: bytes[bytes.startIndex..<end], as: UTF8.self)
    }

    /// Octal (NUL/space padded) or GNU base-256 (high bit of the first byte set).
    static func number(_ field: ArraySlice<UInt8>) -> Int64? {
        guard let first = field.first else { return nil }
        if first & 0x80 != 0 {
            var value: Int64 = Int64(first & 0x7f)
            for b in field.dropFirst() {
                guard value < Int64.max >> 8 else { return nil }
                value = value << 8 | Int64(b)
            }
            return value
        }
        var value: Int64 = 0
        var seen = false
        for b in field {
            if b == 0 || b == 0x20 { if seen { break } else { continue } }
            guard b >= 0x30 && b <= 0x37, value < Int64.max >> 3 else { return nil }
            value = value << 3 | Int64(b - 0x30)
            seen = true
        }
        return value
    }

    static func checksumOK(_ header: [UInt8]) -> Bool {
        guard let stored = number(header[148..<156]) else { return false }
        var unsigned: Int64 = 0
        var signed: Int64 = 0
        for (i, b) in header.enumerated() {
            let v: UInt8 = (148..<156).contains(i) ? 0x20 : b
            unsigned += Int64(v)
            signed += Int64(Int8(bitPattern: v))
        }
        return stored == unsigned || stored == signed
    }

    /// pax records: "LEN key=value\n".
    static func parsePax(_ data: [UInt8]) -> [String: String] {
        var out: [String: String] = [:]
        var i = 0
        while i < data.count {
            guard let space = data[i...].firstIndex(of: 0x20), let len = Int(String(decoding: data[i..<space], as: UTF8.self)),
                  len > 0, i + len <= data.count else { break }
            let record = data[(space + 1)..<(i + len - 1)]  // without the trailing newline
            if let eq = record.firstIndex(of: UInt8(ascii: "=")) {
                out[String(decoding: record[record.startIndex..<eq], as: UTF8.self)] =
                    String(decoding: record[(eq + 1)...], as: UTF8.self)
            }
            i += len
        }
        return out
    }
}

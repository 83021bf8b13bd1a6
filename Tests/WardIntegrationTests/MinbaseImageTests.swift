import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The realistic case: Debian's own minbase tree (~6,800 entries) with a second layer of umoci's
/// whiteouts on top, made once by scripts/make-minbase-image (scripts/test runs it as root).
@Suite("MinbaseImage")
struct MinbaseImageTests {
    static let layout = "/var/cache/ward-fixtures/minbase"
    static let present = FileManager.default.fileExists(atPath: layout + "/index.json")

    /// Every entry as "type mode size links path -> target", then every file's sha256, sorted:
    /// one find/sha256sum pass (thousands of files).
    static func listing(_ root: String) throws -> [String] {
        let script = "cd \"$1\" && find . -printf '%y %m %s %n %p -> %l\\n' | LC_ALL=C sort && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum"
        return try Child.check(["/bin/sh", "-c", script, "listing", root]).split(separator: "\n").map(String.init)
    }

    @Test("ward unpack of minbase equals umoci unpack --rootless, entry by entry, but for ward's two documented choices",
          .enabled(if: present && ImageInputTests.umoci != nil,
                   "needs the minbase fixture (scripts/make-minbase-image, as root: debootstrap from the Debian mirror) and umoci"))
    func matchesUmoci() async throws {
        try await withSandbox(args: ["/bin/true"]) { sb in
            try await sb.chownToUser(sb.dir)
            let u = try await Child(ImageInputTests.asTestUser(sb, [ImageInputTests.umoci!, "unpack", "--rootless", "--image",
                                                                   Self.layout + ":minbase", sb.dir + "/umoci"]),
                                    outputDirectory: sb.dir).wait(timeout: 120)
            try #require(u.status == 0, "umoci: \(u)")
            let w = try await Child(sb.invocation(["unpack", "--progress", "none", Self.layout + ":minbase", sb.dir + "/ward"], as: .testUser),
                                    outputDirectory: sb.dir).wait(timeout: 120)
            try #require(w.status == 0, "ward: \(w)")
            #expect(w.stderr.contains("skipped 8 device node(s)") && w.stderr.contains("cleared setuid/setgid on 11 file(s)"), "\(w)")

            // ward's choices, from the issue: device nodes are skipped (umoci leaves empty files in
            // their place), and setuid/setgid go when the owner is not mapped (umoci keeps them).
            let devices = ["console", "full", "null", "ptmx", "random", "tty", "urandom", "zero"].map { "./dev/" + $0 }
            let emptySHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
            var expected: [String] = []
            for line in try Self.listing(sb.dir + "/umoci/rootfs") {
                if devices.contains(where: { line.hasSuffix(" " + $0 + " -> ") || line == "\(emptySHA)  \($0)" }) { continue }
                var fields = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
                if fields.count == 3, fields[0].count == 1, let mode = Int(fields[1], radix: 8) {
                    fields[1] = String(mode & 0o1777, radix: 8)
                }
                expected.append(fields.joined(separator: " "))
            }
            let got = try Self.listing(sb.dir + "/ward/rootfs")
            let missing = Set(expected).subtracting(got), extra = Set(got).subtracting(expected)
            #expect(missing.isEmpty && extra.isEmpty, "only umoci: \(missing.sorted().prefix(20))\nonly ward: \(extra.sorted().prefix(20))")
            #expect(got.count > 11_000, "\(got.count) lines")
        }
    }

    @Test("run --image of minbase: Debian's tree on an overlay, umoci's whiteouts honoured, dpkg works read-only",
          .enabled(if: present, "needs the minbase fixture: run scripts/make-minbase-image as root (debootstrap from the Debian mirror)"))
    func runsDebian() async throws {
        try await withSandbox(args: ["/bin/true"]) { sb in
            try await sb.chownToUser(sb.dir)
            let script = "cat /etc/ward-fixture; test -e /etc/motd || echo motd-gone; ls /usr/share/zoneinfo/Europe; " +
                "test -e /usr/share/doc/apt || echo doc-gone; dpkg-query -W | wc -l; cat /etc/issue"
            let r = try await Child(sb.invocation(["run", "--image", Self.layout + ":minbase", sb.id, "--", "/bin/sh", "-c", script],
                                                  as: .testUser), outputDirectory: sb.dir).wait(timeout: 120)
            #expect(r.status == 0, "\(r)")
            let lines = r.stdout.split(separator: "\n").map(String.init)
            #expect(lines.count == 6 && lines[0] == "layer two" && lines[1] == "motd-gone" && lines[2] == "ward" && lines[3] == "doc-gone", "\(r)")
            #expect((Int(lines.count > 4 ? lines[4] : "") ?? 0) > 80, "dpkg sees the installed packages: \(r)")
        }
    }
}

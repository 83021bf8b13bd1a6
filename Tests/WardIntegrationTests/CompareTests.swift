import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `ward compare` and the probe battery (`ward __probe`, Sources/WardProbe) as the unprivileged
/// test user: probe truth asserted probe by probe under the shipped profiles, the sealed probe
/// binary, and the JSON document against docs/compare-schema.json.
@Suite("ward compare and the probe battery")
struct CompareTests {
    struct Finding { var result: String; var mechanism: String; var detail: String }

    /// Runs `ward compare --format json` over `profiles` (then `options`), returns the parsed document.
    static func compare(_ profiles: [String], options: [String] = [], in sb: Sandbox) async throws -> (Child.Result, [String: Any]) {
        let args = ["compare", "--bundle", sb.bundle, "--format", "json"] + profiles.flatMap { ["--profile", $0] } + options
        let child = try Child(sb.invocation(args, as: .testUser), outputDirectory: sb.dir)
        let r = await child.wait(timeout: 120)
        let object = (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any] ?? [:]
        return (r, object)
    }

    /// profile name -> probe id -> finding.
    static func findings(_ doc: [String: Any]) -> [String: [String: Finding]] {
        var out: [String: [String: Finding]] = [:]
        for p in doc["profiles"] as? [[String: Any]] ?? [] {
            let name = p["name"] as? String ?? "?"
            for probe in p["probes"] as? [[String: Any]] ?? [] {
                out[name, default: [:]][probe["id"] as? String ?? "?"] =
                    Finding(result: probe["result"] as? String ?? "?", mechanism: probe["mechanism"] as? String ?? "?",
                            detail: probe["detail"] as? String ?? "")
            }
        }
        return out
    }

    static func battery(_ profile: String) async throws -> [String: Finding] {
        var result: [String: Finding] = [:]
        try await withSandbox(script: "true") { sb in
            try await sb.save()
            let (r, doc) = try await compare([profile], in: sb)
            #expect(r.status == 0, "\(r)")
            result = findings(doc)[profile] ?? [:]
            #expect(result.count >= 25, "\(r)")
        }
        return result
    }

    @Test("permissive: user namespaces, mounts in them, and drift are allowed")
    func permissive() async throws {
        let f = try await Self.battery("permissive")
        for id in ["unshare-user", "mount-tmpfs", "drift-rootfs", "drift-memfd", "write-rootfs"] {
            #expect(f[id]?.result == "allowed", "\(id): \(String(describing: f[id]))")
        }
        #expect(f["seccomp-mode"]?.result == "allowed")
        #expect(f["uid-map"]?.result == "blocked", "sandbox root must not be host root: \(String(describing: f["uid-map"]))")
    }

    @Test("default: drift, writes to / and raw sockets are blocked")
    func hardenedDefault() async throws {
        let f = try await Self.battery("default")
        for id in ["drift-rootfs", "drift-tmp", "drift-dev-shm", "drift-run"] {
            #expect(f[id]?.result == "blocked", "\(id): \(String(describing: f[id]))")
        }
        #expect(f["write-rootfs"]?.result == "blocked" && f["write-rootfs"]?.mechanism == "readonly-fs", "\(String(describing: f["write-rootfs"]))")
        for id in ["raw-packet", "raw-icmp", "net-outbound"] {
            #expect(f[id]?.result == "blocked", "\(id): \(String(describing: f[id]))")
        }
        #expect(f["no-new-privs"]?.result == "blocked")
        #expect(f["cap-effective"]?.result == "blocked")
    }

    @Test("strict: every dangerous syscall is refused by seccomp")
    func strict() async throws {
        let f = try await Self.battery("strict")
        for id in ["ptrace", "keyctl", "bpf", "perf-event-open", "io-uring-setup", "userfaultfd", "personality",
                   "unshare-user", "unshare-mount", "unshare-net", "mount-tmpfs", "mount-proc"] {
            #expect(f[id]?.result == "blocked" && f[id]?.mechanism == "seccomp", "\(id): \(String(describing: f[id]))")
        }
        #expect(f["drift-memfd"]?.result == "blocked", "\(String(describing: f["drift-memfd"]))")
        #expect(f["fork-bomb"]?.result == "blocked" && f["fork-bomb"]?.mechanism == "rlimit", "\(String(describing: f["fork-bomb"]))")
    }

    @Test("the probe runs from a sealed memfd copy of ward that the sandbox cannot open for writing",
          arguments: ["permissive", "default"])
    func sealedProbe(_ profile: String) async throws {
        let f = try await Self.battery(profile)
        let probe = try #require(f["overwrite-runtime"])
        #expect(probe.result == "blocked" && probe.mechanism == "seal", "\(probe)")
        #expect(probe.detail.contains("/memfd:ward-probe"), "\(probe)")
    }

    @Test("ward compare over the shipped profiles (and Docker's seccomp file) exits 0 and its JSON validates")
    func shippedProfiles() async throws {
        try await withSandbox(script: "true") { sb in
            try await sb.save()
            var options = ["--", "/bin/sh", "-c", "exit 3"]
            var expected = ["permissive", "docker-compatible", "default", "strict"]
            let docker = (Harness.repoRoot as NSString).deletingLastPathComponent + "/shared/reference/seccomp/docker-default.json"
            if FileManager.default.fileExists(atPath: docker) {
                let copy = sb.dir + "/docker-default.json"
                try FileManager.default.copyItem(atPath: docker, toPath: copy)
                try await sb.chownToUser(copy)
                options = ["--seccomp-profile", copy] + options
                expected.append("docker-default")
            }
            let (r, doc) = try await Self.compare(["permissive", "docker-compatible", "default", "strict"], options: options, in: sb)
            #expect(r.status == 0, "\(r)")
            let profiles = doc["profiles"] as? [[String: Any]] ?? []
            #expect(profiles.map { $0["name"] as? String ?? "" } == expected, "\(r)")
            for p in profiles {
                #expect(p["ok"] as? Bool == true, "\(p["name"] ?? "?"): \(p["error"] ?? "")")
                #expect((p["workload"] as? [String: Any])?["exitCode"] as? Int == 3, "\(p["name"] ?? "?"): \(p["workload"] ?? "")")
            }
            // Hardening only adds: strict blocks at least what default does, default what permissive does.
            let score = { (name: String) in ((profiles.first { $0["name"] as? String == name }?["score"]) as? [String: Any])?["blocked"] as? Int ?? -1 }
            #expect(score("strict") >= score("default") && score("default") > score("permissive"), "\(r.stdout.prefix(400))")

            let out = sb.dir + "/compare.json"
            try r.stdout.write(toFile: out, atomically: false, encoding: .utf8)
            let check = """
            import json, sys, jsonschema
            schema = json.load(open(sys.argv[1])); doc = json.load(open(sys.argv[2]))
            jsonschema.Draft202012Validator.check_schema(schema)
            jsonschema.validate(doc, schema, cls=jsonschema.Draft202012Validator)
            print("valid")
            """
            let v = await (try Child(["/usr/bin/python3", "-c", check, Harness.repoRoot + "/docs/compare-schema.json", out],
                                     outputDirectory: sb.dir)).wait()
            #expect(v.status == 0 && v.stdout == "valid\n", "\(v)")
        }
    }

    @Test("text, markdown and html name every profile", arguments: ["text", "markdown", "html"])
    func formats(_ format: String) async throws {
        try await withSandbox(script: "true") { sb in
            try await sb.save()
            let args = ["compare", "--bundle", sb.bundle, "--format", format, "--profile", "default", "--profile", "strict"]
            let r = await (try Child(sb.invocation(args, as: .testUser), outputDirectory: sb.dir)).wait(timeout: 120)
            #expect(r.status == 0, "\(r)")
            for needle in ["default", "strict", "drift-tmp", "4.4.4"] { #expect(r.stdout.contains(needle), "\(needle): \(r)") }
            // Not a terminal: no colour.
            #expect(!r.stdout.contains("\u{1b}["), "\(r)")
            if format == "html" { #expect(r.stdout.contains("<svg") && r.stdout.hasPrefix("<!DOCTYPE html>"), "\(r)") }
        }
    }

    static let chromium: String? = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }

    @Test("the HTML report renders in headless Chromium with every profile's column",
          .enabled(if: chromium != nil, "chromium is not installed (scripts/install-deps installs it)"))
    func htmlRenders() async throws {
        let chromium = try #require(Self.chromium)
        try await withSandbox(script: "true") { sb in
            try await sb.save()
            let profiles = ["permissive", "docker-compatible", "default", "strict"]
            let args = ["compare", "--bundle", sb.bundle, "--format", "html"] + profiles.flatMap { ["--profile", $0] }
            let r = await (try Child(sb.invocation(args, as: .testUser), outputDirectory: sb.dir)).wait(timeout: 120)
            #expect(r.status == 0, "\(r)")
            let page = sb.dir + "/compare.html"
            try r.stdout.write(toFile: page, atomically: false, encoding: .utf8)
            let shot = sb.dir + "/compare.png"
            let common = ["--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(sb.dir)/chromium"]
            let dom = await (try Child([chromium] + common + ["--dump-dom", "file://" + page], outputDirectory: sb.dir)).wait(timeout: 60)
            #expect(dom.status == 0, "\(dom)")
            for name in profiles { #expect(dom.stdout.contains("<th>\(name)</th>"), "column \(name) missing: \(dom.stdout.prefix(300))") }
            #expect(dom.stdout.contains("<svg"), "no chart")
            let png = await (try Child([chromium] + common + ["--screenshot=\(shot)", "--window-size=1200,1600", "file://" + page],
                                       outputDirectory: sb.dir)).wait(timeout: 60)
            #expect(png.status == 0 && FileManager.default.fileExists(atPath: shot), "\(png)")
        }
    }
}

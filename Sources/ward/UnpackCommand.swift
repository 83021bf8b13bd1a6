import WardImage
import WardSpec
import WardPlan
import WardRuntime
import WardSystem

#if canImport(Glibc)
import Glibc
#endif

/// `ward unpack`: an OCI image (layout directory, oci-archive, docker save archive) -> a bundle
/// `ward run --bundle` runs (WardImage).
let unpackCommand = Command(
    spec: CommandSpec(
        name: "unpack",
        abstract: "Unpack an image (PATH[:TAG|@sha256:DIGEST]: OCI layout, oci-archive or docker save) into a new bundle: verified rootfs + config.json.",
        options: [
            OptionSpec(names: ["--max-size"], value: "BYTES", help: "Refuse an image that unpacks to more than BYTES (K/M/G suffixes; default 4G)."),
            OptionSpec(names: ["--profile"], value: "NAME|FILE", help: "The hardening profile config.json is made from (default: default; see 'ward profile list')."),
            SubIDFlag.option,
            ImageFlags.progressOption,
        ],
        positionals: [("IMAGE", "An OCI layout directory, an oci-archive or a docker save archive; :TAG (docker: a RepoTag) or @sha256:DIGEST."),
                      ("BUNDLE", "The bundle directory to create (must not hold rootfs or config.json).")]),
    run: { args, context throws(WardError) in
        guard args.positionals.count == 2 else { throw WardError("unpack: expected IMAGE and BUNDLE; see 'ward unpack --help'") }
        if let status = try SubIDFlag.reexec(args, context) { return status }
        let (options, progress) = try ImageFlags.importOptions(args, context)
        let base = try ProfileFlags.specText(profile: args.value("--profile"), uid: geteuid(), gid: getegid(), args: ["sh"])
        do {
            try ImageUnpacker.unpack(reference: args.positionals[0], bundle: args.positionals[1], baseConfig: base, options: options)
        } catch {
            progress?.endLine()
            throw WardError("unpack: \(error)")
        }
        return 0
    })

func parseSize(_ text: String) -> Int64? {
    var digits = Substring(text)
    var scale: Int64 = 1
    switch digits.last?.uppercased() {
    case "K": scale = 1 << 10
    case "M": scale = 1 << 20
    case "G": scale = 1 << 30
    case "T": scale = 1 << 40
    default: break
    }
    if scale != 1 { digits = digits.dropLast() }
    guard let n = Int64(digits), n > 0, n <= Int64.max / scale else { return nil }
    return n * scale
}

/// `--progress`: one line redrawn with \r (at most 10 times a second), or JSON lines (layer
/// starts and ends, the end, and at most 4 a second between), on stderr.
final class ProgressPrinter {
    let json: Bool
    var lastDraw: Int64 = 0
    var drawn = false

    init(json: Bool) { self.json = json }

    static func nowMillis() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    func report(_ p: UnpackProgress) {
        let now = Self.nowMillis()
        let milestone = p.phase != .layer || p.layerBytes == 0
        guard milestone || now - lastDraw >= (json ? 250 : 100) else { return }
        lastDraw = now
        if json {
            let line = JSONValue.object([
                "phase": .string(p.phase.rawValue), "layer": .int(Int64(p.layer)), "layers": .int(Int64(p.layers)),
                "bytes": .int(p.bytes), "total": .int(p.total), "layerBytes": .int(p.layerBytes),
                "layerSize": .int(p.layerSize), "digest": .string(p.digest),
            ]).jsonText
            Sys.stderr(line)
            return
        }
        let percent = p.total > 0 ? Int(p.bytes * 100 / p.total) : 100
        var text = "\r\u{1B}[Kunpacking: layer \(p.layer)/\(p.layers), \(Self.size(p.bytes)) of \(Self.size(p.total)) (\(percent)%)"
        if p.phase == .done { text += ", done\n" }
        _ = Sys.writeAll(fd: 2, text)
        drawn = p.phase != .done
    }

    /// A warning on its own line (the progress line is redrawn on the next report).
    func warn(_ text: String) {
        endLine()
        Sys.stderr("ward: warning: \(text)")
    }

    func endLine() {
        if drawn && !json { _ = Sys.writeAll(fd: 2, "\n") }
        drawn = false
        lastDraw = 0
    }

    static func size(_ bytes: Int64) -> String {
        if bytes < 1 << 20 { return "\(bytes / 1024) KiB" }
        let tenths = bytes * 10 / (1 << 20)
        return "\(tenths / 10).\(tenths % 10) MiB"
    }
}

import WardImage
import WardPlan
import WardRuntime
import WardSystem

#if canImport(Glibc)
import Glibc
#endif

/// `ward unpack`: an OCI image layout directory -> a bundle `ward run --bundle` runs (WardImage).
let unpackCommand = Command(
    spec: CommandSpec(
        name: "unpack",
        abstract: "Unpack an OCI image layout (LAYOUT[:TAG|@sha256:DIGEST]) into a new bundle: verified rootfs + config.json.",
        options: [
            OptionSpec(names: ["--max-size"], value: "BYTES", help: "Refuse an image that unpacks to more than BYTES (K/M/G suffixes; default 4G)."),
            SubIDFlag.option,
        ],
        positionals: [("IMAGE", "An OCI image layout directory, optionally :TAG or @sha256:DIGEST."),
                      ("BUNDLE", "The bundle directory to create (must not hold rootfs or config.json).")]),
    run: { args, context throws(WardError) in
        guard args.positionals.count == 2 else { throw WardError("unpack: expected IMAGE and BUNDLE; see 'ward unpack --help'") }
        if let status = try SubIDFlag.reexec(args, context) { return status }
        var options = ImageUnpacker.Options()
        if let text = args.value("--max-size") {
            guard let bytes = parseSize(text) else { throw WardError("unpack: --max-size \"\(text)\": expected a size like 512M or 4G") }
            options.maxBytes = bytes
        }
        let log = context.log
        options.debug = { log.debug($0) }
        options.maps = SubIDFlag.maps
        let base = DefaultConfig.json(uid: geteuid(), gid: getegid(), args: ["sh"])
        do {
            try ImageUnpacker.unpack(reference: args.positionals[0], bundle: args.positionals[1], baseConfig: base, options: options)
        } catch {
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

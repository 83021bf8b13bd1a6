import WardPlan
import WardRuntime

/// `--secret`, `--secret-dir`, `--secret-max-size`, `--secret-env`: parsing only (no file is
/// touched here). Shared by every verb that starts a container: add `SecretFlags.options` to its
/// options, then `SecretStore.load(SecretFlags.parse(args, environment:), ...)` in WardRuntime reads them.
enum SecretFlags {
    static let options: [OptionSpec] = [
        OptionSpec(names: ["--secret"], value: "SPEC",
                   help: "Mount a secret read-only at /run/secrets/NAME (memory-backed, mode 0400, owned by the process user). SPEC: NAME (read from --secret-dir) or source=PATH|fd:N,target=NAME|/abs/path,uid=N,gid=N,mode=0400. Repeatable.",
                   repeatable: true),
        OptionSpec(names: ["--secret-dir"], value: "DIR",
                   help: "Where --secret NAME is read from. Default: $XDG_CONFIG_HOME/ward/secrets, else ~/.config/ward/secrets."),
        OptionSpec(names: ["--secret-max-size"], value: "BYTES", help: "Refuse a secret larger than this (suffix k or m). Default: 1m."),
        OptionSpec(names: ["--secret-env"], value: "VAR=NAME",
                   help: "Put secret NAME in the workload's environment as VAR too (readable in /proc/PID/environ: ward warns). Repeatable.",
                   repeatable: true),
    ]

    static let keys = ["source", "target", "uid", "gid", "mode"]

    static func parse(_ args: ParsedArguments, environment: [String: String]) throws(WardError) -> SecretOptions {
        var options = SecretOptions()
        if let dir = args.value("--secret-dir") {
            guard !dir.isEmpty else { throw WardError("--secret-dir: empty; give the directory that holds your secrets") }
            options.directory = dir
        } else if let xdg = environment["XDG_CONFIG_HOME"], xdg.hasPrefix("/") {
            options.directory = xdg + "/ward/secrets"
        } else if let home = environment["HOME"], home.hasPrefix("/") {
            options.directory = home + "/.config/ward/secrets"
        }
        if let text = args.value("--secret-max-size") {
            guard let size = parseSize(text) else {
                throw WardError("--secret-max-size \"\(text)\": expected a positive byte count such as 65536, 64k or 1m (EINVAL)")
            }
            options.maxSize = size
        }
        for spec in args.all("--secret") { options.secrets.append(try parseSpec(spec, directory: options.directory)) }
        for text in args.all("--secret-env") { options.environment.append(try parseEnv(text)) }
        return options
    }

    /// "4096", "64k", "1m" (k = 1024).
    static func parseSize(_ text: String) -> Int? {
        var digits = Substring(text)
        var unit = 1
        if let last = digits.last, !last.isNumber {
            switch last {
            case "k", "K": unit = 1 << 10
            case "m", "M": unit = 1 << 20
            default: return nil
            }
            digits = digits.dropLast()
        }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(digits), n > 0 else { return nil }
        let (bytes, overflow) = n.multipliedReportingOverflow(by: unit)
        return overflow ? nil : bytes
    }

    static func usage(_ spec: String, _ problem: String, _ fix: String) -> WardError {
        WardError("--secret \"\(spec)\": \(problem) (EINVAL); \(fix)")
    }

    /// A file name: what NAME and --secret-env's NAME may be.
    static func validName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.contains("/")
            && !name.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7f }
    }

    static func parseSpec(_ spec: String, directory: String?) throws(WardError) -> SecretRequest {
        guard spec.contains("=") else {
            guard validName(spec), !spec.contains(",") else {
                throw usage(spec, "not a secret name", "give NAME (a file in the secrets directory) or source=PATH,target=NAME")
            }
            guard let directory else {
                throw usage(spec, "no secrets directory", "set --secret-dir, XDG_CONFIG_HOME or HOME, or give source=PATH")
            }
            return SecretRequest(name: spec, source: .file(directory + "/" + spec), target: SecretLayout.directory + "/" + spec)
        }
        var fields: [String: String] = [:]
        for part in spec.split(separator: ",", omittingEmptySubsequences: false) {
            guard let eq = part.firstIndex(of: "=") else {
                throw usage(spec, "\"\(part)\" is not KEY=VALUE", "write source=PATH,target=NAME,uid=N,gid=N,mode=0400")
            }
            let key = String(part[..<eq]), value = String(part[part.index(after: eq)...])
            guard keys.contains(key) else {
                throw usage(spec, "unknown key \"\(key)\"", "the keys are source=, target=, uid=, gid= and mode=")
            }
            guard fields[key] == nil else { throw usage(spec, "\(key)= given twice", "give each key once") }
            guard !value.isEmpty else { throw usage(spec, "\(key)= is empty", "give it a value") }
            fields[key] = value
        }
        guard let sourceText = fields["source"] else {
            throw usage(spec, "no source=", "give source=PATH or source=fd:N (or just NAME for a file in the secrets directory)")
        }
        let source: SecretRequest.Source
        if sourceText.hasPrefix("fd:") {
            guard let fd = Int32(sourceText.dropFirst(3)), fd >= 0 else {
                throw usage(spec, "source=\(sourceText) is not an fd number", "write source=fd:N with N an open fd, e.g. fd:3")
            }
            source = .fd(fd)
        } else {
            source = .file(sourceText)
        }
        let targetText: String
        if let t = fields["target"] {
            targetText = t
        } else if case .file(let path) = source, let base = path.split(separator: "/").last {
            targetText = String(base)
        } else {
            throw usage(spec, "no target=", "source=fd:N needs target=NAME or target=/abs/path")
        }
        let target = try normalizeTarget(targetText, spec: spec)
        let name = String(target.split(separator: "/").last ?? "")
        var request = SecretRequest(name: name, source: source, target: target)
        if let m = fields["mode"] {
            let digits = m.hasPrefix("0o") ? String(m.dropFirst(2)) : m
            guard digits.count <= 4, let mode = UInt32(digits, radix: 8), mode <= 0o777 else {
                throw usage(spec, "mode=\(m) is not a file mode", "give an octal mode such as 0400 or 0440 (no setuid, setgid or sticky bit)")
            }
            request.mode = mode
        }
        for key in ["uid", "gid"] {
            guard let v = fields[key] else { continue }
            guard v.allSatisfy({ $0.isASCII && $0.isNumber }), let id = UInt32(v), id != UInt32.max else {
                throw usage(spec, "\(key)=\(v) is not an id", "give a number from 0 to 4294967294 (an id inside the container)")
            }
            if key == "uid" { request.uid = id } else { request.gid = id }
        }
        return request
    }

    /// NAME or a relative path -> under /run/secrets; an absolute path as it is. Empty and "."
    /// components are dropped; ".." is refused (targets are resolved inside the rootfs only).
    static func normalizeTarget(_ text: String, spec: String) throws(WardError) -> String {
        let parts = text.split(separator: "/").filter { $0 != "." }
        if parts.contains("..") {
            throw usage(spec, "target=\(text) has a \"..\" component", "give a path inside the container without \"..\"")
        }
        guard !parts.isEmpty else { throw usage(spec, "target=\(text) names no file", "give target=NAME or target=/abs/path/file") }
        if parts.contains(where: { !validName(String($0)) }) {
            throw usage(spec, "target=\(text) has a control character", "give a plain path")
        }
        let path = parts.joined(separator: "/")
        return text.hasPrefix("/") ? "/" + path : SecretLayout.directory + "/" + path
    }

    static func parseEnv(_ text: String) throws(WardError) -> SecretEnvRequest {
        guard let eq = text.firstIndex(of: "=") else {
            throw WardError("--secret-env \"\(text)\": expected VAR=NAME (EINVAL); e.g. --secret-env DB_PASSWORD=db")
        }
        let variable = String(text[..<eq]), name = String(text[text.index(after: eq)...])
        let scalars = Array(variable.unicodeScalars)
        guard let first = scalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic),
              scalars.allSatisfy({ $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }) else {
            throw WardError("--secret-env \"\(text)\": \"\(variable)\" is not a variable name (EINVAL); use letters, digits and _, not starting with a digit")
        }
        guard validName(name) else {
            throw WardError("--secret-env \"\(text)\": \"\(name)\" is not a secret name (EINVAL); give the NAME of a --secret or of a file in the secrets directory")
        }
        return SecretEnvRequest(variable: variable, name: name)
    }
}

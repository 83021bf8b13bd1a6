/// ward's command line, in runc's grammar: `ward [GLOBAL OPTIONS] COMMAND [OPTIONS] [ARGS] [-- ARGS]`.
///
/// Why not swift-argument-parser: (1) container engines put global options *before* the
/// command (`ward --root R --log L create --bundle B ID`, as podman and containerd call runc),
/// which it does not parse; (2) it costs ~1.2 ms of reflection per start (measured with perf:
/// Mirror and protocol-conformance scans), a fifth of ward's whole start budget.
struct OptionSpec: Sendable {
    var names: [String]          // "--bundle", "-b"
    var value: String?           // the value's name, nil for a flag
    var help: String
    var repeatable = false
    var primary: String { names[0] }
}

struct CommandSpec: Sendable {
    var name: String
    var abstract: String
    var options: [OptionSpec]
    var positionals: [(name: String, help: String)] = []
    /// Words after `--` (or after the positionals, for `exec`-style commands).
    var trailing: String?
}

struct ParsedArguments {
    var values: [String: [String]] = [:]
    var positionals: [String] = []
    var trailing: [String] = []

    func value(_ name: String) -> String? { values[name]?.last }
    func all(_ name: String) -> [String] { values[name] ?? [] }
    func flag(_ name: String) -> Bool {
        guard let v = values[name]?.last else { return false }
        return v != "false"
    }
    func int(_ name: String) throws(UsageError) -> Int? {
        guard let text = value(name) else { return nil }
        guard let n = Int(text), n >= 0 else { throw UsageError("\(name) \"\(text)\": expected a whole number") }
        return n
    }
}

struct UsageError: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

enum ArgumentParser {
    /// Parses `args` against `options`; stops at the first positional when `stopAtPositional`
    /// (global options end where the command name begins).
    static func parse(_ args: ArraySlice<String>, options: [OptionSpec], positionalLimit: Int,
                      stopAtPositional: Bool = false) throws(UsageError) -> (ParsedArguments, ArraySlice<String>) {
        var parsed = ParsedArguments()
        var rest = args
        while let arg = rest.first {
            if arg == "--" {
                rest.removeFirst()
                parsed.trailing = Array(rest)
                return (parsed, [])
            }
            if arg.hasPrefix("-") && arg.count > 1 {
                rest.removeFirst()
                var name = arg
                var inline: String?
                if let eq = arg.firstIndex(of: "=") {
                    name = String(arg[..<eq])
                    inline = String(arg[arg.index(after: eq)...])
                }
                // runc accepts single-dash long options (-bundle) as urfave/cli does.
                let spec = options.first { $0.names.contains(name) }
                    ?? options.first { name.hasPrefix("-") && !name.hasPrefix("--") && $0.names.contains("-" + name) }
                guard let spec else { throw UsageError("unknown option \(name)") }
                let value: String
                if spec.value != nil {
                    if let inline {
                        value = inline
                    } else if let next = rest.first {
                        value = next
                        rest.removeFirst()
                    } else {
                        throw UsageError("\(name) needs a value (\(spec.value ?? "VALUE"))")
                    }
                } else {
                    value = inline ?? "true"
                }
                if spec.repeatable { parsed.values[spec.primary, default: []].append(value) } else { parsed.values[spec.primary] = [value] }
                continue
            }
            if stopAtPositional { return (parsed, rest) }
            if parsed.positionals.count < positionalLimit {
                parsed.positionals.append(arg)
                rest.removeFirst()
                continue
            }
            // Past the positionals: the rest is the trailing command (exec-style).
            parsed.trailing = Array(rest)
            return (parsed, [])
        }
        return (parsed, rest)
    }

    static func help(for command: CommandSpec) -> String {
        var text = "Usage: ward \(command.name) [OPTIONS]"
        for p in command.positionals { text += " [\(p.name)]" }
        if let trailing = command.trailing { text += " [-- \(trailing)]" }
        text += "\n\n\(command.abstract)\n"
        if !command.positionals.isEmpty {
            text += "\nArguments:\n"
            for p in command.positionals { text += "  \(p.name.padded(26)) \(p.help)\n" }
        }
        text += "\nOptions:\n"
        for o in command.options + [OptionSpec(names: ["--debug"], value: nil, help: "Print what ward does on stderr."),
                                    OptionSpec(names: ["--help", "-h"], value: nil, help: "Show this help.")] {
            let left = o.names.joined(separator: ", ") + (o.value.map { " \($0)" } ?? "")
            text += "  \(left.padded(26)) \(o.help)\n"
        }
        return text
    }
}

extension String {
    func padded(_ width: Int) -> String {
        count >= width ? self + " " : self + String(repeating: " ", count: width - count)
    }
}

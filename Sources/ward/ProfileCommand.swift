import WardPlan
import WardRuntime
import WardSpec

/// `--profile` on run/create/spec, and `ward profile list|show|diff`.
enum ProfileFlags {
    /// Loads `--profile` and lays it over the request's config (validated again afterwards).
    static func apply(_ args: ParsedArguments, to request: inout RunRequest, log: Log) throws(WardError) {
        guard let reference = args.value("--profile") else { return }
        let profile = try ProfileLoader.load(reference)
        let spec = profile.apply(to: request.bundle.spec)
        let name = request.bundle.configFile.hasSuffix("/config.json") ? "config.json" : request.bundle.configFile
        do { try spec.validate(file: "\(name) with profile \(profile.file)") } catch { throw WardError(error.description) }
        request.bundle.spec = spec
        request.profile = profile
        log.debug("profile \(profile.name) (\(profile.file)) applied")
    }

    /// Fails before anything is launched when the profile requires secrets not given.
    static func requireSecrets(_ profile: Profile?, given: [String]) throws(WardError) {
        guard let profile else { return }
        let missing = profile.missingSecrets(given: given)
        guard !missing.isEmpty else { return }
        throw WardError("\(profile.file): secrets: requires \(missing.map { "\"\($0)\"" }.joined(separator: ", ")); give each with --secret NAME (ward run only)")
    }

    /// What `ward spec` writes: the `default` profile's config exactly, or it with another
    /// profile laid over it.
    static func specText(profile reference: String?, uid: UInt32, gid: UInt32, args: [String]) throws(WardError) -> String {
        let base = DefaultConfig.json(uid: uid, gid: gid, args: args)
        guard let reference, reference != "default" else { return base }
        let profile = try ProfileLoader.load(reference)
        do {
            let spec = profile.apply(to: try Spec.decode(Array(base.utf8)))
            return try JSONValue.encoding(spec).prettyJSONText
        } catch {
            throw WardError("spec: profile \(profile.file): \(error)")
        }
    }
}

let profileCommand = Command(
    spec: CommandSpec(
        name: "profile",
        abstract: "Hardening profiles: 'list', 'show NAME|FILE' (resolved JSON), 'diff A B', 'learn -b BUNDLE -o FILE -- CMD...'.",
        options: [
            OptionSpec(names: ["--bundle", "-b"], value: "DIR", help: "learn: the bundle to run the workload in (default: .)."),
            OptionSpec(names: ["--profile", "--base"], value: "NAME|FILE", help: "learn: the profile to start from (its policy, with the learned filter)."),
            OptionSpec(names: ["--output", "-o"], value: "FILE", help: "learn: where to write the learned profile."),
            OptionSpec(names: ["--timeout"], value: "DURATION", help: "learn: stop the workload after this long."),
        ],
        positionals: [("SUBCOMMAND", "list, show or diff."), ("PROFILE", "A shipped profile's name or a profile file."),
                      ("OTHER", "diff: the profile to compare with.")],
        trailing: "learn: the workload, CMD [ARGS...]"),
    run: { args, context throws(WardError) in
        let words = args.positionals
        func need(_ count: Int, _ usage: String) throws(WardError) {
            guard words.count == count else { throw WardError("profile: usage: ward profile \(usage)") }
        }
        switch words.first {
        case "list":
            try need(1, "list")
            for name in ProfileLoader.builtinNames {
                let p = try ProfileLoader.load(name)
                print("\(name.padded(20)) \(p.description)")
            }
            return 0
        case "show":
            try need(2, "show NAME|FILE")
            print(try ProfileLoader.load(words[1]).jsonValue.prettyJSONText, terminator: "")
            return 0
        case "diff":
            try need(3, "diff A B")
            let a = try ProfileLoader.load(words[1]), b = try ProfileLoader.load(words[2])
            let lines = Profile.diff(a, b)
            if lines.isEmpty { print("\(a.name) and \(b.name) set the same policy") }
            for line in lines { print(line) }
            return 0
        case "learn":
            try need(1, "learn [-b BUNDLE] [--base PROFILE] -o FILE -- CMD [ARGS...]")
            return try ProfileLearn.run(args, context)
        case let other?:
            throw WardError("profile: unknown subcommand \"\(other)\"; use list, show, diff or learn")
        case nil:
            throw WardError("profile: usage: ward profile list | show NAME|FILE | diff A B")
        }
    })

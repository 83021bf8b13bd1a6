import WardPlan
import WardRuntime
import WardSystem

#if canImport(Glibc)
import Glibc
#endif

let specCommand = Command(
    spec: CommandSpec(
        name: "spec",
        abstract: "Write a hardened starting config.json for the calling user.",
        options: [
            OptionSpec(names: ["--bundle", "-b"], value: "DIR", help: "Write config.json into this directory (default: .)."),
            OptionSpec(names: ["--rootless"], value: nil, help: "Accepted for runc compatibility: ward's config always is rootless."),
            OptionSpec(names: ["--profile"], value: "NAME|FILE", help: "Write the config with this hardening profile laid over it (default: default)."),
        ],
        trailing: "PROCESS ARGS (default: sh)"),
    run: { args, _ throws(WardError) in
        let path = (args.value("--bundle") ?? ".") + "/config.json"
        let text = try ProfileFlags.specText(profile: args.value("--profile"), uid: geteuid(), gid: getegid(),
                                             args: args.trailing.isEmpty ? ["sh"] : args.trailing)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            let e = errno
            throw WardError("spec: \(path): \(ErrnoName.of(e))\(e == EEXIST ? "; remove it first, ward does not overwrite a config" : "")")
        }
        defer { close(fd) }
        guard Sys.writeAll(fd: fd, text) else { throw WardError("spec: write \(path): \(ErrnoName.of(errno))") }
        return 0
    })

import WardRuntime

let execCommand = Command(
    spec: CommandSpec(
        name: "exec",
        abstract: "Run a new process inside a running container (every namespace, its own caps and seccomp).",
        options: [
            OptionSpec(names: ["--process", "-p"], value: "FILE", help: "The process, as runtime-spec process JSON."),
            OptionSpec(names: ["--tty", "-t"], value: nil, help: "Give the process a pseudo-terminal."),
            OptionSpec(names: ["--cwd"], value: "DIR", help: "Working directory inside the container."),
            OptionSpec(names: ["--env", "-e"], value: "NAME=VALUE", help: "Add an environment variable (repeatable).", repeatable: true),
            OptionSpec(names: ["--user", "-u"], value: "UID[:GID]", help: "Run as this user (a number, or a name from the container's /etc/passwd)."),
            OptionSpec(names: ["--cap", "-c"], value: "CAP", help: "Add a capability (repeatable).", repeatable: true),
            OptionSpec(names: ["--no-new-privs"], value: nil, help: "Set no_new_privs."),
            OptionSpec(names: ["--preserve-fds"], value: "N", help: "Pass fds 3 .. 3+N-1 on."),
            OptionSpec(names: ["--pid-file"], value: "FILE", help: "Write the new process's pid to FILE."),
            OptionSpec(names: ["--console-socket"], value: "SOCKET", help: "Send the pty master over this AF_UNIX socket."),
            OptionSpec(names: ["--detach", "-d"], value: nil, help: "Return at once."),
        ],
        positionals: [("ID", "The container.")],
        trailing: "COMMAND [ARGS...]"),
    run: { args, context throws(WardError) in
        var request = ExecRequest(id: try requireID(args, "exec"))
        request.processFile = args.value("--process")
        request.args = args.trailing
        request.env = args.all("--env")
        request.cwd = args.value("--cwd")
        request.user = args.value("--user")
        request.addCaps = args.all("--cap")
        request.noNewPrivileges = args.flag("--no-new-privs")
        request.tty = args.flag("--tty")
        do throws(UsageError) { request.preserveFDs = try args.int("--preserve-fds") ?? 0 } catch { throw WardError(error.message) }
        request.pidFile = args.value("--pid-file")
        request.consoleSocket = args.value("--console-socket")
        request.detach = args.flag("--detach")
        return try Lifecycle.exec(request, store: context.store, environment: context.environment, log: context.log)
    })

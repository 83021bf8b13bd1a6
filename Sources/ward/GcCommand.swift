import WardRuntime

/// `ward gc`: removes the state of every container that is gone (WardRuntime/GarbageCollect.swift).
let gcCommand = Command(
    spec: CommandSpec(name: "gc",
                      abstract: "Remove the state of stopped, dead and half-written containers; keep live ones. Prints what it removed.",
                      options: []),
    run: { _, context throws(WardError) in
        for entry in Lifecycle.gc(store: context.store, log: context.log) {
            print("removed \(entry.id) (\(entry.reason))")
        }
        return 0
    })

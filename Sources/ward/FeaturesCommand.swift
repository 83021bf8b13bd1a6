import WardPlan
import WardRuntime
import WardSpec

/// `ward features`: the runtime-spec features document, listing only what ward really does.
let featuresCommand = Command(
    spec: CommandSpec(name: "features", abstract: "Print what this ward supports (runtime-spec features JSON).", options: []),
    run: { _, _ throws(WardError) in
        func strings(_ items: [String]) -> JSONValue { .array(items.map { .string($0) }) }
        let mountOptions = (Array(MountOptions.flagTable.keys) + Array(MountOptions.propagationTable.keys)
            + Array(MountOptions.recursiveTable.keys) + Array(MountOptions.ignored)).sorted()
        let features: JSONValue = .object([
            "ociVersionMin": .string("1.0.0"),
            "ociVersionMax": .string(Spec.currentVersion),
            "hooks": strings(["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]),
            "mountOptions": strings(mountOptions),
            "linux": .object([
                "namespaces": strings(["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"]),
                "capabilities": strings(Capabilities.names),
                "cgroup": .object(["v1": .bool(false), "v2": .bool(false), "systemd": .bool(false),
                                   "systemdUser": .bool(false), "rdma": .bool(false)]),
                "seccomp": .object([
                    "enabled": .bool(true),
                    "actions": strings(["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
                                        "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"]),
                    "operators": strings(SeccompResolver.compareOps.keys.sorted()),
                    "archs": strings(["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64",
                                      "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32",
                                      "SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64",
                                      "SCMP_ARCH_PPC64LE", "SCMP_ARCH_RISCV64", "SCMP_ARCH_S390", "SCMP_ARCH_S390X",
                                      "SCMP_ARCH_X32", "SCMP_ARCH_X86", "SCMP_ARCH_X86_64"]),
                    "knownFlags": strings(SeccompResolver.loadFlags.keys.sorted()),
                    "supportedFlags": strings(SeccompResolver.loadFlags.keys.sorted()),
                ]),
                "apparmor": .object(["enabled": .bool(false)]),
                "selinux": .object(["enabled": .bool(false)]),
                "intelRdt": .object(["enabled": .bool(false)]),
                "mountExtensions": .object(["idmap": .object(["enabled": .bool(false)])]),
            ]),
            "annotations": .object([
                "io.github.ward.version": .string(WardVersion.version),
                "io.github.seccomp.libseccomp.version": .string(SeccompResolver.libseccompVersion),
            ]),
        ])
        print(features.prettyJSONText, terminator: "")
        return 0
    })

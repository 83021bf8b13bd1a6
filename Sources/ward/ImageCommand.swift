import WardImage
import WardPlan
import WardRuntime
import WardSpec
import CWardShim
import WardSystem

#if canImport(Glibc)
import Glibc
#endif

/// The image store from the command line: `ward image import|list|rm|prune` and the
/// `--image REF` of `run` and `compare` (WardImage/ImageStore.swift).
enum ImageFlags {
    static func store(_ context: Context) throws(WardError) -> ImageStore {
        guard let root = ImageStore.defaultRoot(environment: context.environment) else {
            throw WardError("image store: neither XDG_DATA_HOME nor HOME is an absolute path; set XDG_DATA_HOME")
        }
        do { return try ImageStore(root: root) } catch { throw WardError("\(error)") }
    }

    static let annotation = "org.ward.image.id"

    /// Whether a live container of this state root (a `run -d` or `create` of `--image`) uses image `id`.
    static func inUseByContainer(_ id: String, _ context: Context) -> Bool {
        context.store.ids().contains { cid in
            guard let record = try? context.store.read(cid), record.annotations[annotation] == id else { return false }
            return ["created", "running", "creating"].contains(record.liveStatus)
        }
    }

    static let progressOption = OptionSpec(names: ["--progress"], value: "auto|line|json|none",
                                           help: "Progress on stderr: a redrawn line, JSON lines, or nothing (auto: a line on a terminal, else none).")

    /// --max-size, --progress and --subuid (inside the namespace) as unpacker options, and the
    /// progress printer (its line must be ended if the unpack fails).
    static func importOptions(_ args: ParsedArguments, _ context: Context) throws(WardError) -> (ImageUnpacker.Options, ProgressPrinter?) {
        var options = ImageUnpacker.Options()
        if let text = args.value("--max-size") {
            guard let bytes = parseSize(text) else { throw WardError("--max-size \"\(text)\": expected a size like 512M or 4G") }
            options.maxBytes = bytes
        }
        let log = context.log
        options.debug = { log.debug($0) }
        options.maps = SubIDFlag.maps
        let mode = args.value("--progress") ?? "auto"
        let progress: ProgressPrinter?
        switch mode {
        case "auto": progress = isatty(2) == 1 ? ProgressPrinter(json: false) : nil
        case "line": progress = ProgressPrinter(json: false)
        case "json": progress = ProgressPrinter(json: true)
        case "none": progress = nil
        default: throw WardError("--progress \"\(mode)\": expected auto, line, json or none")
        }
        if let progress {
            options.progress = { progress.report($0) }
            options.warn = { progress.warn($0) }
        }
        return (options, progress)
    }

    /// Imports the image at `path` (an OCI layout), naming it `name` or its default name.
    static func importImage(_ path: String, name: String?, store: ImageStore,
                            _ args: ParsedArguments, _ context: Context) throws(WardError) -> ImportReport {
        let (options, progress) = try importOptions(args, context)
        do {
            let report = try store.importImage(reference: path, name: name, options: options)
            progress?.endLine()
            return report
        } catch {
            progress?.endLine()
            throw WardError("image import \(path): \(error)")
        }
    }

    /// `--image REF`: a stored image by name or id, or an image on disk imported first (its
    /// layers unpacked once; a second run finds them in the store and unpacks nothing).
    /// Returns the bundle to run: the image's config on ward's default, the layers as the rootfs.
    static func bundle(_ reference: String, _ args: ParsedArguments, _ context: Context) throws(WardError) -> BundleDirectory {
        let store = try store(context)
        let image = try resolve(reference, args, context, store: store)
        context.log.debug("image: \(image.names.first ?? image.id) (\(image.id.prefix(12))): \(image.diffIDs.count) layer(s) from the store, nothing unpacked")
        // Held until ward exits: `ward image rm` refuses an image a running sandbox uses.
        do { _ = try store.holdImage(image.id) } catch { throw WardError("--image: \(error)") }
        let label = "image \(image.names.first ?? String(image.id.prefix(12)))"
        // The image's config on ward's default, built once per ward build and user, then read
        // like a bundle's config.json (a debug build, with no commit to key on, builds it each time).
        let commit = String(cString: ward_commit())
        let key = "\(geteuid())-\(getegid())-\(commit)"
        var spec: Spec
        do {
            let text: String
            if commit != "unknown", let cached = store.cachedConfig(id: image.id, key: key) {
                text = cached
            } else {
                var config = try ImageUnpacker.bundleConfig(base: DefaultConfig.json(uid: geteuid(), gid: getegid(), args: ["sh"]),
                                                            image: image.config)
                // A --subuid import: the sandbox gets the map its files were unpacked under.
                if let maps = image.maps { config = maps.apply(to: config) }
                text = config.jsonText
                if commit != "unknown" { store.saveConfig(id: image.id, key: key, text) }
            }
            spec = try Spec.decode(Array(text.utf8), file: label)
        } catch {
            throw WardError("\(label): \(error)")
        }
        // A detached container outlives this process and its hold: its state names the image,
        // and `ward image rm` looks for live ones (ImageFlags.inUseByContainer).
        spec.annotations = (spec.annotations ?? [:]).merging([ImageFlags.annotation: image.id]) { $1 }
        let layers = store.layerRoots(image)
        for layer in layers where access(layer, F_OK) != 0 {
            throw WardError("\(label): layer \(layer) is missing from the store (\(ErrnoName.of(errno))); import the image again")
        }
        return BundleDirectory(path: store.root, configFile: label, spec: spec, rootfs: store.mountpoint, imageLayers: layers)
    }

    /// A stored image by name or id, or the image at a path, imported first.
    static func resolve(_ reference: String, _ args: ParsedArguments, _ context: Context,
                        store given: ImageStore? = nil) throws(WardError) -> StoredImage {
        let store: ImageStore
        if let given { store = given } else { store = try Self.store(context) }
        var image: StoredImage
        let found: StoredImage?
        do { found = try store.lookup(reference) } catch { throw WardError("--image: \(error)") }
        if let found {
            image = found
        } else {
            let path = (try? ImageReference(parsing: reference))?.layout ?? reference
            guard access(path, F_OK) == 0 else {
                throw WardError("--image \(reference): no such image in the store and no image at that path (ENOENT); see 'ward image list'")
            }
            if args.flag("--subuid") {
                // Only the import runs in the subuid namespace; the run maps it itself.
                let status = try SubIDNamespace.run(["image", "import", "--subuid", "--quiet", reference], environment: context.environment, log: context.log)
                guard status == 0 else { throw WardError("--image \(reference): the --subuid import failed (status \(status))") }
                let name: String
                do { name = ImageStore.defaultName(try ImageReference(parsing: reference)) } catch { throw WardError("--image: \(error)") }
                let imported: StoredImage?
                do { imported = try store.lookup(name) } catch { throw WardError("--image: \(error)") }
                guard let imported else { throw WardError("--image \(reference): imported, but \(name) is not in the store") }
                image = imported
            } else {
                let report = try importImage(reference, name: nil, store: store, args, context)
                context.log.debug("image: imported \(reference): \(report.layersUnpacked) layer(s) unpacked, \(report.layersReused) reused")
                image = report.image
            }
        }
        return image
    }
}

let imageCommand = Command(
    spec: CommandSpec(
        name: "image",
        abstract: "The local image store: 'import IMAGE', 'list', 'rm REF...', 'prune' (layers unpacked once, shared by images).",
        options: [
            OptionSpec(names: ["--name"], value: "NAME[:TAG]", help: "import: the name to give the image (default: the file name and tag)."),
            OptionSpec(names: ["--max-size"], value: "BYTES", help: "import: refuse an image that unpacks to more than BYTES (default 4G)."),
            OptionSpec(names: ["--force", "-f"], value: nil, help: "rm: remove an image even while a sandbox uses it."),
            SubIDFlag.option,
            ImageFlags.progressOption,
            OptionSpec(names: ["--quiet", "-q"], value: nil, help: "import: print nothing on success."),
            formatOption,
        ],
        positionals: [("SUBCOMMAND", "import, list, rm or prune."), ("IMAGE", "import: an OCI layout [:TAG|@sha256:DIGEST]; rm: names or ids.")]),
    run: { args, context throws(WardError) in
        let words = args.positionals
        let store = try ImageFlags.store(context)
        // rm and prune delete files a --subuid import gave to subordinate ids: from inside that map.
        let subuidLayers = store.hasSubIDLayers && ["rm", "prune"].contains(words.first ?? "")
        if let status = try SubIDFlag.reexec(args, context, force: subuidLayers) { return status }
        switch words.first {
        case "import":
            guard words.count == 2 else { throw WardError("image: usage: ward image import IMAGE [--name NAME[:TAG]]") }
            let report = try ImageFlags.importImage(words[1], name: args.value("--name"), store: store, args, context)
            let what = report.alreadyStored ? "already stored" : "\(report.layersUnpacked) layer(s) unpacked (\(report.bytesWritten) bytes), \(report.layersReused) reused"
            if !args.flag("--quiet") { print("\(report.image.names.joined(separator: ", ")) \(report.image.id.prefix(12)): \(what)") }
            return 0
        case "list":
            let images = store.list()
            if try outputFormat(args) == "json" {
                let items: [JSONValue] = images.map {
                    .object(["id": .string($0.id), "names": .array($0.names.map { .string($0) }), "layers": .array($0.diffIDs.map { .string($0) }),
                             "size": .int($0.size), "created": .string($0.created)])
                }
                print(JSONValue.array(items).prettyJSONText, terminator: "")
                return 0
            }
            print("\("NAME".padded(32)) \("ID".padded(12)) \("LAYERS".padded(6)) \("SIZE".padded(10)) CREATED")
            for image in images {
                let names = image.names.isEmpty ? ["<none>"] : image.names
                for name in names {
                    print("\(name.padded(32)) \(String(image.id.prefix(12)).padded(12)) \(String(image.diffIDs.count).padded(6)) \(String(image.size).padded(10)) \(image.created)")
                }
            }
            return 0
        case "rm":
            let references = Array(words.dropFirst()) + args.trailing
            guard !references.isEmpty else { throw WardError("image: usage: ward image rm [--force] NAME|ID...") }
            for reference in references {
                do {
                    let removed = try store.remove(reference, force: args.flag("--force"),
                                                   inUseElsewhere: { ImageFlags.inUseByContainer($0, context) })
                    print(removed.isEmpty ? "untagged \(reference)" : "removed \(removed.map { String($0.prefix(12)) }.joined(separator: " "))")
                } catch {
                    throw WardError("image rm: \(error)")
                }
            }
            return 0
        case "prune":
            guard words.count == 1 else { throw WardError("image: usage: ward image prune") }
            let report: ImageStore.PruneReport
            do { report = try store.prune() } catch { throw WardError("image prune: \(error)") }
            print("pruned \(report.images.count) unnamed image(s), \(report.layers) layer(s) (\(report.bytes) bytes), \(report.partials) partial import(s)")
            return 0
        case let other?:
            throw WardError("image: unknown subcommand \"\(other)\"; use import, list, rm or prune")
        case nil:
            throw WardError("image: usage: ward image import IMAGE | list | rm NAME|ID... | prune")
        }
    })

/// `--subuid` (unpack, image import, run --image): the work happens in ward re-exec'd inside a
/// user namespace mapped with the caller's subordinate ids, where files keep the layers' owners.
enum SubIDFlag {
    static let option = OptionSpec(names: ["--subuid"], value: nil,
                                   help: "Keep the image's file owners: unpack in a user namespace mapped with your /etc/subuid and /etc/subgid ranges (newuidmap).")

    /// Outside the namespace with --subuid: this same command again inside it, and its status.
    static func reexec(_ args: ParsedArguments, _ context: Context, force: Bool = false) throws(WardError) -> Int32? {
        guard (force || args.flag("--subuid")) && !SubIDNamespace.inside else { return nil }
        var argv = Array(CommandLine.arguments.dropFirst())
        if force && !args.flag("--subuid") { argv.append("--subuid") }
        return try SubIDNamespace.run(argv, environment: context.environment, log: context.log)
    }

    /// Inside the namespace: its maps, for the unpacker.
    static var maps: NamespaceMaps? { SubIDNamespace.inside ? NamespaceMaps.current() : nil }
}

let unshareCommand = Command(
    spec: CommandSpec(
        name: "unshare",
        abstract: "Run CMD (default /bin/sh) as root of a user namespace mapped with your subordinate ids, like 'podman unshare': to inspect or remove --subuid files.",
        options: [], trailing: "CMD"),
    run: { args, context throws(WardError) in
        guard SubIDNamespace.inside else {
            return try SubIDNamespace.run(["unshare", "--"] + args.trailing, environment: context.environment, log: context.log)
        }
        let command = args.trailing.isEmpty ? ["/bin/sh"] : args.trailing
        var argv: [UnsafeMutablePointer<CChar>?] = command.map { strdup($0) } + [nil]
        execvp(command[0], &argv)
        let e = errno
        throw WardError("unshare: \(command[0]): \(ErrnoName.of(e))", exitCode: e == ENOENT ? 127 : 126)
    })

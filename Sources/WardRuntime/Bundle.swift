import CWardShim
import WardPlan
import WardSpec
import WardSystem

#if canImport(Glibc)
import Glibc
#endif

/// A failure ward reports itself (not the workload's): one line for a person, and an exit code.
public struct WardError: Error, CustomStringConvertible {
    public var message: String
    public var exitCode: Int32
    public init(_ message: String, exitCode: Int32 = 125) { self.message = message; self.exitCode = exitCode }
    public var description: String { message }
}

/// An OCI bundle on disk: its config and its rootfs, opened safely.
public struct BundleDirectory {
    public var path: String
    public var configFile: String
    public var spec: Spec
    /// The rootfs, absolute, after checking it stays inside the bundle.
    public var rootfs: String
    /// `run --image`: the image store's layer directories, topmost first; `rootfs` is then the
    /// empty directory the overlay is mounted on inside the container's mount namespace.
    public var imageLayers: [String]?

    public init(path: String, configFile: String, spec: Spec, rootfs: String, imageLayers: [String]? = nil) {
        self.path = path; self.configFile = configFile; self.spec = spec; self.rootfs = rootfs; self.imageLayers = imageLayers
    }

    /// A small file of the container's root filesystem as the workload will see it: from the
    /// rootfs, or from the topmost image layer that has the path at all (a whiteout hides it).
    public func readRootFile(_ relative: String) -> String? {
        guard let layers = imageLayers else { return Self.readInRoot(rootfs, relative) }
        for layer in layers {
            let root = open(layer, WARD_O_PATH | O_DIRECTORY | O_CLOEXEC)
            guard root >= 0 else { continue }
            let fd = Sys.openat2(root, relative, flags: WARD_O_PATH | O_NOFOLLOW | O_CLOEXEC, resolve: Sys.resolveInRoot | Sys.resolveNoMagiclinks)
            close(root)
            if fd >= 0 { close(fd); return Self.readInRoot(layer, relative) }
        }
        return nil
    }

    /// Loads `config.json` (or `configPath`) and resolves `root.path` beneath the bundle:
    /// a rootfs symlinked out of the bundle is refused (openat2 RESOLVE_BENEATH -> EXDEV).
    public static func load(path: String, configPath: String? = nil) throws(WardError) -> BundleDirectory {
        guard let real = realpath(path, nil) else {
            throw WardError("bundle \(path): \(ErrnoName.of(errno)); pass --bundle the directory that holds config.json")
        }
        let bundle = String(cString: real)
        free(real)
        let configFile = configPath ?? bundle + "/config.json"
        let name = configPath == nil ? "config.json" : configFile
        let bytes: [UInt8]
        do {
            bytes = try Sys.readFile(configFile, limit: 16 << 20)
        } catch {
            throw WardError("\(name): cannot read \(configFile): \(ErrnoName.of(error.errno)); is \(bundle) an OCI bundle?")
        }
        let spec: Spec
        do {
            // Validation is the plan builder's first step (one pass, before anything is created).
            spec = try Spec.decode(bytes, file: name)
        } catch {
            throw WardError(error.description)
        }
        guard let rootPath = spec.root?.path, !rootPath.isEmpty else {
            throw WardError("\(name): root.path: missing; set it to the rootfs directory (usually \"rootfs\")")
        }
        let rootfs = try resolveRootfs(rootPath, bundle: bundle, file: name)
        return BundleDirectory(path: bundle, configFile: configFile, spec: spec, rootfs: rootfs)
    }

    static func resolveRootfs(_ rootPath: String, bundle: String, file: String) throws(WardError) -> String {
        let fd: Int32
        if rootPath.hasPrefix("/") {
            fd = open(rootPath, WARD_O_PATH | O_DIRECTORY | O_CLOEXEC)
        } else {
            let dir = open(bundle, WARD_O_PATH | O_DIRECTORY | O_CLOEXEC)
            guard dir >= 0 else { throw WardError("bundle \(bundle): \(ErrnoName.of(errno))") }
            defer { close(dir) }
            fd = Sys.openat2(dir, rootPath, flags: WARD_O_PATH | O_DIRECTORY | O_CLOEXEC,
                             resolve: Sys.resolveBeneath | Sys.resolveNoMagiclinks)
        }
        guard fd >= 0 else {
            let e = errno
            let why: String
            switch e {
            case EXDEV: why = "it leaves the bundle through a symlink or \"..\"; point root.path at a directory inside the bundle"
            case ENOENT: why = "no such directory; create it or fix root.path"
            case ENOTDIR: why = "not a directory"
            default: why = "check the path and its permissions"
            }
            throw WardError("\(file): root.path: \"\(rootPath)\": \(ErrnoName.of(e)); \(why)")
        }
        defer { close(fd) }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/fd/\(fd)", &buffer, Int(PATH_MAX))
        guard n > 0 else { throw WardError("\(file): root.path: readlink: \(ErrnoName.of(errno))") }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Reads a small file inside the rootfs, resolved inside it (RESOLVE_IN_ROOT: the image's
    /// absolute symlinks point into the image, never at the host), non-blocking so a FIFO can't
    /// hang us, regular files only.
    public static func readInRoot(_ rootfs: String, _ relative: String, limit: Int = 4 << 20) -> String? {
        let root = open(rootfs, WARD_O_PATH | O_DIRECTORY | O_CLOEXEC)
        guard root >= 0 else { return nil }
        defer { close(root) }
        let fd = Sys.openat2(root, relative, flags: O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY,
                             resolve: Sys.resolveInRoot | Sys.resolveNoMagiclinks)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, Int(st.st_size) <= limit,
              let bytes = try? Sys.readAll(fd: fd, limit: limit) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }
}

import WardPlan
import WardSpec
import WardSystem

#if canImport(Glibc)
import Glibc
#endif

/// Finds a hardening profile by name (the shipped ones, embedded in the binary) or by path, and
/// resolves its `seccompFile` against this machine (architecture, kernel version).
public enum ProfileLoader {
    /// The shipped profiles' names, sorted.
    public static var builtinNames: [String] {
        BuiltinProfiles.files.keys.filter { !$0.hasSuffix(".seccomp.json") }
            .map { String($0.dropLast(5)) }.sorted()
    }

    /// A path (has a '/' or ends in .json) or a shipped profile's name.
    public static func isPath(_ reference: String) -> Bool {
        reference.contains("/") || reference.hasSuffix(".json")
    }

    /// The profile, with any `seccompFile` resolved to an OCI filter.
    public static func load(_ reference: String) throws(WardError) -> Profile {
        let profile: Profile
        var directory: String?
        do {
            if isPath(reference) {
                let bytes: [UInt8]
                do { bytes = try Sys.readFile(reference, limit: 16 << 20) } catch {
                    throw WardError("profile \(reference): cannot read it: \(ErrnoName.of(error.errno))")
                }
                profile = try Profile.parse(bytes, file: reference)
                directory = reference.contains("/") ? String(reference[..<reference.lastIndex(of: "/")!]) : "."
            } else {
                guard let text = BuiltinProfiles.files[reference + ".json"] else {
                    throw WardError("profile \"\(reference)\": no such profile; the shipped ones are \(builtinNames.joined(separator: ", ")), or give the path of a profile file (ending in .json)")
                }
                profile = try Profile.parse(Array(text.utf8), file: reference + ".json")
            }
        } catch let error as PlanError {
            throw WardError(error.description)
        } catch let error as WardError {
            throw error
        } catch {
            throw WardError("\(error)")
        }
        guard case .dockerFile(let name) = profile.seccomp else { return profile }
        let data: [UInt8]
        let display: String
        if let directory {
            display = name.hasPrefix("/") ? name : (directory == "." ? name : directory + "/" + name)
            do { data = Array(try Sys.readFile(display, limit: 16 << 20)) } catch {
                throw WardError("\(profile.file): seccompFile: \"\(name)\": cannot read \(display): \(ErrnoName.of(error.errno))")
            }
        } else {
            guard let text = BuiltinProfiles.files[name] else {
                throw WardError("\(profile.file): seccompFile: \"\(name)\" is not shipped with ward")
            }
            display = name
            data = Array(text.utf8)
        }
        let machine = try host()
        do throws(PlanError) {
            return try profile.resolved(dockerFile: data, dockerFileName: display, host: machine)
        } catch {
            throw WardError(error.description)
        }
    }

    /// This machine's architecture and kernel version (uname).
    public static func host() throws(WardError) -> DockerSeccomp.Host {
        var u = utsname()
        guard uname(&u) == 0 else { throw WardError("uname: \(ErrnoName.of(errno))") }
        func field<T>(_ value: T) -> String {
            withUnsafeBytes(of: value) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
        }
        let machine = field(u.machine), release = field(u.release)
        guard let arch = DockerSeccomp.architecture(machine: machine) else {
            throw WardError("seccomp: machine \"\(machine)\" has no known SCMP_ARCH_* name")
        }
        guard let kernel = KernelVersion(release) else {
            throw WardError("seccomp: kernel release \"\(release)\" is not a version ward can read")
        }
        return DockerSeccomp.Host(architecture: arch, kernel: kernel)
    }
}

/// Parsers for the rootfs's /etc/passwd and /etc/group (never the host's NSS).
public enum UserDatabase {
    public struct PasswdEntry: Equatable, Sendable {
        public var name: String
        public var uid: UInt32
        public var gid: UInt32
        public var home: String
    }

    public struct GroupEntry: Equatable, Sendable {
        public var name: String
        public var gid: UInt32
        public var members: [String]
    }

    /// name:password:uid:gid:gecos:home:shell; malformed lines are skipped, as libc does.
    public static func parsePasswd(_ text: String) -> [PasswdEntry] {
        text.split(separator: "\n").compactMap { line in
            let f = line.split(separator: ":", omittingEmptySubsequences: false)
            guard f.count >= 7, !f[0].isEmpty, let uid = UInt32(f[2]), let gid = UInt32(f[3]) else { return nil }
            return PasswdEntry(name: String(f[0]), uid: uid, gid: gid, home: f[5].isEmpty ? "/" : String(f[5]))
        }
    }

    /// name:password:gid:member,member
    public static func parseGroup(_ text: String) -> [GroupEntry] {
        text.split(separator: "\n").compactMap { line in
            let f = line.split(separator: ":", omittingEmptySubsequences: false)
            guard f.count >= 4, !f[0].isEmpty, let gid = UInt32(f[2]) else { return nil }
            return GroupEntry(name: String(f[0]), gid: gid, members: f[3].split(separator: ",").map(String.init))
        }
    }
}

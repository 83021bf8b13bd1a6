import WardSystem

#if canImport(Glibc)
import Glibc
#endif

/// `ward gc`, and the creator's lock that lets it tell a container being set up from the
/// remains of a ward that died.
///
/// Between `mkdir <root>/<id>` and the first state.json a container's directory has no state;
/// the ward creating it holds flock on the directory for exactly that window (taken right after
/// the mkdir, dropped by the first state write). The clone child inherits a copy of that fd until
/// it execs, but the parent's explicit LOCK_UN releases the lock for every copy, so `start`,
/// `delete` and `gc` are never held up by it afterwards. When ward is killed the kernel drops the
/// lock with its last fd: an unlocked directory without a readable state.json is half-written.
extension StateStore {
    /// `claim` plus the creator's lock. A `gc` that removed the empty directory between our mkdir
    /// and our flock would leave us locking an unlinked directory: then claim again.
    func claimHeld(_ id: String) throws(WardError) -> ContainerLock {
        for _ in 0..<3 {
            try claim(id)
            let lock = try ContainerLock(directory: directory(id))
            var st = stat()
            if fstat(lock.fd, &st) == 0 && st.st_nlink > 0 { return lock }
        }
        throw WardError("state \(directory(id)): removed while being created three times over (is 'ward gc' running in a loop?)")
    }
}

extension Lifecycle {
    public struct Collected: Sendable, Equatable {
        public var id: String
        public var reason: String
    }

    /// Removes every entry whose container is gone: stopped, its init dead, or half-written (no
    /// readable state.json and no ward creating it). A live container, or an entry another ward
    /// holds locked (being created, started or deleted), is kept. No hooks run: this is cleanup
    /// of what nobody is left to delete (use `delete` for a container whose poststop hooks matter).
    public static func gc(store: StateStore, log: Log) -> [Collected] {
        var removed: [Collected] = []
        for id in store.ids() {
            guard (try? StateStore.validate(id: id)) != nil else { continue }  // not ours
            var st = stat()
            guard lstat(store.directory(id), &st) == 0, st.st_mode & S_IFMT == S_IFDIR else { continue }
            let lock: ContainerLock
            do { lock = try ContainerLock(directory: store.directory(id), wait: false) } catch {
                log.debug("gc: keeping \(id): busy (\(error.message))")
                continue
            }
            let reason: String
            do throws(WardError) {
                // We hold the lock, so no creator does: no state.json means half-written (checked
                // here, not through `read`, which reports a locked state-less entry as being created).
                guard access(store.directory(id) + "/state.json", F_OK) == 0 else {
                    throw WardError("no state.json")
                }
                let record = try store.read(id)
                let status = record.liveStatus
                guard status == "stopped" else {
                    log.debug("gc: keeping \(id): \(status) (pid \(record.pid))")
                    continue
                }
                reason = record.status == "stopped" ? "stopped" : "\(record.status), but its init (pid \(record.pid)) is gone"
            } catch {
                reason = "half-written: no readable state.json, and no ward is creating it"
                log.debug("gc: \(id): \(error.message)")
            }
            store.remove(id)
            removed.append(Collected(id: id, reason: reason))
            _ = lock
        }
        return removed
    }
}

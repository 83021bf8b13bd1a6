
// OCI runtime-spec 1.2 state, as printed by `state`.
// https://github.com/opencontainers/runtime-spec/blob/v1.2.0/runtime.md#state

public struct State: Codable, Sendable, Equatable {
    public static let knownStatuses = ["creating", "created", "running", "stopped"]

    public var ociVersion: String
    public var id: String
    /// One of `knownStatuses`.
    public var status: String
    public var pid: Int32?
    /// Absolute path of the bundle directory.
    public var bundle: String
    public var annotations: [String: String]?

    public init(
        ociVersion: String = Spec.currentVersion, id: String, status: String, pid: Int32? = nil,
        bundle: String, annotations: [String: String]? = nil
    ) {
        self.ociVersion = ociVersion
        self.id = id
        self.status = status
        self.pid = pid
        self.bundle = bundle
        self.annotations = annotations
    }

    /// Decodes a state document; errors name `file` and the JSON path.
    public static func decode(_ data: [UInt8], file: String = "state.json") throws(SpecError) -> State {
        try JSONFile.decode(State.self, from: data, file: file)
    }
}

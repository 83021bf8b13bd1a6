import FoundationEssentials
import Testing
import WardSpec

@Suite struct DecodingTests {
    @Test func decodesRealisticConfig() throws {
        let spec = try decodeRealistic()
        #expect(spec.ociVersion == "1.0.2-dev")
        let process = try #require(spec.process)
        #expect(process.user == User(uid: 0, gid: 0, additionalGids: [10]))
        #expect(process.args == ["/bin/true"])
        #expect(process.capabilities?.bounding?.count == 3)
        #expect(process.capabilities?.ambient == nil)
        #expect(process.rlimits?.last == POSIXRlimit(type: "RLIMIT_NPROC", hard: 32768, soft: 32768))
        #expect(process.oomScoreAdj == -500)
        #expect(spec.root == Root(path: "rootfs", readonly: true))
        #expect(spec.mounts?.count == 3)
        #expect(spec.mounts?[2].type == nil)
        #expect(spec.mounts?[2].isBind == true)
        #expect(spec.hooks?.poststop?.first == Hook(path: "/usr/bin/cleanup", args: ["cleanup", "--all"], timeout: 5))
        #expect(spec.annotations?["io.container.manager"] == "libpod")

        let linux = try #require(spec.linux)
        #expect(linux.uidMappings == [LinuxIDMapping(containerID: 0, hostID: 1000, size: 1)])
        #expect(linux.sysctl == ["net.ipv4.ping_group_range": "0 0"])
        #expect(linux.namespaces?.map(\.type) == ["pid", "network", "ipc", "uts", "mount", "user"])
        #expect(linux.devices?.first?.fileMode == 0o666)
        let seccomp = try #require(linux.seccomp)
        #expect(seccomp.defaultErrnoRet == 38)
        #expect(seccomp.syscalls?[1].args?.first == LinuxSeccompArg(index: 0, value: 0xFFFF_FFFF, op: "SCMP_CMP_EQ"))
        #expect(linux.maskedPaths?.count == 2)
        try spec.validate()
    }

    @Test func keepsResourcesAsRawJSON() throws {
        let resources = try #require(try decodeRealistic().linux?.resources)
        #expect(resources["memory"]?["limit"] == .int(Int64.max))
        #expect(resources["memory"]?["swap"] == .int(-1))
        #expect(resources["cpu"]?["quota"] == .double(0.5))
        #expect(resources["cpu"]?["missing"] == nil)
    }

    @Test func toleratesUnknownFieldsAndNulls() throws {
        let json = #"""
            {"ociVersion": "1.2.0", "future": [1, {"x": null}], "hostname": null,
             "process": {"user": {"uid": 1, "gid": 2, "extra": true}, "cwd": "/", "args": ["a"],
                         "scheduler": {"policy": "SCHED_OTHER", "nice": -5, "unknown": [true]},
                         "ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 4}},
             "linux": {"seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_LOG", "comment": "x"}]},
                       "timeOffsets": {"monotonic": {"secs": -10, "nanosecs": 5}},
                       "personality": {"domain": "LINUX32", "flags": []}}}
            """#
        let spec = try Spec.decode(Array(json.utf8))
        #expect(spec.hostname == nil)
        #expect(spec.process?.user.uid == 1)
        #expect(spec.process?.scheduler?["nice"] == .int(-5))
        #expect(spec.process?.ioPriority == IOPriority(class: "IOPRIO_CLASS_BE", priority: 4))
        #expect(spec.linux?.timeOffsets?["monotonic"] == TimeOffset(secs: -10, nanosecs: 5))
        #expect(spec.linux?.personality?.domain == "LINUX32")
    }

    @Test func allThreeDecodersAgreeOnEveryField() throws {
        let spec = fullSpec()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(spec)
        #expect(try Spec.decode(Array(data)) == spec)  // JSONDecodable
        #expect(try JSONFile.decode(ViaCodable<Spec>.self, from: Array(data), file: "config.json").value == spec)  // TreeDecoder
        #expect(try JSONDecoder().decode(Spec.self, from: data) == spec)  // Foundation
        // And ward's own encoder (TreeEncoder, `ward spec --profile`) writes what all of them read.
        let mine = try JSONValue.encoding(spec)
        #expect(try Spec.decode(Array(mine.prettyJSONText.utf8)) == spec)
        #expect(mine.jsonText == (try JSONFile.parse(Array(data), file: "foundation.json")).jsonText, "the same JSON as Foundation's JSONEncoder")
        try spec.validate()
    }

    @Test func roundTripsRealisticConfig() throws {
        let spec = try decodeRealistic()
        #expect(try Spec.decode(Array(try JSONEncoder().encode(spec))) == spec)
    }

    @Test func encodesStateWithSortedKeys() throws {
        let state = State(id: "box", status: "running", pid: 42, bundle: "/b", annotations: ["a": "b"])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let text = String(decoding: try encoder.encode(state), as: UTF8.self)
        #expect(text == #"{"annotations":{"a":"b"},"bundle":"\/b","id":"box","ociVersion":"1.2.0","pid":42,"status":"running"}"#)
        #expect(try State.decode(Array(text.utf8)) == state)
        #expect(try JSONFile.decode(ViaCodable<State>.self, from: Array(text.utf8), file: "state.json").value == state)
    }

    @Test(.enabled(if: sharedHardenedConfig() != nil, "needs ../shared/bench/hardened-config.json"))
    func decodesSharedHardenedConfig() throws {
        let spec = try Spec.decode(try #require(sharedHardenedConfig()))
        #expect(spec.linux?.seccomp?.syscalls?.isEmpty == false)
        try spec.validate()
    }

    struct ErrorCase: Sendable, CustomTestStringConvertible {
        let json: String
        let expected: String
        var testDescription: String { expected }
    }

    /// A minimal valid document with `replacement` swapped in for `"SLOT": 0`.
    static func document(_ replacement: String) -> String {
        #"""
        {"ociVersion": "1.2.0",
         "process": {"user": {"uid": 0, "gid": 0}, "args": ["/bin/sh"], "cwd": "/"},
         "root": {"path": "rootfs"},
         "SLOT": 0}
        """#.replacing(#""SLOT": 0"#, with: replacement)
    }

    static let errorCases: [ErrorCase] = [
        ErrorCase(json: document(#""linux": {"seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_LOG"}, {"names": "read", "action": "SCMP_ACT_LOG"}]}}"#),
                  expected: "config.json: linux.seccomp.syscalls[1].names: expected an array"),
        ErrorCase(json: document(#""linux": {"seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["a"], "action": 3}]}}"#),
                  expected: "config.json: linux.seccomp.syscalls[0].action: expected a string"),
        ErrorCase(json: document(#""linux": {"seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [1], "action": "x"}]}}"#),
                  expected: "config.json: linux.seccomp.syscalls[0].names[0]: expected a string"),
        ErrorCase(json: #"{"ociVersion": "1.2.0", "process": {"user": {"gid": 0}, "cwd": "/"}}"#,
                  expected: "config.json: process.user.uid: missing required field"),
        ErrorCase(json: #"{"process": {"user": {"uid": 0, "gid": 0}, "cwd": "/"}}"#,
                  expected: "config.json: ociVersion: missing required field"),
        ErrorCase(json: #"{"ociVersion": "1.2.0", "process": {"user": {"uid": "0", "gid": 0}, "cwd": "/"}}"#,
                  expected: "config.json: process.user.uid: expected an integer"),
        ErrorCase(json: #"{"ociVersion": "1.2.0", "process": {"user": {"uid": -1, "gid": 0}, "cwd": "/"}}"#,
                  expected: "config.json: process.user.uid: expected an integer in 0...4294967295, got -1"),
        ErrorCase(json: document(#""linux": {"uidMappings": [{"containerID": 0, "hostID": 4294967296, "size": 1}]}"#),
                  expected: "config.json: linux.uidMappings[0].hostID: expected an integer in 0...4294967295, got 4294967296"),
        ErrorCase(json: #"{"ociVersion": "1.2.0", "process": {"user": {"uid": 0, "gid": 0}, "cwd": "/", "rlimits": [{"type": "RLIMIT_CORE", "hard": 1.5, "soft": 0}]}}"#,
                  expected: "config.json: process.rlimits[0].hard: expected an integer in 0...18446744073709551615, got 1.5"),
        ErrorCase(json: #"{"ociVersion": "1.2.0", "process": {"user": {"uid": 0, "gid": 0}, "cwd": null}}"#,
                  expected: "config.json: process.cwd: expected a string, found null"),
        ErrorCase(json: #"{"ociVersion": "1.2.0", "process": "sh"}"#,
                  expected: "config.json: process: expected an object"),
        ErrorCase(json: document(#""linux": {"sysctl": {"net.ipv4.ip_forward": 1}}"#),
                  expected: #"config.json: linux.sysctl["net.ipv4.ip_forward"]: expected a string"#),
        ErrorCase(json: document(#""annotations": {"1": true}"#),
                  expected: #"config.json: annotations["1"]: expected a string"#),
        ErrorCase(json: document(#""root": {"path": "rootfs", "readonly": "yes"}"#),
                  expected: "config.json: root.readonly: expected a boolean"),
        ErrorCase(json: "[1, 2]", expected: "config.json: expected an object"),
        // Syntax errors carry a line and column.
        ErrorCase(json: "not json",
                  expected: #"config.json: not valid JSON: unexpected "not"; strings need double quotes, and the literals are true, false and null at line 1, column 1"#),
        ErrorCase(json: "", expected: "config.json: not valid JSON: unexpected end of input at line 1, column 1"),
        ErrorCase(json: "{\n  \"ociVersion\": \"1.2.0\",\n}",
                  expected: "config.json: not valid JSON: trailing comma before '}' at line 3, column 1"),
        ErrorCase(json: "{\"a\": [1, 2,]}", expected: "config.json: not valid JSON: trailing comma before ']' at line 1, column 13"),
        ErrorCase(json: "{\"a\": 1\n \"b\": 2}",
                  expected: #"config.json: not valid JSON: expected ',' or '}' after an object member, found '"' at line 2, column 2"#),
        ErrorCase(json: #"{"a" 1}"#, expected: #"config.json: not valid JSON: expected ':' after the key "a", found '1' at line 1, column 6"#),
        ErrorCase(json: #"{a: 1}"#, expected: "config.json: not valid JSON: expected a key in double quotes, found 'a' at line 1, column 2"),
        ErrorCase(json: #"{"a": [1 2]}"#, expected: "config.json: not valid JSON: expected ',' or ']' after an array element, found '2' at line 1, column 10"),
        ErrorCase(json: #"{"a": "x"#, expected: "config.json: not valid JSON: unterminated string; no closing quote for the string that starts at line 1, column 7"),
        ErrorCase(json: "{\"a\": \"x\ty\"}", expected: "config.json: not valid JSON: control character byte 0x09 in string; escape it at line 1, column 9"),
        ErrorCase(json: #"{"a": "\q"}"#, expected: "config.json: not valid JSON: invalid escape: backslash followed by 'q' at line 1, column 8"),
        ErrorCase(json: #"{"a": "\ud800"}"#, expected: #"config.json: not valid JSON: unpaired UTF-16 surrogate in \u escape at line 1, column 8"#),
        ErrorCase(json: #"{"a": 012}"#, expected: "config.json: not valid JSON: invalid number: leading zeros are not allowed at line 1, column 8"),
        ErrorCase(json: #"{"a": 1.}"#, expected: "config.json: not valid JSON: invalid number: expected a digit, found '}' at line 1, column 9"),
        ErrorCase(json: #"{"a": 1e999}"#, expected: "config.json: not valid JSON: number 1e999 is out of range at line 1, column 7"),
        ErrorCase(json: "{} x", expected: "config.json: not valid JSON: unexpected 'x' after the JSON value at line 1, column 4"),
        ErrorCase(json: "{\"é\": True}",
                  expected: #"config.json: not valid JSON: unexpected "True"; strings need double quotes, and the literals are true, false and null at line 1, column 7"#),
        ErrorCase(json: String(repeating: "[", count: 600), expected: "config.json: not valid JSON: nested more than 512 levels deep at line 1, column 513"),
    ]

    @Test(arguments: errorCases)
    func reportsDecodeErrors(_ errorCase: ErrorCase) {
        let data = Array(errorCase.json.utf8)
        #expect(specErrorMessage { _ = try Spec.decode(data) } == errorCase.expected)
        // The Codable path gives the same messages.
        #expect(specErrorMessage { _ = try JSONFile.decode(ViaCodable<Spec>.self, from: data, file: "config.json") }
            == errorCase.expected)
    }

    @Test func rejectsInvalidUTF8() {
        let bytes: [UInt8] = Array(#"{"a": ""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8)
        #expect(specErrorMessage { _ = try Spec.decode(Array(bytes), file: "/b/config.json") }
            == "/b/config.json: not valid JSON: invalid UTF-8 in string at line 1, column 8")
    }

    @Test func parsesStringEscapesAndNumbers() throws {
        let json = #"""
            {"s": "a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00", "i": -9223372036854775808, "u": 18446744073709551615,
             "d": -1.25e2, "z": 0, "t": true, "f": false, "n": null, "e": [], "o": {}}
            """#
        let value = try JSONFile.parse(Array(([0xEF, 0xBB, 0xBF] + Array(json.utf8))), file: "x.json")
        #expect(value["s"] == .string("a\"b\\c/d\u{8}\u{C}\n\r\té😀"))
        #expect(value["i"] == .int(Int64.min))
        #expect(value["u"] == .uint(UInt64.max))
        #expect(value["d"] == .double(-125))
        #expect(value["z"] == .int(0))
        #expect(value["t"] == .bool(true))
        #expect(value["f"] == .bool(false))
        #expect(value["n"] == .null)
        #expect(value["e"] == .array([]))
        #expect(value["o"] == .object([:]))
        #expect(value["missing"] == nil)
        #expect(value["e"]?[0] == nil)
    }

    @Test func lastDuplicateKeyWins() throws {
        let spec = try Spec.decode(Array(#"{"ociVersion": "1.0.0", "ociVersion": "1.2.0"}"#.utf8))
        #expect(spec.ociVersion == "1.2.0")
    }

    @Test func mapsFoundationDecodingErrorsToo() {
        let data = Array(#"{"ociVersion": "1.2.0", "process": {"user": {"uid": 0}, "cwd": "/"}}"#.utf8)
        do {
            _ = try JSONDecoder().decode(Spec.self, from: Data(data))
            Issue.record("expected a DecodingError")
        } catch let error as DecodingError {
            #expect(SpecError(error, file: "config.json").description == "config.json: process.user.gid: missing required field")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }
}

@Suite struct TableTests {
    @Test func capabilityTable() {
        #expect(Capabilities.names.count == 41)
        #expect(Capabilities.byName["CAP_CHOWN"] == 0)
        #expect(Capabilities.byName["CAP_SYS_ADMIN"] == 21)
        #expect(Capabilities.byName["CAP_AUDIT_READ"] == 37)
        #expect(Capabilities.byName["CAP_CHECKPOINT_RESTORE"] == 40)
        #expect(Capabilities.name(of: 40) == "CAP_CHECKPOINT_RESTORE")
        #expect(Capabilities.name(of: 41) == nil)
        #expect(Capabilities.name(of: -1) == nil)
        #expect(Capabilities.last == 40)
        for (number, name) in Capabilities.names.enumerated() {
            #expect(Capabilities.number(of: name) == number)
        }
    }

    @Test func rlimitTable() {
        #expect(POSIXRlimit.rlimitNumbers.count == 16)
        #expect(POSIXRlimit.rlimitNumbers["RLIMIT_NOFILE"] == 7)
        #expect(POSIXRlimit.rlimitNumbers["RLIMIT_RTTIME"] == 15)
        #expect(Set(POSIXRlimit.rlimitNumbers.values) == Set(0...15))
    }

    @Test func pathFormatting() {
        #expect(JSONPath.member("", "process") == "process")
        #expect(JSONPath.member("linux", "sysctl") == "linux.sysctl")
        #expect(JSONPath.member("annotations", "io.k8s/x") == #"annotations["io.k8s/x"]"#)
        #expect(JSONPath.member("a", #"q"uote"#) == #"a["q\"uote"]"#)
    }
}

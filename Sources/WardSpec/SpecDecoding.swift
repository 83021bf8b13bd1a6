// init(json:) for every model: one line per field, keys as in the spec.
// Tests decode a config with every field set both ways (this and Codable) and
// compare, so a field missing here fails them.

extension Spec: JSONDecodable {
    public init(json: JSONReader) throws(SpecError) {
        let object = try json.object()
        ociVersion = try object.required("ociVersion")
        process = try object.optional("process")
        root = try object.optional("root")
        hostname = try object.optional("hostname")
        domainname = try object.optional("domainname")
        mounts = try object.optional("mounts")
        hooks = try object.optional("hooks")
        annotations = try object.optional("annotations")
        linux = try object.optional("linux")
    }
}

extension Process: JSONDecodable {
    public init(json: JSONReader) throws(SpecError) {
        let object = try json.object()
        terminal = try object.optional("terminal")
        consoleSize = try object.optional("consoleSize")
        user = try object.required("user")
        args = try object.optional("args")
        env = try object.optional("env")
        cwd = try object.required("cwd")
        capabilities = try object.optional("capabilities")
        rlimits = try object.optional("rlimits")
        noNewPrivileges = try object.optional("noNewPrivileges")
        apparmorProfile = try object.optional("apparmorProfile")
        oomScoreAdj = try object.optional("oomScoreAdj")
        selinuxLabel = try object.optional("selinuxLabel")
        ioPriority = try object.optional("ioPriority")
        scheduler = try object.optional("scheduler")
        umask = try object.optional("umask")
    }
}

extension ConsoleSize: JSONDecodable {
    public init(json: JSONReader) throws(SpecError) {
        let object = try json.object()
        height = try object.required("height")
        width = try object.required("width")
    }
}

extension User: JSONDecodable {
    public init(json: JSONReader) throws(SpecError) {
        let object = try json.object()
        uid = try object.required("uid")
        gid = try object.required("gid")
        umask = try object.optional("umask")
        additionalGids = try object.optional("additionalGids")
        username = try object.optional("username")
    }
}

extension LinuxCapabilities: JSONDecodable {
    public init(json: JSONReader) throws(SpecError) {
        let object = try json.object()
        bounding = try object.optional("bounding")
        effective = try object.optional("effective")
        inheritable = try object.optional("inheritable")
        permitted = try object.optional("permitted")
        ambient = try object.optional("ambient")
    }
}

extension POSIXRlimit: JSONDecodable {
    public init(json: JSONReader) throws(SpecError) {
        let object = try json.object()
        type = try object.required("type")
        hard = try object.required("hard")
        soft = try object.required("soft")
    }
}

extension IOPriority: JSONDecodable {
    public init(json: JSONReader) throws(SpecError) {
        let object = try json.object()
        `class` = try object.required("class")
        priority = try object.required("priority")
    }
}

extension Root: JSONDecodable {
    public init(json: JSONReader) throws(SpecError) {
        let object = try json.object()
        path = try object.required("path")
        readonly = try object.optional("readonly")
    }
}

extension Mount: JSONDecodable {
    public init(json: JSONReader) throws(SpecError) {
        let object = try json.object()
        destination = try object.required("destination")
        type = try object.optional("type")
        source = try object.optional("source")
        options = try object.optional("options")
        uidMappings = try object.optional("uidMappings")
        gidMappings = try object.optional("gidMappings")
    }
}

extension Hooks: JSONDecodable {
    public init(json: JSONReader) throws(SpecError) {
        let object = try json.object()
        prestart = try object.optional("prestart")
        createRuntime = try object.optional("createRuntime")
        createContainer = try object.optional("createContainer")
        startContainer = try object.optional("startContainer")
        poststart = try object.optional("poststart")
        poststop = try object.optional("poststop")
    }
}

extension Hook: JSONDecodable {
    public init(json: JSONReader) throws(SpecError) {
        let object = try json.object()
        path = try object.required("path")
        args = try object.optional("args")
        env = try object.optional("env")
        timeout = try object.optional("timeout")
    }
}

extension Linux: JSONDecodable {
    public init(json: JSONReader) throws(SpecError) {
        let object = try json.object()
        uidMappings = try object.optional("uidMappings")
        gidMappings = try object.optional("gidMappings")
        sysctl = try object.optional("sysctl")
        resources = try object.optional("resources")
        cgroupsPath = try object.optional("cgroupsPath")
        namespaces = try object.optional("namespaces")
        devices = try object.optional("devices")
        seccomp = try object.optional("seccomp")
        rootfsPropagation = try object.optional("rootfsPropagation")
        maskedPaths = try object.optional("maskedPaths")
        readonlyPaths = try object.optional("readonlyPaths")
        mountLabel = try object.optional("mountLabel")
        timeOffsets = try object.optional("timeOffsets")
        personality = try object.optional("personality")
    }
}

extension LinuxNamespace: JSONDecodable {
    public init(json: JSONReader) throws(SpecError) {
        let object = try json.object()
        type = try object.required("type")
        path = try object.optional("path")
    }
}

extension LinuxIDMapping: JSONDecodable {
    public init(json: JSONReader) throws(SpecError) {
        let object = try json.object()
        containerID = try object.required("containerID")
        hostID = try object.required("hostID")
        size = try object.required("size")
    }
}

extension LinuxDevice: JSONDecodable {
    public init(json: JSONReader) throws(SpecError) {
        let object = try json.object()
        path = try object.required("path")
        type = try object.required("type")
        major = try object.optional("major")
        minor = try object.optional("minor")
        fileMode = try object.optional("fileMode")
        uid = try object.optional("uid")
        gid = try object.optional("gid")
    }
}

extension TimeOffset: JSONDecodable {
    public init(json: JSONReader) throws(SpecError) {
        let object = try json.object()
        secs = try object.optional("secs")
        nanosecs = try object.optional("nanosecs")
    }
}

extension LinuxPersonality: JSONDecodable {
    public init(json: JSONReader) throws(SpecError) {
        let object = try json.object()
        domain = try object.required("domain")
        flags = try object.optional("flags")
    }
}

extension LinuxSeccomp: JSONDecodable {
    public init(json: JSONReader) throws(SpecError) {
        let object = try json.object()
        defaultAction = try object.required("defaultAction")
        defaultErrnoRet = try object.optional("defaultErrnoRet")
        architectures = try object.optional("architectures")
        flags = try object.optional("flags")
        listenerPath = try object.optional("listenerPath")
        listenerMetadata = try object.optional("listenerMetadata")
        syscalls = try object.optional("syscalls")
    }
}

extension LinuxSyscall: JSONDecodable {
    public init(json: JSONReader) throws(SpecError) {
        let object = try json.object()
        names = try object.required("names")
        action = try object.required("action")
        errnoRet = try object.optional("errnoRet")
        args = try object.optional("args")
    }
}

extension LinuxSeccompArg: JSONDecodable {
    public init(json: JSONReader) throws(SpecError) {
        let object = try json.object()
        index = try object.required("index")
        value = try object.required("value")
        valueTwo = try object.optional("valueTwo")
        op = try object.required("op")
    }
}

extension State: JSONDecodable {
    public init(json: JSONReader) throws(SpecError) {
        let object = try json.object()
        ociVersion = try object.required("ociVersion")
        id = try object.required("id")
        status = try object.required("status")
        pid = try object.optional("pid")
        bundle = try object.required("bundle")
        annotations = try object.optional("annotations")
    }
}

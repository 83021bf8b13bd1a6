import WardProbe
import WardSpec

/// `ward compare`'s output: a table (text, markdown, html) or the JSON document of
/// docs/compare-schema.json. Probes are rows, profiles columns.
struct CompareReport {
    static let schemaVersion = 1
    var bundle: String
    var workload: [String]
    var runs: [ProfileRun]

    /// Probe rows in battery order (the first run that has them), then any others.
    var catalog: [ProbeRecord] {
        var seen: Set<String> = []
        var out: [ProbeRecord] = []
        for run in runs { for p in run.probes where !seen.contains(p.id) { seen.insert(p.id); out.append(p) } }
        return out
    }

    func cell(_ run: ProfileRun, _ id: String) -> ProbeRecord? { run.probes.first { $0.id == id } }

    static func symbol(_ r: ProbeRecord?) -> String {
        guard let r else { return "?" }
        switch r.result {
        case .blocked: return "✓ \(r.mechanism)"
        case .allowed: return "✗ allowed"
        case .notApplicable: return "– n/a"
        }
    }

    func score(_ run: ProfileRun) -> String { run.error != nil ? "error" : "\(run.blocked)/\(run.applicable)" }

    func workloadText(_ run: ProfileRun) -> String {
        guard let code = run.workloadExit else { return "-" }
        return run.workloadSignal.map { "signal \($0)" } ?? "exit \(code)"
    }

    // MARK: text

    func text(colour: Bool) -> String {
        let rows = catalog
        let idWidth = max(24, (rows.map(\.id.count).max() ?? 0) + 1)
        let colWidth = max(20, (runs.map(\.name.count).max() ?? 0) + 2)
        func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s + " " : s + String(repeating: " ", count: w - s.count) }
        func paint(_ s: String, _ r: ProbeRecord?) -> String {
            guard colour, let r else { return s }
            switch r.result {
            case .blocked: return "\u{1b}[32m\(s)\u{1b}[0m"
            case .allowed: return "\u{1b}[31m\(s)\u{1b}[0m"
            case .notApplicable: return "\u{1b}[2m\(s)\u{1b}[0m"
            }
        }
        var out = pad("PROBE", idWidth) + pad("NIST", 7) + runs.map { pad($0.name, colWidth) }.joined() + "\n"
        for row in rows {
            out += pad(row.id, idWidth) + pad(row.nist, 7)
            out += runs.map { run in paint(pad(Self.symbol(cell(run, row.id)), colWidth), cell(run, row.id)) }.joined() + "\n"
        }
        out += "\n" + pad("score (blocked/applicable)", idWidth + 7) + runs.map { pad(score($0), colWidth) }.joined() + "\n"
        if !workload.isEmpty {
            out += pad("workload", idWidth + 7) + runs.map { pad(workloadText($0), colWidth) }.joined() + "\n"
        }
        for run in runs {
            if let e = run.error { out += "\(run.name): error: \(e)\n" }
        }
        out += "\n✓ blocked (by the mechanism named)  ✗ allowed  – not applicable. NIST: SP 800-190 section.\n"
        return out
    }

    // MARK: markdown

    var markdown: String {
        func esc(_ s: String) -> String { s.flatMap { $0 == "|" ? Array("\\|") : [$0] }.map(String.init).joined() }
        var out = "| Probe | NIST SP 800-190 | " + runs.map { esc($0.name) }.joined(separator: " | ") + " |\n"
        out += "|---|---|" + runs.map { _ in "---" }.joined(separator: "|") + "|\n"
        for row in catalog {
            out += "| \(esc(row.id)): \(esc(row.title)) | \(row.nist) | " + runs.map { esc(Self.symbol(cell($0, row.id))) }.joined(separator: " | ") + " |\n"
        }
        out += "| **Score** (blocked/applicable) | | " + runs.map { "**\(score($0))**" }.joined(separator: " | ") + " |\n"
        if !workload.isEmpty { out += "| **Workload** `\(esc(workload.joined(separator: " ")))` | | " + runs.map { workloadText($0) }.joined(separator: " | ") + " |\n" }
        return out
    }

    // MARK: json (docs/compare-schema.json)

    var json: JSONValue {
        var profiles: [JSONValue] = []
        for run in runs {
            var o: [String: JSONValue] = [
                "name": .string(run.name), "reference": .string(run.reference), "source": .string(run.source),
                "ok": .bool(run.error == nil), "error": run.error.map(JSONValue.string) ?? .null,
                "score": .object(["blocked": .int(Int64(run.blocked)), "applicable": .int(Int64(run.applicable)),
                                  "allowed": .int(Int64(run.probes.filter { $0.result == .allowed }.count))]),
                "probes": .array(run.probes.map(\.json)),
            ]
            if let code = run.workloadExit {
                o["workload"] = .object(["exitCode": .int(Int64(code)), "signal": run.workloadSignal.map { .int(Int64($0)) } ?? .null,
                                         "error": run.workloadError.map(JSONValue.string) ?? .null])
            } else {
                o["workload"] = .null
            }
            profiles.append(.object(o))
        }
        let catalogJSON: [JSONValue] = catalog.map {
            .object(["id": .string($0.id), "title": .string($0.title), "nist": .string($0.nist),
                     "nistTitle": .string(NIST.titles[$0.nist] ?? "")])
        }
        return .object([
            "schemaVersion": .int(Int64(Self.schemaVersion)),
            "wardVersion": .string(WardVersion.version),
            "bundle": .string(bundle),
            "kernel": runs.compactMap(\.kernel).first.map(JSONValue.string) ?? .null,
            "workload": workload.isEmpty ? .null : .array(workload.map(JSONValue.string)),
            "probes": .array(catalogJSON),
            "profiles": .array(profiles),
        ])
    }

    // MARK: html

    var html: String {
        func esc(_ s: String) -> String {
            var out = ""
            for c in s {
                switch c {
                case "&": out += "&amp;"
                case "<": out += "&lt;"
                case ">": out += "&gt;"
                case "\"": out += "&quot;"
                default: out.append(c)
                }
            }
            return out
        }
        var out = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>ward compare</title>
        <style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px}
        .blocked{background:#dfd}.allowed{background:#fdd}.na{color:#888}</style></head><body>
        <h1>ward compare</h1><p>Bundle: <code>\(esc(bundle))</code></p>

        """
        // Bar chart: blocked / applicable per profile.
        let barWidth = 300.0, rowHeight = 24
        out += "<svg id=\"scores\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(barWidth) + 260)\" height=\"\(runs.count * rowHeight + 10)\">\n"
        for (i, run) in runs.enumerated() {
            let fraction = run.applicable > 0 ? Double(run.blocked) / Double(run.applicable) : 0
            let y = i * rowHeight + 5
            out += "<text x=\"0\" y=\"\(y + 15)\" font-size=\"13\">\(esc(run.name))</text>"
            out += "<rect x=\"150\" y=\"\(y)\" width=\"\(Int(fraction * barWidth))\" height=\"18\" fill=\"#3a3\"/>"
            out += "<rect x=\"150\" y=\"\(y)\" width=\"\(Int(barWidth))\" height=\"18\" fill=\"none\" stroke=\"#999\"/>"
            out += "<text x=\"\(Int(barWidth) + 160)\" y=\"\(y + 15)\" font-size=\"13\">\(score(run))</text>\n"
        }
        out += "</svg>\n<table><tr><th>Probe</th><th>NIST</th>" + runs.map { "<th>\(esc($0.name))</th>" }.joined() + "</tr>\n"
        for row in catalog {
            out += "<tr><td title=\"\(esc(row.title))\">\(esc(row.id))</td><td>\(row.nist)</td>"
            for run in runs {
                let c = cell(run, row.id)
                let cls = c.map { $0.result == .blocked ? "blocked" : $0.result == .allowed ? "allowed" : "na" } ?? "na"
                out += "<td class=\"\(cls)\" title=\"\(esc(c?.detail ?? ""))\">\(esc(Self.symbol(c)))</td>"
            }
            out += "</tr>\n"
        }
        out += "<tr><th>Score</th><th></th>" + runs.map { "<th>\(score($0))</th>" }.joined() + "</tr>\n"
        if !workload.isEmpty { out += "<tr><th>Workload</th><th></th>" + runs.map { "<td>\(workloadText($0))</td>" }.joined() + "</tr>\n" }
        return out + "</table></body></html>\n"
    }
}

/// `--timeout` values: "90", "90s", "1.5s", "5m", "1h", "250ms" -> seconds.
public enum Duration {
    public static func parse(_ text: String) -> Double? {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            let number = text.dropLast(suffix.count)
            // "5ms" must not parse as "5m" + "s": the longer suffix is tried first.
            guard let value = Double(number), value > 0, value.isFinite else { return nil }
            return value * scale
        }
        guard let value = Double(text), value > 0, value.isFinite else { return nil }
        return value
    }
}

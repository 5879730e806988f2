//! A minimal streaming JSON writer: fast even in unoptimised builds, commas handled for you.
//!
//! Why not serde_json: pages are the sandbox's hot path (benchmarks stream
//! 160 MB of them), and `#[derive(Serialize)]` structs producing the same
//! bytes rendered them 1.4 to 1.8 times slower in release builds (100 pages
//! of 1,000 events, `render_speed` in `render.rs`: 58 to 75 ms here, 100 to
//! 125 ms with serde_json; 200 such pages over HTTP: 0.17 to 0.23 s against
//! 0.30 to 0.46 s) and 5.5 times slower in debug builds (0.43 s against
//! 2.4 s). serde_json escapes every key and every string; this writer
//! writes its literal keys and its ASCII-only values (UUIDs, times, URIs)
//! as they are.

/// Appends compact JSON to a byte buffer.
#[derive(Debug, Default)]
pub(crate) struct JsonWriter {
    out: Vec<u8>,
    comma: bool,
}

impl JsonWriter {
    /// A writer with room for `capacity` bytes.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self {
            out: Vec::with_capacity(capacity),
            comma: false,
        }
    }

    /// The bytes written.
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.out
    }

    fn separate(&mut self) {
        if self.comma {
            self.out.push(b',');
        }
    }

    /// Writes an object key (the value must follow). Keys are literals that need no escaping.
    pub(crate) fn key(&mut self, key: &'static str) -> &mut Self {
        self.separate();
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.comma = false;
        self
    }

    /// Opens an object value.
    pub(crate) fn begin_object(&mut self) -> &mut Self {
        self.separate();
        self.out.push(b'{');
        self.comma = false;
        self
    }

    /// Closes an object.
    pub(crate) fn end_object(&mut self) -> &mut Self {
        self.out.push(b'}');
        self.comma = true;
        self
    }

    /// Opens an array value.
    pub(crate) fn begin_array(&mut self) -> &mut Self {
        self.separate();
        self.out.push(b'[');
        self.comma = false;
        self
    }

    /// Closes an array.
    pub(crate) fn end_array(&mut self) -> &mut Self {
        self.out.push(b']');
        self.comma = true;
        self
    }

    /// Writes a string value.
    pub(crate) fn string(&mut self, value: &str) -> &mut Self {
        self.separate();
        self.push_escaped(value);
        self.comma = true;
        self
    }

    /// Writes a string value made of several parts.
    pub(crate) fn string_parts(&mut self, parts: &[&str]) -> &mut Self {
        self.separate();
        self.out.push(b'"');
        for part in parts {
            self.push_escaped_inner(part);
        }
        self.out.push(b'"');
        self.comma = true;
        self
    }

    /// Writes an unsigned integer value.
    pub(crate) fn uint(&mut self, value: u64) -> &mut Self {
        self.separate();
        push_decimal(&mut self.out, value);
        self.comma = true;
        self
    }

    /// Writes a signed integer value.
    pub(crate) fn int(&mut self, value: i64) -> &mut Self {
        self.separate();
        if value < 0 {
            self.out.push(b'-');
        }
        push_decimal(&mut self.out, value.unsigned_abs());
        self.comma = true;
        self
    }

    /// Writes an unsigned integer as a JSON string.
    pub(crate) fn uint_string(&mut self, value: u64) -> &mut Self {
        self.separate();
        self.out.push(b'"');
        push_decimal(&mut self.out, value);
        self.out.push(b'"');
        self.comma = true;
        self
    }

    /// Writes pre-formatted JSON (a number literal, `true`, `null`, ...) as a value.
    pub(crate) fn raw(&mut self, json: &str) -> &mut Self {
        self.separate();
        self.out.extend_from_slice(json.as_bytes());
        self.comma = true;
        self
    }

    /// Writes `null`.
    pub(crate) fn null(&mut self) -> &mut Self {
        self.raw("null")
    }

    /// Writes raw, already-safe bytes as the content of a string value.
    pub(crate) fn ascii_string(&mut self, bytes: &[u8]) -> &mut Self {
        self.separate();
        self.out.push(b'"');
        self.out.extend_from_slice(bytes);
        self.out.push(b'"');
        self.comma = true;
        self
    }

    fn push_escaped(&mut self, text: &str) {
        self.out.push(b'"');
        self.push_escaped_inner(text);
        self.out.push(b'"');
    }

    fn push_escaped_inner(&mut self, text: &str) {
        let bytes = text.as_bytes();
        let mut clean = true;
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b == b'"' || b == b'\\' || b < 0x20 {
                clean = false;
                break;
            }
            i += 1;
        }
        if clean {
            self.out.extend_from_slice(bytes);
            return;
        }
        for &b in bytes {
            match b {
                b'"' => self.out.extend_from_slice(b"\\\""),
                b'\\' => self.out.extend_from_slice(b"\\\\"),
                b'\n' => self.out.extend_from_slice(b"\\n"),
                b'\r' => self.out.extend_from_slice(b"\\r"),
                b'\t' => self.out.extend_from_slice(b"\\t"),
                0..0x20 => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    self.out.extend_from_slice(b"\\u00");
                    self.out.push(HEX[usize::from(b >> 4)]);
                    self.out.push(HEX[usize::from(b & 0xF)]);
                }
                _ => self.out.push(b),
            }
        }
    }
}

/// Appends the decimal digits of `value`.
pub(crate) fn push_decimal(out: &mut Vec<u8>, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// Appends `value` as exactly `width` zero-padded decimal digits (`value < 10^width`).
fn push_padded(out: &mut Vec<u8>, value: u32, width: u32) {
    for place in (0..width).rev() {
        out.push(b'0' + ((value / 10u32.pow(place)) % 10) as u8);
    }
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for a Unix time in milliseconds.
pub(crate) fn format_millis(time_ms: i64) -> Vec<u8> {
    let days = time_ms.div_euclid(86_400_000);
    let in_day = time_ms.rem_euclid(86_400_000) as u32;
    let (year, month, day) = civil_from_days(days);
    if !(0..=9999).contains(&year) {
        return chrono::DateTime::from_timestamp_millis(time_ms)
            .map(|t| {
                t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                    .into_bytes()
            })
            .unwrap_or_default();
    }
    let mut out = Vec::with_capacity(24);
    push_padded(&mut out, year as u32, 4);
    out.push(b'-');
    push_padded(&mut out, month, 2);
    out.push(b'-');
    push_padded(&mut out, day, 2);
    out.push(b'T');
    push_padded(&mut out, in_day / 3_600_000, 2);
    out.push(b':');
    push_padded(&mut out, in_day / 60_000 % 60, 2);
    out.push(b':');
    push_padded(&mut out, in_day / 1_000 % 60, 2);
    out.push(b'.');
    push_padded(&mut out, in_day % 1_000, 3);
    out.push(b'Z');
    out
}

/// Howard Hinnant's days-to-civil conversion (proleptic Gregorian, UTC).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, SecondsFormat};

    #[test]
    fn writes_compact_json_with_commas_and_escapes() {
        let mut w = JsonWriter::default();
        w.begin_object();
        w.key("a").string("x\"y\\z\n\u{1}é");
        w.key("b").begin_array();
        w.uint(1).int(-2).null().raw("0.1");
        w.end_array();
        w.key("c").begin_object().end_object();
        w.key("d").uint_string(42);
        w.key("e").string_parts(&["p", "\"", "q"]);
        w.end_object();
        let text = String::from_utf8(w.into_bytes()).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["a"], "x\"y\\z\n\u{1}é");
        assert_eq!(parsed["b"], serde_json::json!([1, -2, null, 0.1]));
        assert_eq!(parsed["d"], "42");
        assert_eq!(parsed["e"], "p\"q");
        assert!(!text.contains(' '));
    }

    #[test]
    fn time_formatting_matches_chrono() {
        for ms in [
            0i64,
            1,
            -1,
            951_782_400_000,
            1_717_199_999_999,
            4_102_444_800_123,
            -62_135_596_800_000,
            253_402_300_799_999,
            253_402_300_800_000,
            -62_135_596_800_001,
        ] {
            let expected = DateTime::from_timestamp_millis(ms)
                .unwrap()
                .to_rfc3339_opts(SecondsFormat::Millis, true);
            assert_eq!(
                String::from_utf8(format_millis(ms)).unwrap(),
                expected,
                "{ms}"
            );
        }
        let mut rng = crate::rng::SplitMix::new(5);
        for _ in 0..10_000 {
            let ms = (rng.next_u64() % 400_000_000_000_000) as i64 - 200_000_000_000_000;
            let expected = DateTime::from_timestamp_millis(ms)
                .unwrap()
                .to_rfc3339_opts(SecondsFormat::Millis, true);
            assert_eq!(
                String::from_utf8(format_millis(ms)).unwrap(),
                expected,
                "{ms}"
            );
        }
    }
}

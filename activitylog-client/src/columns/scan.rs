//! An entry's columns read in one pass over its bytes, for the plain
//! entries the service nearly always sends.
//!
//! It gives up (`None`) on anything not plain, and the caller then reads
//! the entry with [`strict`](super::strict): a string with an escape, a
//! number with an exponent or over 20 characters, a known field twice,
//! nesting over 64 levels, any shape the generated types refuse. What it
//! does give is what `strict` gives for the same entry, never an entry
//! `strict` refuses: unit tests in the parent module compare both on every
//! wire variant of the sandbox and on odd values at every place.
//!
//! It checks what `strict` checks: the JSON's syntax everywhere (unknown
//! fields too), the types of the known fields (the generated `Activity`'s),
//! a string or an integer within `i64` where the spec has either.

use std::borrow::Cow;

use super::{BorrowedColumns, BorrowedResource, contract_of_text, parse_time};

/// Deepest nesting read; deeper entries go to `strict`.
const MAX_DEPTH: u32 = 64;

/// The columns of `json`, if it is plain (see the module docs).
pub(super) fn read(json: &str) -> Option<BorrowedColumns<'_>> {
    let mut scan = Scan {
        text: json,
        at: 0,
        depth: 0,
    };
    let mut columns = BorrowedColumns::default();
    scan.entry(&mut columns)?;
    scan.space();
    (scan.at == json.len()).then_some(columns)
}

/// A position in an entry's JSON.
struct Scan<'a> {
    text: &'a str,
    at: usize,
    depth: u32,
}

/// Marks a known field read; `None` if it was read before (the generated
/// types refuse a field twice).
fn once(seen: &mut u16, field: u16) -> Option<()> {
    let bit = 1 << field;
    (*seen & bit == 0).then(|| *seen |= bit)
}

impl<'a> Scan<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    /// Skips JSON whitespace.
    fn space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    /// Reads `byte`, after whitespace.
    fn expect(&mut self, byte: u8) -> Option<()> {
        self.space();
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// Reads `word` (`null`, `true`, `false`) if it comes next.
    fn word(&mut self, word: &str) -> bool {
        let rest = self.text.as_bytes().get(self.at..).unwrap_or_default();
        let found = rest.starts_with(word.as_bytes());
        if found {
            self.at += word.len();
        }
        found
    }

    /// Reads an object, handing each key to `member` to read its value.
    fn object(&mut self, mut member: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        self.space();
        self.nest(b'{', b'}', |scan| {
            let key = scan.string()?;
            scan.expect(b':')?;
            scan.space();
            member(scan, key)
        })
    }

    /// Reads an array, with `item` reading each element.
    fn array(&mut self, mut item: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.space();
        self.nest(b'[', b']', |scan| {
            scan.space();
            item(scan)
        })
    }

    /// Reads `open`, the elements (each by `element`, separated by commas), and `close`.
    fn nest(
        &mut self,
        open: u8,
        close: u8,
        mut element: impl FnMut(&mut Self) -> Option<()>,
    ) -> Option<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH || self.peek()? != open {
            return None;
        }
        self.at += 1;
        self.space();
        if self.peek()? == close {
            self.at += 1;
        } else {
            loop {
                self.space();
                element(self)?;
                self.space();
                let next = self.peek()?;
                self.at += 1;
                if next == close {
                    break;
                }
                if next != b',' {
                    return None;
                }
            }
        }
        self.depth -= 1;
        Some(())
    }

    /// Reads a string without escapes or control characters, and gives its text.
    fn string(&mut self) -> Option<&'a str> {
        self.space();
        if self.peek()? != b'"' {
            return None;
        }
        let start = self.at + 1;
        let end = start + special(self.text.as_bytes().get(start..)?)?;
        if self.text.as_bytes().get(end) != Some(&b'"') {
            return None;
        }
        self.at = end + 1;
        self.text.get(start..end)
    }

    /// Reads `null` (`Some(None)`) or a string.
    fn text(&mut self) -> Option<Option<Cow<'a, str>>> {
        if self.word("null") {
            return Some(None);
        }
        self.string().map(|text| Some(Cow::Borrowed(text)))
    }

    /// Reads a number as serde_json does, but for exponents and long ones
    /// (over 20 characters); gives its text and whether it is an integer.
    fn number(&mut self) -> Option<(&'a str, bool)> {
        let bytes = self.text.as_bytes();
        let start = self.at;
        let digits = |at: &mut usize| {
            let from = *at;
            while bytes.get(*at).is_some_and(u8::is_ascii_digit) {
                *at += 1;
            }
            *at > from
        };
        let mut at = start + usize::from(bytes.get(start) == Some(&b'-'));
        match bytes.get(at)? {
            b'0' => at += 1,
            b'1'..=b'9' => {
                digits(&mut at);
            }
            _ => return None,
        }
        let integer = bytes.get(at) != Some(&b'.');
        if !integer {
            at += 1;
            if !digits(&mut at) {
                return None;
            }
        }
        // What follows must end the value (an exponent, a second leading
        // zero do not): the caller checks it.
        if at - start > 20 {
            return None;
        }
        self.at = at;
        self.text.get(start..at).map(|text| (text, integer))
    }

    /// Reads an integer that serde_json gives as an `i64` or a `u64` within
    /// `i64` (not `-0`, which it gives as a float).
    fn integer(&mut self) -> Option<i64> {
        match self.number()? {
            (text, true) if !text.starts_with("-0") => text.parse().ok(),
            _ => None,
        }
    }

    /// Reads any JSON value.
    fn any(&mut self) -> Option<()> {
        match self.peek()? {
            b'{' => self.object(|scan, _| scan.any()),
            b'[' => self.array(Self::any),
            b'"' => self.string().map(drop),
            b'-' | b'0'..=b'9' => self.number().map(drop),
            _ => (self.word("null") || self.word("true") || self.word("false")).then_some(()),
        }
    }

    /// Reads `null` or a string into `field`.
    fn text_into(&mut self, field: &mut Option<Cow<'a, str>>) -> Option<()> {
        *field = self.text()?;
        Some(())
    }

    /// Reads `null`, or a string checked and dropped.
    fn skip_text(&mut self) -> Option<()> {
        self.text().map(drop)
    }

    /// Reads `null`, or an object with `member` (see [`Self::object`]).
    fn optional_object(
        &mut self,
        member: impl FnMut(&mut Self, &'a str) -> Option<()>,
    ) -> Option<()> {
        if self.word("null") {
            return Some(());
        }
        self.object(member)
    }

    /// Reads `null`, or an array with `item` (see [`Self::array`]).
    fn optional_array(&mut self, item: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        if self.word("null") {
            return Some(());
        }
        self.array(item)
    }

    /// `Activity`.
    fn entry(&mut self, columns: &mut BorrowedColumns<'a>) -> Option<()> {
        let mut seen = 0;
        self.object(|scan, key| match key {
            "@uuid" => {
                once(&mut seen, 0)?;
                scan.text_into(&mut columns.uuid)
            }
            "meta" => {
                once(&mut seen, 1)?;
                scan.meta(columns)
            }
            "principal" => {
                once(&mut seen, 2)?;
                scan.principal(columns)
            }
            "event" => {
                once(&mut seen, 3)?;
                scan.event(columns)
            }
            _ => scan.any(),
        })
    }

    /// `Meta`, or `null`.
    fn meta(&mut self, columns: &mut BorrowedColumns<'a>) -> Option<()> {
        let mut seen = 0;
        self.optional_object(|scan, key| match key {
            "auditVersion" => {
                once(&mut seen, 0)?;
                match scan.peek()? {
                    b'"' | b'n' => scan.skip_text(),
                    _ => scan.number().map(drop),
                }
            }
            "queueRefId" => {
                once(&mut seen, 1)?;
                match scan.peek()? {
                    b'"' | b'n' => scan.skip_text(),
                    _ => scan.integer().map(drop),
                }
            }
            "requestId" => {
                once(&mut seen, 2)?;
                scan.text_into(&mut columns.request_id)
            }
            "time" => {
                once(&mut seen, 3)?;
                columns.time = parse_time(scan.text()?.as_deref());
                Some(())
            }
            "transactionId" => {
                once(&mut seen, 4)?;
                scan.skip_text()
            }
            _ => scan.any(),
        })
    }

    /// `Principal`, or `null`.
    fn principal(&mut self, columns: &mut BorrowedColumns<'a>) -> Option<()> {
        let mut seen = 0;
        self.optional_object(|scan, key| match key {
            "identity" => {
                once(&mut seen, 0)?;
                let mut seen = 0;
                scan.optional_object(|scan, key| match key {
                    "contractNumber" => {
                        once(&mut seen, 0)?;
                        if !scan.word("null") {
                            columns.contract = match scan.peek()? {
                                b'"' => contract_of_text(scan.string()?),
                                _ => Some(scan.integer()?),
                            };
                        }
                        Some(())
                    }
                    "username" => {
                        once(&mut seen, 1)?;
                        scan.text_into(&mut columns.user)
                    }
                    _ => scan.any(),
                })
            }
            "serviceHost" => {
                once(&mut seen, 1)?;
                scan.skip_text()
            }
            "sourceIP" => {
                once(&mut seen, 2)?;
                scan.text_into(&mut columns.source_ip)
            }
            "sourceService" => {
                once(&mut seen, 3)?;
                scan.text_into(&mut columns.source_service)
            }
            _ => scan.any(),
        })
    }

    /// `Event`, or `null`.
    fn event(&mut self, columns: &mut BorrowedColumns<'a>) -> Option<()> {
        let mut seen = 0;
        self.optional_object(|scan, key| match key {
            "message" => {
                once(&mut seen, 0)?;
                scan.skip_text()
            }
            "param" => {
                once(&mut seen, 1)?;
                scan.param(columns)
            }
            "resources" => {
                once(&mut seen, 2)?;
                scan.optional_array(|scan| scan.resource(columns))
            }
            "status" => {
                once(&mut seen, 3)?;
                scan.text_into(&mut columns.status)
            }
            "type" => {
                once(&mut seen, 4)?;
                scan.text_into(&mut columns.kind)
            }
            _ => scan.any(),
        })
    }

    /// `EventParam`, or `null`.
    fn param(&mut self, columns: &mut BorrowedColumns<'a>) -> Option<()> {
        let mut seen = 0;
        self.optional_object(|scan, key| match key {
            "action" => {
                once(&mut seen, 0)?;
                scan.text_into(&mut columns.method)
            }
            "error" => {
                once(&mut seen, 1)?;
                scan.error()
            }
            "errorCode" | "initiator" | "sourceService" | "uri" => {
                let field = match key {
                    "errorCode" => 2,
                    "initiator" => 3,
                    "sourceService" => 4,
                    _ => 5,
                };
                once(&mut seen, field)?;
                scan.skip_text()
            }
            _ => scan.any(),
        })
    }

    /// `EventError`, or `null`.
    fn error(&mut self) -> Option<()> {
        let mut seen = 0;
        self.optional_object(|scan, key| match key {
            "httpStatus" => {
                once(&mut seen, 0)?;
                scan.skip_text()
            }
            "messages" => {
                once(&mut seen, 1)?;
                scan.optional_array(|scan| {
                    let mut seen = 0;
                    scan.object(|scan, key| match key {
                        "errorCode" => {
                            once(&mut seen, 0)?;
                            scan.skip_text()
                        }
                        "message" => {
                            once(&mut seen, 1)?;
                            scan.skip_text()
                        }
                        _ => scan.any(),
                    })
                })
            }
            _ => scan.any(),
        })
    }

    /// One `Resource` (an object: `null` is refused in the list), as one
    /// column element per action.
    fn resource(&mut self, columns: &mut BorrowedColumns<'a>) -> Option<()> {
        let mut seen = 0;
        let first = columns.resources.len();
        let mut resource = BorrowedResource::default();
        self.object(|scan, key| match key {
            "action" => {
                once(&mut seen, 0)?;
                scan.optional_array(|scan| {
                    let action = Some(Cow::Borrowed(scan.string()?));
                    columns.resources.push(BorrowedResource {
                        action,
                        ..BorrowedResource::default()
                    });
                    Some(())
                })
            }
            "id" => {
                once(&mut seen, 1)?;
                scan.text_into(&mut resource.id)
            }
            "type" => {
                once(&mut seen, 2)?;
                scan.text_into(&mut resource.kind)
            }
            _ => scan.any(),
        })?;
        match columns.resources.get_mut(first..) {
            Some(actions) if !actions.is_empty() => {
                for action in actions {
                    action.kind.clone_from(&resource.kind);
                    action.id.clone_from(&resource.id);
                }
            }
            _ => columns.resources.push(resource),
        }
        Some(())
    }
}

/// Where the first `"`, `\` or control character of `bytes` is, eight
/// bytes at a time; `None` without one.
fn special(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    // Bytes equal to zero, or below `n`, have their high bit set; a false
    // mark only ever follows a true one, so the lowest mark is true.
    let zero = |word: u64| word.wrapping_sub(ONES) & !word & HIGH;
    let below = |word: u64, n: u8| word.wrapping_sub(ONES * u64::from(n)) & !word & HIGH;
    let mut at = 0;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let word = u64::from_le_bytes(chunk.try_into().ok()?);
        let marks = zero(word ^ (ONES * u64::from(b'"')))
            | zero(word ^ (ONES * u64::from(b'\\')))
            | below(word, 0x20);
        if marks != 0 {
            return Some(at + (marks.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    let rest = bytes
        .get(at..)?
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
    Some(at + rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_end_of_a_string_is_found_at_every_offset() {
        for length in 0..40 {
            let text = "a".repeat(length);
            let json = format!(r#"{{"@uuid":"{text}","x":"{text}é"}}"#);
            let columns = read(&json).expect("plain");
            assert_eq!(columns.uuid.as_deref(), Some(text.as_str()));
        }
    }

    #[test]
    fn escapes_and_control_characters_are_left_to_strict() {
        for length in 0..20 {
            let pad = "b".repeat(length);
            for odd in ["\\n", "\u{1}", "\u{1f}", "\t"] {
                let json = format!(r#"{{"@uuid":"{pad}{odd}{pad}"}}"#);
                assert!(read(&json).is_none(), "{json:?}");
            }
        }
        // Strict refuses a control character as serde_json does, so the
        // entry is read leniently.
        assert!(super::super::strict::read("{\"@uuid\":\"a\u{1}\"}").is_err());
        // Characters above the control ones are plain.
        assert!(read(r#"{"@uuid":" !~"}"#).is_some());
    }

    #[test]
    fn numbers_follow_json() {
        for (number, plain) in [
            ("0", true),
            ("-0", true),
            ("12.50", true),
            ("-7", true),
            ("01", false),
            ("1.", false),
            ("-", false),
            (".5", false),
            ("1e5", false),
            ("+1", false),
            ("123456789012345678901", false),
        ] {
            let json = format!(r#"{{"x":{number}}}"#);
            assert_eq!(read(&json).is_some(), plain, "{json}");
        }
    }
}

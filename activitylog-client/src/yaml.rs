//! YAML for the config file: one document read with `saphyr-parser` into
//! nodes that know where they start, and handed to serde as a
//! [`Deserializer`](serde::Deserializer), so errors name a line and column.
//!
//! Scalars are text; a plain `true`/`false` (any of YAML 1.2's spellings) is
//! a boolean, and a plain `~`, `null` or nothing is null. Numbers stay text
//! as written (`version: 1.10` is `"1.10"`). Anchors and aliases work.
//! Errors never quote a value (a secret may be the value in the wrong place).

use std::collections::HashMap;
use std::fmt;

use saphyr_parser::{Event, Marker, Parser, ScalarStyle};
use serde::de::value::{MapDeserializer, SeqDeserializer};
use serde::de::{self, IntoDeserializer, Unexpected, Visitor};

/// The most nodes a document may expand to through aliases.
const MAX_NODES: usize = 100_000;

/// A YAML error: what went wrong and, when known, where.
#[derive(Debug)]
pub(crate) struct Error {
    message: String,
    at: Option<Marker>,
}

impl Error {
    /// The line (1-based) and column (1-based) the error is at.
    pub(crate) fn location(&self) -> Option<(usize, usize)> {
        self.at.map(|at| (at.line(), at.col() + 1))
    }

    fn new(message: impl Into<String>, at: Marker) -> Error {
        Error {
            message: message.into(),
            at: Some(at),
        }
    }

    /// The error, placed at `at` unless a node inside already placed it.
    fn or_at(mut self, at: Marker) -> Error {
        self.at.get_or_insert(at);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.location() {
            Some((line, column)) => write!(f, "line {line}, column {column}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(message: T) -> Error {
        Error {
            message: message.to_string(),
            at: None,
        }
    }

    /// Like serde's, but naming only the kind of value, never the value.
    fn invalid_type(unexpected: Unexpected<'_>, expected: &dyn de::Expected) -> Error {
        let kind = match unexpected {
            Unexpected::Str(_) | Unexpected::Char(_) => "a string".to_string(),
            Unexpected::Bool(_) => "a boolean".to_string(),
            Unexpected::Unsigned(_) | Unexpected::Signed(_) | Unexpected::Float(_) => {
                "a number".to_string()
            }
            Unexpected::Unit => "null".to_string(),
            Unexpected::Seq => "a sequence".to_string(),
            Unexpected::Map => "a mapping".to_string(),
            other => other.to_string(),
        };
        de::Error::custom(format_args!("invalid type: {kind}, expected {expected}"))
    }

    /// Like [`invalid_type`](Self::invalid_type): the value is not quoted.
    fn invalid_value(unexpected: Unexpected<'_>, expected: &dyn de::Expected) -> Error {
        Self::invalid_type(unexpected, expected)
    }
}

/// A parsed node and where it starts.
#[derive(Clone, Debug)]
pub(crate) struct Node {
    value: Value,
    at: Marker,
}

#[derive(Clone, Debug)]
enum Value {
    Null,
    Bool(bool),
    Text(String),
    Sequence(Vec<Node>),
    Mapping(Vec<(Node, Node)>),
}

/// Parses `text`: its one document, or a null node when it has none (empty,
/// or only comments).
pub(crate) fn parse(text: &str) -> Result<Node, Error> {
    let mut reader = Reader {
        parser: Parser::new_from_str(text),
        anchors: HashMap::new(),
        nodes: 0,
    };
    let mut document = None;
    loop {
        let (event, at) = reader.next()?;
        match event {
            Event::StreamEnd => break,
            Event::DocumentStart(_) if document.is_some() => {
                return Err(Error::new("more than one document", at));
            }
            Event::DocumentStart(_) => {
                let (event, at) = reader.next()?;
                document = Some(reader.node(event, at)?);
            }
            _ => {}
        }
    }
    Ok(document.unwrap_or(Node {
        value: Value::Null,
        at: Marker::new(0, 1, 0),
    }))
}

struct Reader<'a> {
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    anchors: HashMap<usize, Node>,
    nodes: usize,
}

impl<'a> Reader<'a> {
    fn next(&mut self) -> Result<(Event<'a>, Marker), Error> {
        match self.parser.next_event() {
            Some(Ok((event, span))) => Ok((event, span.start)),
            Some(Err(error)) => Err(Error::new(error.info(), *error.marker())),
            None => Ok((Event::StreamEnd, Marker::default())),
        }
    }

    /// The node that starts with `event`, read to its end.
    fn node(&mut self, event: Event<'a>, at: Marker) -> Result<Node, Error> {
        let (value, anchor) = match event {
            Event::Alias(id) => {
                let node = self
                    .anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| Error::new("unknown alias", at))?;
                self.count(node.size(), at)?;
                return Ok(node);
            }
            Event::Scalar(text, style, anchor, tag) => {
                let plain = style == ScalarStyle::Plain
                    && !tag.is_some_and(|t| t.is_yaml_core_schema() && t.suffix == "str");
                (scalar(text.into_owned(), plain), anchor)
            }
            Event::SequenceStart(anchor, _) => {
                let mut items = Vec::new();
                loop {
                    let (event, at) = self.next()?;
                    if matches!(event, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node(event, at)?);
                }
                (Value::Sequence(items), anchor)
            }
            Event::MappingStart(anchor, _) => {
                let mut entries = Vec::new();
                loop {
                    let (event, at) = self.next()?;
                    if matches!(event, Event::MappingEnd) {
                        break;
                    }
                    let key = self.node(event, at)?;
                    let (event, at) = self.next()?;
                    entries.push((key, self.node(event, at)?));
                }
                (Value::Mapping(entries), anchor)
            }
            _ => return Err(Error::new("unexpected end of the document", at)),
        };
        self.count(1, at)?;
        let node = Node { value, at };
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        Ok(node)
    }

    fn count(&mut self, nodes: usize, at: Marker) -> Result<(), Error> {
        self.nodes = self.nodes.saturating_add(nodes);
        if self.nodes > MAX_NODES {
            return Err(Error::new("too many nodes (aliases expand too far)", at));
        }
        Ok(())
    }
}

/// A scalar under YAML 1.2's core schema, numbers kept as text.
fn scalar(text: String, plain: bool) -> Value {
    if !plain {
        return Value::Text(text);
    }
    match text.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        "true" | "True" | "TRUE" => Value::Bool(true),
        "false" | "False" | "FALSE" => Value::Bool(false),
        _ => Value::Text(text),
    }
}

impl Node {
    /// How many nodes this one is, itself included.
    fn size(&self) -> usize {
        1 + match &self.value {
            Value::Sequence(items) => items.iter().map(Node::size).sum(),
            Value::Mapping(entries) => entries.iter().map(|(k, v)| k.size() + v.size()).sum(),
            _ => 0,
        }
    }
}

impl<'de> IntoDeserializer<'de, Error> for Node {
    type Deserializer = Node;

    fn into_deserializer(self) -> Node {
        self
    }
}

impl<'de> de::Deserializer<'de> for Node {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let at = self.at;
        let result = match self.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(value) => visitor.visit_bool(value),
            Value::Text(text) => visitor.visit_string(text),
            Value::Sequence(items) => {
                let mut items = SeqDeserializer::new(items.into_iter());
                visitor
                    .visit_seq(&mut items)
                    .and_then(|value| items.end().map(|()| value))
            }
            Value::Mapping(entries) => {
                let mut entries = MapDeserializer::new(entries.into_iter());
                visitor
                    .visit_map(&mut entries)
                    .and_then(|value| entries.end().map(|()| value))
            }
        };
        result.map_err(|error| error.or_at(at))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let at = self.at;
        match self.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
        .map_err(|error| error.or_at(at))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Doc {
        text: Option<String>,
        flag: Option<bool>,
        list: Option<Vec<String>>,
    }

    fn doc(text: &str) -> Result<Doc, Error> {
        Doc::deserialize(parse(text)?)
    }

    #[test]
    fn scalars_are_text_booleans_or_null_as_yaml_says() {
        let read = doc("text: 1.10\nflag: True\nlist: [a, 'true', ~]\n");
        // `~` in a list of strings is null, which a String does not take.
        assert!(read.is_err());
        let read = doc("text: \"007\"\nflag: false\nlist:\n  - a\n  - 'null'\n").unwrap();
        assert_eq!(read.text.as_deref(), Some("007"));
        assert_eq!(read.flag, Some(false));
        assert_eq!(read.list.unwrap(), ["a", "null"]);
        let read = doc("text: 1.10\nflag:\nlist: ~\n").unwrap();
        assert_eq!(read.text.as_deref(), Some("1.10"));
        assert_eq!((read.flag, read.list), (None, None));
    }

    #[test]
    fn aliases_repeat_their_anchor_and_cannot_explode() {
        let read = doc("list: &l [x, y]\ntext: &t hi\nflag: false\nmore: *l\n").unwrap();
        assert_eq!(read.text.as_deref(), Some("hi"));
        let bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n\
                    b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n\
                    c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n\
                    d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n\
                    e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n";
        let error = parse(bomb).unwrap_err();
        assert!(error.to_string().contains("too many nodes"), "{error}");
    }

    #[test]
    fn errors_are_placed_and_never_quote_the_value() {
        let error = doc("flag: false\ntext: [x]\n").unwrap_err();
        assert_eq!(error.location(), Some((2, 7)), "{error}");
        let error = doc("list: hunter2\n").unwrap_err();
        assert_eq!(error.location().map(|(line, _)| line), Some(1), "{error}");
        assert!(!error.to_string().contains("hunter2"), "{error}");
        assert!(error.to_string().contains("a string"), "{error}");
        let error = parse("a: [\n").unwrap_err();
        assert_eq!(error.location().map(|(line, _)| line), Some(2), "{error}");
        let error = parse("a: 1\n---\nb: 2\n").unwrap_err();
        assert!(error.to_string().contains("one document"), "{error}");
    }
}

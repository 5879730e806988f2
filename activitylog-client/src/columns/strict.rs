//! An entry read as the SDK's generated `Activity` reads it, keeping only
//! what [`BorrowedColumns`] needs, borrowed from the JSON.
//!
//! It accepts exactly what the full decode accepts, or less (then the
//! caller decodes fully), never more: the same fields with the same types,
//! objects only (the generated structs flatten their unknown fields into a
//! map, so serde reads them from objects alone, never from arrays), a known
//! field twice refused, unknown fields read as any JSON (so a number out of
//! range or a lone surrogate in one fails as it does in the full decode).
//! Where the generated type is an untagged enum, only the plain shapes are
//! accepted: `status` and `param.action` as strings (the full decode also
//! takes `{"DONE":null}`), numbers and strings where the spec has either.
//! Unit tests in the parent module compare both readings on every wire
//! variant of the sandbox and on odd shapes.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};

use super::{BorrowedColumns, BorrowedResource, contract_of_text, parse_time};

/// The columns of `json`, if it reads as the full decode reads it.
pub(super) fn read(json: &str) -> serde_json::Result<BorrowedColumns<'_>> {
    let entry: Entry<'_> = serde_json::from_str(json)?;
    let (time, request_id) = entry.meta.map_or((None, None), |m| (m.time, m.request_id));
    let (source_ip, source_service, identity) = entry.principal.map_or((None, None, None), |p| {
        (p.source_ip, p.source_service, p.identity)
    });
    let (contract, user) = identity.map_or((None, None), |i| (i.contract_number, i.username));
    let mut columns = BorrowedColumns {
        uuid: entry.uuid,
        time: parse_time(time.as_deref()),
        request_id,
        contract: contract.and_then(|c| match c {
            Contract::Number(number) => Some(number),
            Contract::Text(text) => contract_of_text(&text),
        }),
        user,
        source_ip,
        source_service,
        ..BorrowedColumns::default()
    };
    if let Some(details) = entry.event {
        columns.kind = details.kind;
        columns.status = details.status;
        columns.method = details.param.and_then(|p| p.action);
        for resource in details.resources.unwrap_or_default() {
            let before = columns.resources.len();
            for action in resource.action.unwrap_or_default() {
                columns.resources.push(BorrowedResource {
                    kind: resource.kind.clone(),
                    id: resource.id.clone(),
                    action: Some(action),
                });
            }
            if columns.resources.len() == before {
                columns.resources.push(BorrowedResource {
                    kind: resource.kind,
                    id: resource.id,
                    action: None,
                });
            }
        }
    }
    Ok(columns)
}

/// `Activity`.
#[derive(Deserialize)]
struct Entry<'a> {
    #[serde(rename = "@uuid", borrow)]
    uuid: Option<Cow<'a, str>>,
    #[serde(borrow)]
    meta: Option<Meta<'a>>,
    #[serde(borrow)]
    principal: Option<Principal<'a>>,
    #[serde(borrow)]
    event: Option<Event<'a>>,
    #[serde(flatten)]
    _rest: Rest,
}

/// `Meta`.
#[derive(Deserialize)]
struct Meta<'a> {
    #[serde(rename = "auditVersion")]
    _audit_version: Option<TextOrNumber>,
    #[serde(rename = "queueRefId")]
    _queue_ref_id: Option<TextOrInteger>,
    #[serde(rename = "requestId", borrow)]
    request_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    time: Option<Cow<'a, str>>,
    #[serde(rename = "transactionId")]
    _transaction_id: Option<Text>,
    #[serde(flatten)]
    _rest: Rest,
}

/// `Principal`.
#[derive(Deserialize)]
struct Principal<'a> {
    #[serde(borrow)]
    identity: Option<Identity<'a>>,
    #[serde(rename = "serviceHost")]
    _service_host: Option<Text>,
    #[serde(rename = "sourceIP", borrow)]
    source_ip: Option<Cow<'a, str>>,
    #[serde(rename = "sourceService", borrow)]
    source_service: Option<Cow<'a, str>>,
    #[serde(flatten)]
    _rest: Rest,
}

/// `Identity`.
#[derive(Deserialize)]
struct Identity<'a> {
    #[serde(rename = "contractNumber", borrow)]
    contract_number: Option<Contract<'a>>,
    #[serde(borrow)]
    username: Option<Cow<'a, str>>,
    #[serde(flatten)]
    _rest: Rest,
}

/// `Event`.
#[derive(Deserialize)]
struct Event<'a> {
    #[serde(rename = "message")]
    _message: Option<Text>,
    #[serde(borrow)]
    param: Option<Param<'a>>,
    #[serde(borrow)]
    resources: Option<Vec<Resource<'a>>>,
    /// `EventStatus`, as a string.
    #[serde(borrow)]
    status: Option<Cow<'a, str>>,
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(flatten)]
    _rest: Rest,
}

/// `EventParam`.
#[derive(Deserialize)]
struct Param<'a> {
    /// `HttpMethod`, as a string.
    #[serde(borrow)]
    action: Option<Cow<'a, str>>,
    #[serde(rename = "error")]
    _error: Option<EventError>,
    #[serde(rename = "errorCode")]
    _error_code: Option<Text>,
    #[serde(rename = "initiator")]
    _initiator: Option<Text>,
    #[serde(rename = "sourceService")]
    _source_service: Option<Text>,
    #[serde(rename = "uri")]
    _uri: Option<Text>,
    #[serde(flatten)]
    _rest: Rest,
}

/// `EventError`.
#[derive(Deserialize)]
struct EventError {
    #[serde(rename = "httpStatus")]
    _http_status: Option<Text>,
    #[serde(rename = "messages")]
    _messages: Option<Vec<ErrorMessage>>,
    #[serde(flatten)]
    _rest: Rest,
}

/// `ErrorMessage`.
#[derive(Deserialize)]
struct ErrorMessage {
    #[serde(rename = "errorCode")]
    _error_code: Option<Text>,
    #[serde(rename = "message")]
    _message: Option<Text>,
    #[serde(flatten)]
    _rest: Rest,
}

/// `Resource`.
#[derive(Deserialize)]
struct Resource<'a> {
    #[serde(borrow)]
    action: Option<Vec<Cow<'a, str>>>,
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(flatten)]
    _rest: Rest,
}

/// The unknown fields of an object (the generated `extra` map): serde has
/// already read each as any JSON when it gathered them for the flatten.
struct Rest;

impl<'de> Deserialize<'de> for Rest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> Visitor<'de> for Entries {
            type Value = Rest;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("the other fields")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Rest, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Rest)
            }
        }
        deserializer.deserialize_map(Entries)
    }
}

/// A string, checked and dropped (a `String` of the generated type).
struct Text;

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(Accept {
            expecting: "a string",
            strings: true,
            numbers: Numbers::None,
        })
    }
}

/// `AuditVersion`: a string or any number.
struct TextOrNumber;

impl<'de> Deserialize<'de> for TextOrNumber {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(Accept {
            expecting: "a string or a number",
            strings: true,
            numbers: Numbers::Any,
        })?;
        Ok(TextOrNumber)
    }
}

/// `QueueRefId`: a string or an `i64`.
struct TextOrInteger;

impl<'de> Deserialize<'de> for TextOrInteger {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(Accept {
            expecting: "a string or an integer",
            strings: true,
            numbers: Numbers::I64,
        })?;
        Ok(TextOrInteger)
    }
}

/// Which numbers an [`Accept`] takes.
#[derive(Clone, Copy, PartialEq)]
enum Numbers {
    None,
    /// Integers that fit an `i64`.
    I64,
    /// Any, as an `f64` takes them.
    Any,
}

/// Takes a value of the shapes it is told, and nothing else.
struct Accept {
    expecting: &'static str,
    strings: bool,
    numbers: Numbers,
}

impl Accept {
    fn string<E: de::Error>(&self, text: &str) -> Result<Text, E> {
        if self.strings {
            Ok(Text)
        } else {
            Err(E::invalid_type(de::Unexpected::Str(text), self))
        }
    }

    fn integer<E: de::Error>(&self, fits: bool, shown: de::Unexpected<'_>) -> Result<Text, E> {
        match self.numbers {
            Numbers::Any => Ok(Text),
            Numbers::I64 if fits => Ok(Text),
            _ => Err(E::invalid_type(shown, self)),
        }
    }
}

impl<'de> Visitor<'de> for Accept {
    type Value = Text;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Text, E> {
        self.string(text)
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Text, E> {
        self.integer(true, de::Unexpected::Signed(n))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Text, E> {
        self.integer(i64::try_from(n).is_ok(), de::Unexpected::Unsigned(n))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Text, E> {
        if self.numbers == Numbers::Any {
            Ok(Text)
        } else {
            Err(E::invalid_type(de::Unexpected::Float(n), &self))
        }
    }
}

/// `ContractNumber`: a string, or an `i64`.
enum Contract<'a> {
    Text(Cow<'a, str>),
    Number(i64),
}

impl<'de: 'a, 'a> Deserialize<'de> for Contract<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Either<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for Either<'a> {
            type Value = Contract<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a contract number")
            }
            fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
                Ok(Contract::Text(Cow::Borrowed(text)))
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
                Ok(Contract::Text(Cow::Owned(text.to_owned())))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Self::Value, E> {
                Ok(Contract::Number(n))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Self::Value, E> {
                i64::try_from(n)
                    .map(Contract::Number)
                    .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(n), &self))
            }
        }
        deserializer.deserialize_any(Either(std::marker::PhantomData))
    }
}

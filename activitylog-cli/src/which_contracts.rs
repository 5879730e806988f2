//! Which contracts a command reads: the numbers given, every readable one
//! (`--all-contracts`), or, when none is given, `IONOS_CONTRACT_NUMBER`,
//! else the one contract the credentials can read.
//!
//! A CONTRACT argument beats `IONOS_CONTRACT_NUMBER`. Several contracts (and
//! `--all-contracts`) are checked against `GET /contracts` first, so that a
//! contract the credentials cannot read fails the run before anything is
//! written. One contract given is not checked: its first request says.

use activitylog_client::{ActivityLog, ENV_CONTRACT_NUMBER, Error};

use crate::args::ContractArgs;
use crate::connect::Connection;
use crate::error::Failure;
use crate::stored::Stored;
use crate::text::list;

/// The contracts `args` ask for, in the order they are read: as given, or
/// for `--all-contracts` every readable one in ascending order. When none is
/// given and no `IONOS_CONTRACT_NUMBER` is set, the only contract the
/// credentials can read is used and named on stderr; several readable ones
/// are a usage error that lists them.
pub async fn readable_by(
    args: &ContractArgs,
    connection: &Connection,
) -> Result<Vec<u64>, Failure> {
    let log = &connection.log;
    once_each(args)?;
    match (args.numbers.as_slice(), args.all_contracts) {
        ([one], _) => Ok(vec![*one]),
        ([], true) => {
            let mut all = readable(log).await?;
            all.sort_unstable();
            Ok(all)
        }
        ([], false) => {
            if let Some(number) = connection.contract {
                tracing::info!(contract = number, "from {ENV_CONTRACT_NUMBER}");
                return Ok(vec![number]);
            }
            match readable(log).await?.as_slice() {
                [one] => {
                    eprintln!("reading contract {one}, the only one these credentials can read");
                    Ok(vec![*one])
                }
                several => Err(Failure::usage(format!(
                    "no contract given, and these credentials can read {}: {}; name one or \
                     several as CONTRACT arguments, add --all-contracts for all of them, or set \
                     {ENV_CONTRACT_NUMBER}",
                    several.len(),
                    list(several)
                ))),
            }
        }
        (several, _) => {
            let readable = readable(log).await?;
            let unreadable: Vec<u64> = several
                .iter()
                .copied()
                .filter(|n| !readable.contains(n))
                .collect();
            match unreadable.split_first() {
                None => Ok(several.to_vec()),
                Some((first, rest)) => {
                    let mut message = Error::Forbidden {
                        contract: Some(*first),
                    }
                    .to_string();
                    if !rest.is_empty() {
                        message.push_str(&format!("; nor can they read {}", list(rest)));
                    }
                    Err(Failure::other(message))
                }
            }
        }
    }
}

/// The contracts `args` ask for from an archive (`--db`), chosen as
/// [`readable_by`] chooses from the API, with the archive's contracts in place
/// of the readable ones: a contract the archive does not hold fails naming
/// the `sync` that would fill it in.
pub async fn in_archive(args: &ContractArgs, archive: &Stored) -> Result<Vec<u64>, Failure> {
    once_each(args)?;
    let held = archive.contracts().await?;
    let (kind, location) = (archive.kind(), archive.location());
    let numbers = match (args.numbers.as_slice(), args.all_contracts) {
        ([], true) => held.clone(),
        ([], false) => match from_environment()? {
            Some(number) => vec![number],
            None => match held.as_slice() {
                [one] => {
                    eprintln!("reading contract {one}, the only one in the {kind} {location}");
                    vec![*one]
                }
                several => {
                    return Err(Failure::usage(format!(
                        "no contract given, and the {kind} {location} holds {}: {}; name one or \
                         several as CONTRACT arguments, or add --all-contracts",
                        several.len(),
                        list(several)
                    )));
                }
            },
        },
        (given, _) => given.to_vec(),
    };
    match numbers.iter().find(|n| !held.contains(n)) {
        None if numbers.is_empty() => Err(Failure::other(format!(
            "the {kind} {location} holds no contract yet: `activitylog sync CONTRACT --db \
             {location}` fills it in"
        ))),
        None => Ok(numbers),
        Some(missing) => Err(Failure::other(format!(
            "the {kind} {location} holds nothing of contract {missing}: `activitylog sync \
             {missing} --db {location}` fills it in"
        ))),
    }
}

/// A contract named twice is a usage error.
fn once_each(args: &ContractArgs) -> Result<(), Failure> {
    match args
        .numbers
        .iter()
        .enumerate()
        .find_map(|(i, n)| args.numbers[..i].contains(n).then_some(*n))
    {
        Some(twice) => Err(Failure::usage(format!(
            "contract {twice} is given twice: name each contract once"
        ))),
        None => Ok(()),
    }
}

/// The contract `IONOS_CONTRACT_NUMBER` names, if set (offline: without
/// the SDK's settings).
fn from_environment() -> Result<Option<u64>, Failure> {
    match std::env::var(ENV_CONTRACT_NUMBER) {
        Ok(value) if !value.trim().is_empty() => crate::args::parse_contract(&value)
            .map(Some)
            .map_err(|e| Failure::usage(format!("{ENV_CONTRACT_NUMBER}: {e}"))),
        _ => Ok(None),
    }
}

/// The contracts the credentials can read, as `GET /contracts` lists them;
/// an error when there are none.
async fn readable(log: &ActivityLog) -> Result<Vec<u64>, Failure> {
    let numbers: Vec<u64> = log
        .contracts()
        .await?
        .iter()
        .filter_map(|c| c.id.and_then(|id| u64::try_from(id).ok()))
        .filter(|&id| id > 0)
        .collect();
    if numbers.is_empty() {
        return Err(Failure::other(
            "these credentials can read no contract (`activitylog contracts` lists none): \
             the user needs the \"access activity log\" privilege",
        ));
    }
    Ok(numbers)
}

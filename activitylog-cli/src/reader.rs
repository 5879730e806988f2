//! Where `entries` and `summary` read from: the API (connected as
//! configured) or an archive (`--db`, offline), and which contracts.

use activitylog_archive::Archive;

use crate::args::{ContractArgs, Global};
use crate::connect::{self, Connection};
use crate::contracts;
use crate::entries::Source;
use crate::error::Failure;

/// What a reading command holds open while it runs (one per run: its size
/// does not matter).
#[allow(clippy::large_enum_variant)]
pub enum Reader {
    /// The API, with what connecting made (a `--sandbox` included).
    Api(Connection),
    /// An archive written by `activitylog sync`.
    Archive(Archive),
}

impl Reader {
    /// Opens the archive `db` names, else connects to the API; then picks
    /// the contracts `asked` names from those it holds or can read.
    pub async fn open(
        global: &Global,
        db: Option<&str>,
        asked: &ContractArgs,
    ) -> Result<(Reader, Vec<u64>), Failure> {
        match db {
            Some(url) => {
                let archive = crate::sync::open(url).await?;
                let chosen = contracts::resolve_archived(asked, &archive).await?;
                Ok((Reader::Archive(archive), chosen))
            }
            None => {
                let connection = connect::connect(global).await?;
                let chosen = contracts::resolve(asked, &connection).await?;
                Ok((Reader::Api(connection), chosen))
            }
        }
    }

    /// The source of entries this reader gives.
    pub fn source(&self) -> Source<'_> {
        match self {
            Reader::Api(connection) => Source::Api(&connection.log),
            Reader::Archive(archive) => Source::Archive(archive),
        }
    }
}

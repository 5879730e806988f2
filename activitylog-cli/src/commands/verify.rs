//! `activitylog verify`: checks a lake against its manifest chain with
//! [`activitylog_lake::Lake::verify`].

use activitylog_lake::Lake;

use crate::args::VerifyArgs;
use crate::error::Failure;
use crate::signals::Signals;
use crate::stored::{is_lake, lake_failure};

/// Runs `verify`: exit 0 saying what was checked, or exit 1 naming every
/// object changed, missing or not in the chain, and every broken link.
pub async fn run(args: &VerifyArgs, signals: &Signals) -> Result<(), Failure> {
    let url = args.archive.db.as_deref().unwrap_or_default();
    if !is_lake(url) {
        return Err(Failure::usage(format!(
            "{url} is not a lake: verify checks file:///DIR or s3://BUCKET/PREFIX"
        )));
    }
    let lake = Lake::open(url, &args.archive.s3.options()).map_err(lake_failure)?;
    let verified = signals
        .or_stop(async { lake.verify().await.map_err(lake_failure) })
        .await?;
    let checked = format!(
        "{} commits, {} records, {} objects ({} entries, {} bytes hashed); chain head {}",
        verified.commits,
        verified.records,
        verified.objects,
        verified.entries,
        verified.bytes,
        verified.head
    );
    let checked = match verified.leftovers {
        0 => checked,
        n => format!(
            "{checked}; {n} staged object{} of commits that never happened (readers do not see \
             them; the next sync removes them)",
            if n == 1 { "" } else { "s" }
        ),
    };
    if verified.is_intact() {
        println!("{url}: intact: {checked}");
        return Ok(());
    }
    for problem in &verified.problems {
        println!("{problem}");
    }
    Err(Failure::other(format!(
        "{url}: {} problem{} (listed on stdout); checked {checked}",
        verified.problems.len(),
        if verified.problems.len() == 1 {
            ""
        } else {
            "s"
        }
    )))
}

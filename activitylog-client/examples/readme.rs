//! The README's "SDK in five lines", compiled with every `cargo test` (the
//! test `the_readme_sdk_example_is_this_example` in `tests/tests/sdk.rs`
//! keeps the README's text and this file the same).

#[rustfmt::skip] // the README's lines, as they are there
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // README begin
    let log = activitylog_client::ActivityLog::from_env()?;
    let mut events = log.entries(31721060).since(chrono::Utc::now() - chrono::TimeDelta::days(7)).stream();
    while let Some(event) = futures::TryStreamExt::try_next(&mut events).await? {
        println!("{:?}", event.meta.and_then(|m| m.time));
    }
    // README end
    Ok(())
}

//! `activitylog`: the command-line tool for the IONOS Cloud Activity Log API.

fn main() -> std::process::ExitCode {
    activitylog_cli::main()
}

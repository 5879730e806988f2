//! The `activitylog` command, built inside the test crate so that its
//! end-to-end tests always run the program of the current source.

fn main() -> std::process::ExitCode {
    activitylog_cli::main()
}

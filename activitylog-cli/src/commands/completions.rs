//! `activitylog completions SHELL`: a shell's completion script.

use std::io::Write;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::args::Cli;
use crate::error::{Failure, stdout_failure};

/// `activitylog completions SHELL`: the completion script on stdout.
pub fn run(shell: Shell) -> Result<(), Failure> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "activitylog", &mut out);
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(&out)
        .and_then(|()| stdout.flush())
        .map_err(stdout_failure)
}

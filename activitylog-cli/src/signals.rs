//! Ctrl-C (SIGINT) and SIGTERM, caught from the start of a command: the
//! command stops at its next await, cleans up (or, with `--resume`, keeps
//! what it can continue from), says so in one line and exits 130 or 143.
//! Output is written on its own thread ([`crate::export`]'s writer), so a stdout
//! nobody reads cannot keep a command from its next await.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::watch;

use crate::error::Failure;

/// A signal that asks the command to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caught {
    /// SIGINT: Ctrl-C.
    Interrupt,
    /// SIGTERM: `kill`, service managers, container stops.
    Terminate,
}

impl Caught {
    /// The exit code: 128 + the signal number, as shells report it.
    pub fn exit_code(self) -> u8 {
        match self {
            Caught::Interrupt => 130,
            Caught::Terminate => 143,
        }
    }

    /// `SIGINT` or `SIGTERM`.
    pub fn name(self) -> &'static str {
        match self {
            Caught::Interrupt => "SIGINT",
            Caught::Terminate => "SIGTERM",
        }
    }

    /// The failure a command stopped by this signal ends with.
    pub fn failure(self, detail: &str) -> Failure {
        let head = format!("interrupted by {}", self.name());
        let message = if detail.is_empty() {
            head
        } else {
            format!("{head}: {detail}")
        };
        Failure::with_code(message, self.exit_code())
    }
}

/// The signals caught so far (the first one counts); clones watch the same signals.
#[derive(Clone, Debug)]
pub struct Signals {
    caught: watch::Receiver<Option<Caught>>,
    /// Held by [`Signals::none`], so that the channel stays open and silent.
    _silent: Option<Arc<watch::Sender<Option<Caught>>>>,
}

impl Signals {
    /// Installs the handlers: from now on SIGINT and SIGTERM no longer end
    /// the process, [`Signals::caught`] reports them. Needs the runtime.
    pub fn install() -> Result<Self, Failure> {
        let (sender, caught) = watch::channel(None);
        let failed =
            |e: std::io::Error| Failure::other(format!("could not install signal handlers: {e}"));
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let mut interrupt = signal(SignalKind::interrupt()).map_err(failed)?;
            let mut terminate = signal(SignalKind::terminate()).map_err(failed)?;
            tokio::spawn(async move {
                let first = tokio::select! {
                    _ = interrupt.recv() => Caught::Interrupt,
                    _ = terminate.recv() => Caught::Terminate,
                };
                let _ = sender.send(Some(first));
                // Keep the handlers (and so the receivers) alive: a second
                // signal must not kill the process in the middle of cleaning up.
                std::future::pending::<()>().await;
                drop((interrupt, terminate));
            });
        }
        #[cfg(windows)]
        {
            let mut interrupt = tokio::signal::windows::ctrl_c().map_err(failed)?;
            tokio::spawn(async move {
                interrupt.recv().await;
                let _ = sender.send(Some(Caught::Interrupt));
                std::future::pending::<()>().await;
            });
        }
        Ok(Signals {
            caught,
            _silent: None,
        })
    }

    /// Signals that never come, for commands that keep the default handling
    /// (`sandbox`, `completions`).
    pub fn none() -> Self {
        let (sender, caught) = watch::channel(None);
        Signals {
            caught,
            _silent: Some(Arc::new(sender)),
        }
    }

    /// Waits for the first signal (at once if one came already).
    pub async fn caught(&self) -> Caught {
        let mut caught = self.caught.clone();
        match caught.wait_for(Option::is_some).await {
            Ok(first) => first.unwrap_or(Caught::Interrupt),
            Err(_) => std::future::pending().await,
        }
    }

    /// Runs `work` unless a signal comes first; then `work` is dropped and
    /// the signal's failure returned.
    pub async fn or_stop<T>(
        &self,
        work: impl Future<Output = Result<T, Failure>>,
    ) -> Result<T, Failure> {
        tokio::select! {
            biased;
            caught = self.caught() => Err(caught.failure("")),
            result = work => result,
        }
    }
}

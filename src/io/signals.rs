//! Signals as readiness: TERM/INT ask for a clean shutdown, HUP for a reload. The
//! handlers only write to a pipe (signal-hook does that); the loop reads the pipe like any
//! other source, so no daemon code runs at a random point.

use mio::{Interest, Registry, Token};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals as HookSignals;

/// What a signal asks the daemon to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignalAction {
    /// SIGTERM or SIGINT.
    Shutdown,
    /// SIGHUP.
    Reload,
}

/// The daemon's signal source, registered in its event loop.
pub struct Signals {
    inner: HookSignals,
}

impl Signals {
    /// Installs handlers for TERM, INT and HUP and registers them under `token`.
    pub fn register(registry: &Registry, token: Token) -> std::io::Result<Signals> {
        let mut inner = HookSignals::new([SIGTERM, SIGINT, SIGHUP])?;
        registry.register(&mut inner, token, Interest::READABLE)?;
        Ok(Signals { inner })
    }

    /// The signals that arrived since the last call.
    pub fn pending(&mut self) -> Vec<SignalAction> {
        self.inner
            .pending()
            .map(|s| {
                if s == SIGHUP {
                    SignalAction::Reload
                } else {
                    SignalAction::Shutdown
                }
            })
            .collect()
    }
}

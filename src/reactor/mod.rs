//! The reactor (salt-spec §4): which rules an event's tag matches, rendering their SLS files,
//! and compiling the result into reactions. Everything here is pure: the caller reads the
//! files, and dispatches the reactions.

pub mod rules;

pub use rules::RuleSet;

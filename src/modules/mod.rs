//! Execution modules: the functions a minion runs for `brine-call` (and, later, for jobs
//! published by the master), with Salt's names, signatures and return values.

use crate::master::Now;
use crate::minion::Minion;
use crate::runners::Outcome;
use crate::signature::{self, Param};
use serde_json::{Map, Value};

mod event;

/// An execution function's entry in the table.
pub struct Function {
    /// `module.function`.
    pub name: &'static str,
    /// Its named parameters.
    pub params: &'static [Param],
    /// Whether it takes `**kwargs` (extra keywords are passed on, not refused).
    pub kwargs: bool,
    /// One line for `sys.doc` and the man page.
    pub doc: &'static str,
    /// The code: bound parameters and extra keywords in, outcome out.
    pub run: fn(&mut Call<'_>, &[Value], &Map<String, Value>) -> Outcome,
}

/// What a function runs against.
pub struct Call<'a> {
    /// The minion.
    pub minion: &'a mut Minion,
    /// The time of the call.
    pub now: Now,
}

/// Every execution function brine has.
pub const FUNCTIONS: &[Function] = &[event::FIRE, event::FIRE_MASTER, event::SEND];

/// Looks a function up by `module.function`.
pub fn find(name: &str) -> Option<&'static Function> {
    FUNCTIONS.iter().find(|f| f.name == name)
}

/// Runs `fun` on `minion` with CLI-style arguments; an unknown function gives Salt's
/// `'<fun>' is not available.` and a failed outcome.
pub fn call(
    minion: &mut Minion,
    now: Now,
    fun: &str,
    args: &[Value],
    kwargs: &Map<String, Value>,
) -> Outcome {
    let Some(f) = find(fun) else {
        return Outcome {
            ret: Value::String(crate::runners::not_available(fun)),
            success: false,
        };
    };
    let short = f.name.rsplit('.').next().unwrap_or(f.name);
    // Salt drops the `__pub_*` keywords it adds to published calls before binding.
    let kwargs: Map<String, Value> = kwargs
        .iter()
        .filter(|(k, _)| !k.starts_with("__"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    match signature::bind(short, f.params, f.kwargs.then_some("kwargs"), args, &kwargs) {
        Ok((bound, extra)) => (f.run)(&mut Call { minion, now }, &bound, &extra),
        Err(e) => Outcome {
            ret: Value::String(format!("Passed invalid arguments: {e}.")),
            success: false,
        },
    }
}

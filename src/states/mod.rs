//! The state system: SLS files rendered (Jinja, then YAML), compiled into low chunks,
//! ordered and run with their requisites, as Salt 3007's `salt/state.py` does. A state run
//! happens in a child process of the minion (or of brine-call), so everything here may
//! block.

use serde_json::{Map, Value};

pub mod apply;
pub mod command;
pub mod compile;
pub mod high;
pub mod modules;
pub mod render;
pub mod run;

/// Renders a Jinja template text with extra variables.
pub type Render<'r> = dyn FnMut(&str, &Map<String, Value>) -> Result<String, String> + 'r;

/// What a state function runs against.
pub struct Ctx<'a> {
    /// `test=True`: report what would change, change nothing.
    pub test: bool,
    /// The minion id.
    pub id: &'a str,
    /// The saltenv of the run.
    pub saltenv: &'a str,
    /// The minion's grains.
    pub grains: &'a Map<String, Value>,
    /// The pillar of the run (overrides merged in).
    pub pillar: &'a Map<String, Value>,
    /// The minion's configuration as Salt's `opts`.
    pub opts: &'a Map<String, Value>,
    /// `salt://` files.
    pub files: &'a mut dyn crate::fileserver::Source,
    /// Renders a Jinja template with the run's context (`salt`, `grains`, `pillar`, `opts`)
    /// plus these extra variables (file.managed's `template: jinja`).
    pub render: &'a mut Render<'a>,
}

/// A state function: the chunk's arguments (`name` included) in, Salt's return map
/// (`name`, `changes`, `result`, `comment`, optionally `warnings`) out.
pub type StateFn = fn(&mut Ctx<'_>, &Map<String, Value>) -> Value;

/// A state return map.
pub fn ret(
    name: &str,
    result: Option<bool>,
    comment: impl Into<String>,
    changes: Map<String, Value>,
) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), Value::String(name.to_string()));
    m.insert("changes".into(), Value::Object(changes));
    m.insert(
        "result".into(),
        match result {
            Some(b) => Value::Bool(b),
            None => Value::Null,
        },
    );
    m.insert("comment".into(), Value::String(comment.into()));
    Value::Object(m)
}

#[cfg(test)]
mod tests;

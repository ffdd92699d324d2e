//! Python-style function signatures: binding positional and keyword arguments to named
//! parameters with defaults, with Python's and Salt's error messages. Runners, execution
//! modules and (later) the reactor all call functions this way.

use serde_json::{Map, Value};

/// A parameter default in a function's signature.
#[derive(Clone, Copy, Debug)]
pub enum Default {
    /// The argument must be given.
    Required,
    /// Python `None`.
    Null,
    /// A boolean default.
    Bool(bool),
    /// An integer default.
    Int(i64),
    /// A string default.
    Str(&'static str),
}

impl Default {
    /// The default value, `None` when required.
    pub fn value(self) -> Option<Value> {
        match self {
            Default::Required => None,
            Default::Null => Some(Value::Null),
            Default::Bool(b) => Some(Value::Bool(b)),
            Default::Int(i) => Some(Value::from(i)),
            Default::Str(s) => Some(Value::from(s)),
        }
    }
}

/// One parameter of a function.
#[derive(Clone, Copy, Debug)]
pub struct Param {
    /// Its Python name, also the `key=` that binds it.
    pub name: &'static str,
    /// Its default.
    pub default: Default,
}

/// Binds `args` and `kwargs` to `params` as Python would. `rest` names a `**kwargs`
/// catch-all: keywords that match no parameter go there instead of being refused with
/// Salt's message. Returns the bound values in parameter order and the extra keywords.
pub fn bind(
    short: &str,
    params: &[Param],
    rest: Option<&str>,
    args: &[Value],
    kwargs: &Map<String, Value>,
) -> Result<(Vec<Value>, Map<String, Value>), String> {
    if args.len() > params.len() {
        let required = params
            .iter()
            .filter(|p| matches!(p.default, Default::Required))
            .count();
        let takes = if required == params.len() {
            format!("{}", params.len())
        } else {
            format!("from {required} to {}", params.len())
        };
        return Err(format!(
            "{short}() takes {takes} positional argument{} but {} {} given",
            if params.len() == 1 { "" } else { "s" },
            args.len(),
            if args.len() == 1 { "was" } else { "were" }
        ));
    }
    let mut extra = Map::new();
    let mut invalid = Vec::new();
    for (k, v) in kwargs {
        if !params.iter().any(|p| p.name == k.as_str()) {
            if rest.is_some() {
                extra.insert(k.clone(), v.clone());
            } else {
                invalid.push(format!("{k}={}", crate::py::python_repr(v)));
            }
        }
    }
    if !invalid.is_empty() {
        return Err(format!(
            "The following keyword arguments are not valid: {}",
            invalid.join(", ")
        ));
    }
    let mut bound = Vec::with_capacity(params.len());
    let mut missing = Vec::new();
    for (i, p) in params.iter().enumerate() {
        match (args.get(i), kwargs.get(p.name)) {
            (Some(_), Some(_)) => {
                return Err(format!(
                    "{short}() got multiple values for argument '{}'",
                    p.name
                ))
            }
            (Some(v), None) | (None, Some(v)) => bound.push(v.clone()),
            (None, None) => match p.default.value() {
                Some(v) => bound.push(v),
                None => missing.push(format!("'{}'", p.name)),
            },
        }
    }
    if !missing.is_empty() {
        let list = match missing.len() {
            1 => missing[0].clone(),
            n => format!("{} and {}", missing[..n - 1].join(", "), missing[n - 1]),
        };
        return Err(format!(
            "{short}() missing {} required positional argument{}: {list}",
            missing.len(),
            if missing.len() == 1 { "" } else { "s" }
        ));
    }
    Ok((bound, extra))
}

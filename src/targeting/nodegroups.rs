//! Nodegroups: the master's named targets, expanded into compound words as Salt's client
//! expands them before it publishes.

use serde_json::{Map, Value};

use super::{py_split, TargetError, MAX_EXPR_LEN, MAX_NODEGROUP_DEPTH, OPERATORS};

/// The master's `nodegroups` map, and Salt's `nodegroup_comp` over it.
pub(super) struct Nodegroups<'n> {
    groups: Option<&'n Map<String, Value>>,
}

/// The state of one top-level expansion.
struct Expansion {
    /// The groups being expanded, outermost first: meeting one again is a cycle.
    path: Vec<String>,
    /// Bytes of words produced so far, to stop a group that doubles at every level.
    produced: usize,
}

impl<'n> Nodegroups<'n> {
    pub(super) fn new(config: &'n Value) -> Nodegroups<'n> {
        Nodegroups {
            groups: config.as_object(),
        }
    }

    /// The words that replace `N@name`, as Salt's client resolves them before publishing.
    pub(super) fn expand(&self, name: &str) -> Result<Vec<String>, TargetError> {
        let mut state = Expansion {
            path: Vec::new(),
            produced: 0,
        };
        self.comp(name, true, &mut state)
    }

    /// `salt.utils.minions.nodegroup_comp`.
    ///
    /// Nested groups are wrapped in parentheses, but a top-level group with no nested group is
    /// returned as its bare words: `N@g and x` with `g: 'a or b'` means `a or (b and x)` in
    /// Salt, and here. A group of plain names becomes one `L@a,b` word (`E@` if a name has a
    /// regex character).
    fn comp(
        &self,
        name: &str,
        first_call: bool,
        state: &mut Expansion,
    ) -> Result<Vec<String>, TargetError> {
        if state.path.iter().any(|n| n == name) {
            return Err(TargetError::NestedNodegroup {
                name: name.to_string(),
            });
        }
        if state.path.len() >= MAX_NODEGROUP_DEPTH {
            return Err(TargetError::NodegroupTooDeep {
                name: name.to_string(),
            });
        }
        let definition = self
            .groups
            .and_then(|groups| groups.get(name))
            .ok_or_else(|| TargetError::UnknownNodegroup {
                name: name.to_string(),
            })?;
        let bad = || TargetError::BadNodegroup {
            name: name.to_string(),
        };
        let words: Vec<&str> = match definition {
            Value::String(s) => py_split(s).collect(),
            // Salt str()s other entries, then mostly raises on them; refuse them outright.
            Value::Array(items) => items
                .iter()
                .map(|w| w.as_str().ok_or_else(bad))
                .collect::<Result<_, _>>()?,
            _ => return Err(bad()),
        };
        state.path.push(name.to_string());
        let mut ret = Vec::new();
        let mut expanded = false;
        for &word in &words {
            match word.strip_prefix("N@").filter(|inner| !inner.is_empty()) {
                Some(inner) => {
                    expanded = true;
                    ret.extend(self.comp(inner, false, state)?);
                }
                _ => {
                    state.produced += word.len() + 1;
                    ret.push(word.to_string());
                }
            }
            if state.produced > MAX_EXPR_LEN {
                return Err(TargetError::TooLong {
                    len: state.produced,
                });
            }
        }
        state.path.pop();
        if !first_call {
            if let Some(joined) = joined_names(&words) {
                return Ok(vec![joined]);
            }
        } else if !expanded {
            return Ok(match joined_names(&words) {
                Some(joined) => vec![joined],
                None => words.iter().map(|w| w.to_string()).collect(),
            });
        }
        if !ret.is_empty() {
            state.produced += 4;
            ret.insert(0, "(".to_string());
            ret.push(")".to_string());
        }
        Ok(ret)
    }
}

/// Salt's `_nodegroup_regex`: a group of plain names (no operator, no `*`, no `X@` prefix)
/// becomes `L@a,b,c`, or `E@a,b,c` when a name has a regex character.
fn joined_names(words: &[&str]) -> Option<String> {
    const REGEX_CHARS: [char; 8] = ['(', '[', '{', '\\', '?', '}', ']', ')'];
    let engine_prefix = |w: &str| {
        let b = w.as_bytes();
        b.len() >= 2 && b[0].is_ascii_uppercase() && b[1] == b'@'
    };
    if words
        .iter()
        .any(|w| OPERATORS.contains(w) || w.contains('*') || engine_prefix(w))
    {
        return None;
    }
    let engine = if words.iter().any(|w| w.contains(REGEX_CHARS)) {
        "E@"
    } else {
        "L@"
    };
    Some(format!("{engine}{}", words.join(",")))
}

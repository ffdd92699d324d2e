//! One table of flags per tool: parsing (lexopt), `--help` and the man page all come
//! from it, so they cannot drift apart (ripgrep's `flags/` habit). Each table is a flag
//! set, an enum naming its rows, so code names a flag by a variant, never by its spelling.

use std::ffi::OsString;
use std::fmt;

/// One command-line flag.
#[derive(Clone, Copy, Debug)]
pub struct Flag {
    /// The single-letter form, if any.
    pub short: Option<char>,
    /// The long form, without dashes.
    pub long: &'static str,
    /// The value's name in help (`DIR`), or `None` for a switch.
    pub value: Option<&'static str>,
    /// What it does, one or two sentences (plain text; shown in --help and the man page).
    pub doc: &'static str,
}

/// A man page section of prose.
#[derive(Clone, Copy, Debug)]
pub struct Section {
    /// The heading, upper case by convention.
    pub title: &'static str,
    /// Paragraphs separated by blank lines; lines starting with two spaces are shown
    /// verbatim (examples).
    pub body: &'static str,
}

/// A tool: its flags plus the prose around them.
#[derive(Clone, Copy, Debug)]
pub struct Tool {
    /// The binary name.
    pub name: &'static str,
    /// The man section (1 or 8).
    pub section: u8,
    /// The one-line summary (NAME section).
    pub summary: &'static str,
    /// Usage lines, without the tool name.
    pub usage: &'static [&'static str],
    /// What the tool does.
    pub description: &'static str,
    /// Its flags, in display order.
    pub flags: &'static [Flag],
    /// Further sections (EXIT STATUS, EXAMPLES, ...).
    pub sections: &'static [Section],
}

/// A tool's flags as a type: one value per row of its table, so code names a flag by a
/// value the compiler checks, never by its spelling. Declared with [`flag_set!`].
pub trait FlagSet: Copy + Eq + std::fmt::Debug + 'static {
    /// The table, one row per value, in declaration order.
    const TABLE: &'static [Flag];
    /// `--help`, which every tool has.
    const HELP: Self;
    /// `--version`, which every tool has.
    const VERSION: Self;
    /// The value of the table's row `i`.
    fn from_index(i: usize) -> Self;
    /// This flag's row in the table.
    fn index(self) -> usize;
    /// This flag's row.
    fn row(self) -> &'static Flag {
        &Self::TABLE[self.index()]
    }
}

/// Declares a flag set: an enum whose variants name the rows of the table built from the
/// given [`Flag`]s, in order. It must have the variants `Help` and `Version`.
macro_rules! flag_set {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($variant:ident => $flag:expr),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        $vis enum $name {
            $($variant),+
        }

        impl $name {
            /// The flag table, which parsing, `--help` and the man page read.
            $vis const TABLE: &'static [$crate::cli::flags::Flag] = &[$($flag),+];
            const ALL: &'static [$name] = &[$($name::$variant),+];
        }

        impl $crate::cli::flags::FlagSet for $name {
            const TABLE: &'static [$crate::cli::flags::Flag] = $name::TABLE;
            const HELP: Self = $name::Help;
            const VERSION: Self = $name::Version;
            fn from_index(i: usize) -> Self {
                $name::ALL[i]
            }
            fn index(self) -> usize {
                self as usize
            }
        }
    };
}
pub(crate) use flag_set;

/// The result of parsing, the first stage: flag values and positionals, in the order
/// given. Each tool's second stage turns it into a typed, validated struct.
#[derive(Debug, PartialEq, Eq)]
pub struct Parsed<K> {
    values: Vec<(K, Option<String>)>,
    /// Positional words.
    pub positionals: Vec<String>,
}

impl<K> Default for Parsed<K> {
    fn default() -> Self {
        Parsed {
            values: Vec::new(),
            positionals: Vec::new(),
        }
    }
}

impl<K: FlagSet> Parsed<K> {
    /// True when the switch or flag appeared.
    pub fn has(&self, flag: K) -> bool {
        self.values.iter().any(|(f, _)| *f == flag)
    }

    /// The last value given for a flag.
    pub fn value(&self, flag: K) -> Option<&str> {
        self.values
            .iter()
            .rev()
            .find(|(f, _)| *f == flag)
            .and_then(|(_, v)| v.as_deref())
    }

    /// The last value given for any of `flags`: the spellings of one option, each a row of
    /// its own (`--batch` and `--batch-size`), where the last one typed wins as in optparse.
    pub fn last_of(&self, flags: &[K]) -> Option<&str> {
        self.values
            .iter()
            .rev()
            .find(|(f, _)| flags.contains(f))
            .and_then(|(_, v)| v.as_deref())
    }
}

/// A command-line mistake; the tool prints it in one line and exits 2.
#[derive(Debug, PartialEq, Eq)]
pub struct CliError(pub String);

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CliError {}

/// Parses the arguments (without the program name) against a tool's flags, `K`, whose
/// table is the tool's. Options may come before, between or after positionals (as Salt's
/// optparse allows); `--` ends them.
pub fn parse<K, I>(tool: &Tool, args: I) -> Result<Parsed<K>, CliError>
where
    K: FlagSet,
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    use lexopt::Arg;
    debug_assert!(
        tool.flags.len() == K::TABLE.len()
            && tool
                .flags
                .iter()
                .zip(K::TABLE)
                .all(|(a, b)| a.long == b.long),
        "{}: the flag set is not the tool's table",
        tool.name
    );
    let mut p = lexopt::Parser::from_args(args);
    let mut out = Parsed::default();
    loop {
        let arg = p.next().map_err(|e| CliError(e.to_string()))?;
        let Some(arg) = arg else { break };
        let index = match arg {
            Arg::Short(c) => K::TABLE
                .iter()
                .position(|f| f.short == Some(c))
                .ok_or_else(|| {
                    CliError(format!("unknown option '-{c}' (see {} --help)", tool.name))
                })?,
            // Salt's optparse takes `--state_output` beside `--state-output`; an underscore
            // spelling of any long flag is accepted for it.
            Arg::Long(l) => K::TABLE
                .iter()
                .position(|f| f.long == l || f.long.replace('-', "_") == l)
                .ok_or_else(|| {
                    CliError(format!("unknown option '--{l}' (see {} --help)", tool.name))
                })?,
            Arg::Value(v) => {
                let s = v
                    .into_string()
                    .map_err(|v| CliError(format!("argument {v:?} is not UTF-8")))?;
                out.positionals.push(s);
                // lexopt treats `--` itself; everything after it arrives as Value.
                continue;
            }
        };
        let flag = &K::TABLE[index];
        let value =
            match flag.value {
                Some(_) => {
                    let v = p
                        .value()
                        .map_err(|e| CliError(format!("--{}: {e}", flag.long)))?;
                    Some(v.into_string().map_err(|v| {
                        CliError(format!("--{}: value {v:?} is not UTF-8", flag.long))
                    })?)
                }
                None => {
                    if let Some(v) = p.optional_value() {
                        return Err(CliError(format!(
                            "--{} takes no value (got {:?})",
                            flag.long,
                            v.to_string_lossy()
                        )));
                    }
                    None
                }
            };
        out.values.push((K::from_index(index), value));
    }
    Ok(out)
}

fn flag_names(f: &Flag) -> String {
    let mut s = String::new();
    if let Some(c) = f.short {
        s.push('-');
        s.push(c);
        s.push_str(", ");
    }
    s.push_str("--");
    s.push_str(f.long);
    if let Some(v) = f.value {
        s.push(' ');
        s.push_str(v);
    }
    s
}

/// The `--help` text.
pub fn help(tool: &Tool) -> String {
    let mut s = format!("{} - {}\n\nUsage:\n", tool.name, tool.summary);
    for u in tool.usage {
        s.push_str(&format!("  {} {u}\n", tool.name));
    }
    s.push_str("\nOptions:\n");
    let width = tool
        .flags
        .iter()
        .map(|f| flag_names(f).len())
        .max()
        .unwrap_or(0);
    for f in tool.flags {
        s.push_str(&format!("  {:width$}  {}\n", flag_names(f), f.doc));
    }
    s.push_str(&format!(
        "\nSee {}({}) for more.\n",
        tool.name, tool.section
    ));
    s
}

/// Escapes text for roff: backslashes, dashes, and a leading dot or quote.
pub fn roff_escape(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => s.push_str("\\e"),
            '-' => s.push_str("\\-"),
            _ => s.push(c),
        }
    }
    if s.starts_with('.') || s.starts_with('\'') {
        s.insert_str(0, "\\&");
    }
    s
}

/// Renders prose: blank lines separate paragraphs, two-space-indented lines are
/// examples shown verbatim.
pub fn roff_prose(body: &str) -> String {
    let mut s = String::new();
    let mut in_example = false;
    let mut first = true;
    for para in body.split("\n\n") {
        for line in para.lines() {
            let example = line.starts_with("  ");
            if example && !in_example {
                s.push_str(".PP\n.nf\n.RS 4\n");
                in_example = true;
            } else if !example && in_example {
                s.push_str(".RE\n.fi\n");
                in_example = false;
            } else if !example && (first || s.ends_with("\n.fi\n")) {
                s.push_str(".PP\n");
            }
            first = false;
            // Keep the indentation under the example's two spaces: YAML needs it.
            let text = if example {
                line.strip_prefix("  ").unwrap_or(line).trim_end()
            } else {
                line.trim()
            };
            s.push_str(&roff_escape(text));
            s.push('\n');
        }
        if in_example {
            s.push_str(".RE\n.fi\n");
            in_example = false;
        }
        first = true;
    }
    s
}

/// A generated man page section: a title and tagged paragraphs (term, text).
pub type Reference = (String, Vec<(String, String)>);

/// The man page: NAME, SYNOPSIS, DESCRIPTION, OPTIONS, then the tool's sections.
pub fn man(tool: &Tool) -> String {
    man_with(tool, &[])
}

/// The man page with generated reference sections (function tables) placed before
/// EXIT STATUS, so the documentation of every function comes from the code's table.
pub fn man_with(tool: &Tool, refs: &[Reference]) -> String {
    let mut s = format!(
        ".TH {} {} \"\" \"brine {}\" \"brine manual\"\n",
        tool.name.to_uppercase(),
        tool.section,
        env!("CARGO_PKG_VERSION")
    );
    s.push_str(&format!(
        ".SH NAME\n{} \\- {}\n.SH SYNOPSIS\n",
        tool.name,
        roff_escape(tool.summary)
    ));
    for (i, u) in tool.usage.iter().enumerate() {
        if i > 0 {
            s.push_str(".br\n");
        }
        s.push_str(&format!(".B {}\n{}\n", tool.name, roff_escape(u)));
    }
    s.push_str(".SH DESCRIPTION\n");
    s.push_str(&roff_prose(tool.description));
    s.push_str(".SH OPTIONS\n");
    for f in tool.flags {
        let mut names = String::new();
        if let Some(c) = f.short {
            names.push_str(&format!("\\fB\\-{c}\\fR, "));
        }
        names.push_str(&format!("\\fB\\-\\-{}\\fR", roff_escape(f.long)));
        if let Some(v) = f.value {
            names.push_str(&format!(" \\fI{}\\fR", roff_escape(v)));
        }
        s.push_str(&format!(".TP\n{names}\n{}\n", roff_escape(f.doc)));
    }
    let mut refs_done = refs.is_empty();
    for sec in tool.sections {
        if !refs_done && sec.title == "EXIT STATUS" {
            push_refs(&mut s, refs);
            refs_done = true;
        }
        s.push_str(&format!(".SH {}\n", roff_escape(sec.title)));
        s.push_str(&roff_prose(sec.body));
    }
    if !refs_done {
        push_refs(&mut s, refs);
    }
    s
}

fn push_refs(s: &mut String, refs: &[Reference]) {
    for (title, items) in refs {
        s.push_str(&format!(".SH {}\n", roff_escape(title)));
        for (term, text) in items {
            s.push_str(&format!(
                ".TP\n\\fB{}\\fR\n{}\n",
                roff_escape(term),
                roff_escape(text)
            ));
        }
    }
}

/// A flag without a value.
pub const fn switch(short: Option<char>, long: &'static str, doc: &'static str) -> Flag {
    Flag {
        short,
        long,
        value: None,
        doc,
    }
}

/// A flag that takes a value.
pub const fn valued(
    short: Option<char>,
    long: &'static str,
    value: &'static str,
    doc: &'static str,
) -> Flag {
    Flag {
        short,
        long,
        value: Some(value),
        doc,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    flag_set! {
        enum TF {
            Timeout => Flag {
                short: Some('t'),
                long: "timeout",
                value: Some("SECONDS"),
                doc: "Wait.",
            },
            Out => Flag {
                short: None,
                long: "out",
                value: Some("OUTPUTTER"),
                doc: "Format.",
            },
            Quiet => Flag {
                short: Some('q'),
                long: "quiet",
                value: None,
                doc: "Hush.",
            },
            // Every flag set has these two.
            Help => Flag {
                short: Some('h'),
                long: "help",
                value: None,
                doc: "Help.",
            },
            Version => Flag {
                short: Some('V'),
                long: "version",
                value: None,
                doc: "Version.",
            },
        }
    }

    const T: Tool = Tool {
        name: "t",
        section: 1,
        summary: "test tool",
        usage: &["[OPTIONS] FUN"],
        description: "Does things.",
        flags: TF::TABLE,
        sections: &[],
    };

    fn p(args: &[&str]) -> Result<Parsed<TF>, CliError> {
        parse(&T, args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn every_spelling_salt_users_type() {
        for args in [
            &["-t5", "f"][..],
            &["-t", "5", "f"],
            &["--timeout=5", "f"],
            &["--timeout", "5", "f"],
            &["f", "-t", "5"],
        ] {
            let r = p(args).unwrap();
            assert_eq!(r.value(TF::Timeout), Some("5"), "{args:?}");
            assert_eq!(r.positionals, ["f"], "{args:?}");
        }
        assert_eq!(p(&["--out=json"]).unwrap().value(TF::Out), Some("json"));
        // An underscore for a dash, as Salt's --state_output.
        assert_eq!(
            p(&["--out_x"]).map(|_| ()),
            Err(CliError("unknown option '--out_x' (see t --help)".into()))
        );
        assert_eq!(p(&["--out", "json"]).unwrap().value(TF::Out), Some("json"));
        assert!(p(&["-q", "x"]).unwrap().has(TF::Quiet));
        assert_eq!(p(&["--", "-q"]).unwrap().positionals, ["-q"]);
        // key=value words are positionals for the argument parser.
        assert_eq!(p(&["f", "count=3"]).unwrap().positionals, ["f", "count=3"]);
    }

    #[test]
    fn mistakes_are_one_line_errors() {
        assert!(p(&["--nope"])
            .unwrap_err()
            .0
            .contains("unknown option '--nope'"));
        assert!(p(&["-z"]).unwrap_err().0.contains("unknown option '-z'"));
        assert!(p(&["--timeout"]).is_err());
        assert!(p(&["--quiet=yes"])
            .unwrap_err()
            .0
            .contains("takes no value"));
    }

    #[test]
    fn help_and_man_list_every_flag() {
        let h = help(&T);
        let m = man(&T);
        for f in T.flags {
            assert!(h.contains(&format!("--{}", f.long)));
            assert!(m.contains(&format!("\\-\\-{}", f.long)));
        }
    }
}

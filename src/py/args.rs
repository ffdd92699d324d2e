//! CLI words to arguments, as Salt's `salt.utils.args.parse_input(words, condition=False)`.
//!
//! Every brine CLI (and the reactor) splits its words into positional args and `key=value`
//! kwargs and coerces each value as Salt's `yamlify_arg` does: a few string rules first, then
//! Salt's YAML loader (libyaml 0.2.5's scanner and parser under PyYAML's SafeLoader resolver,
//! with Salt's tweaks: leading zeros make decimal ints, timestamps stay strings, duplicate keys
//! fail), then rules on which results are kept. The loader below is our own and only as big as
//! one CLI word needs: a single line, so no multi-line block structure or line folding.
//!
//! Deliberate differences from Salt, because `serde_json::Value` cannot hold Salt's value or
//! to keep hostile input bounded. "The word" means the word stays the string it was; inside a
//! collection a value JSON cannot carry becomes its scalar's text instead.
//! - `.inf`, `-.inf`, `.nan`, floats that overflow, and ints outside i64/u64.
//! - Map keys become the string Python's `str()` gives (`1` → "1", `~` → "None").
//! - Nesting past 64 collections, aliases to their own ancestors, alias expansion past a
//!   budget, and `!!binary`, `!!set`, `!!omap`, `!!pairs` (no JSON form): the word.
//! - Words holding YAML line breaks other than CR/LF (U+0085, U+2028, U+2029): the word.
//! - Kwarg names use Rust's `char::is_alphanumeric`, not Python's `\w`: a few combining marks
//!   and circled letters count as letters, and a name cannot start with a digit like `²`.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use serde_json::{Map, Number, Value};

/// Collections nested deeper than this keep the word: bounds recursion on hostile input.
const MAX_DEPTH: usize = 64;
/// libyaml forgets a possible implicit key once the scanner is this many characters past it.
const SIMPLE_KEY_LIMIT: usize = 1024;
/// Values an alias-free word can build are at most its length; this is the slack for aliases.
const ALIAS_BUDGET: usize = 1 << 16;

/// Salt's parse_input(words, condition=False): positional args and key=value kwargs.
pub fn parse_input<S: AsRef<str>>(words: &[S]) -> (Vec<Value>, Map<String, Value>) {
    let mut args = Vec::new();
    let mut kwargs = Map::new();
    for word in words {
        let word = word.as_ref();
        match split_kwarg(word) {
            // A repeated key keeps its first position and takes the last value, as a dict does.
            Some((key, value)) => {
                kwargs.insert(key.to_owned(), yamlify_arg(value));
            }
            None => args.push(yamlify_arg(word)),
        }
    }
    (args, kwargs)
}

/// Fuzz entry: NUL-separated words (lossy UTF-8) through `parse_input`; must never panic.
pub fn fuzz_parse(data: &[u8]) {
    let words: Vec<String> = data
        .split(|&b| b == 0)
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect();
    let _ = parse_input(&words);
}

/// Salt's `KWARG_REGEX`, `^([^\d\W][\w.-]*)=(?!=)(.*)$`, without a regex engine.
fn split_kwarg(word: &str) -> Option<(&str, &str)> {
    let (key, rest) = word.split_once('=')?;
    let mut chars = key.chars();
    let first = chars.next()?;
    if !(first == '_' || first.is_alphabetic()) || rest.starts_with('=') {
        return None;
    }
    if !chars.all(|c| c == '_' || c == '.' || c == '-' || c.is_alphanumeric()) {
        return None;
    }
    // `.` never matches a newline, and `$` may only step over a final one.
    match rest.find('\n') {
        None => Some((key, rest)),
        Some(i) if i + 1 == rest.len() => Some((key, &rest[..i])),
        Some(_) => None,
    }
}

/// One CLI word coerced as Salt's yamlify_arg does.
pub fn yamlify_arg(word: &str) -> Value {
    let original = || Value::String(word.to_owned());
    let stripped = word.trim_matches(py_space);
    // YAML would read these as null or a document marker, so Salt keeps them.
    if matches!(stripped, "" | "---" | "...") {
        return original();
    }
    // YAML would drop the underscores and read an int.
    if word.contains('_') && stripped.chars().all(|c| c.is_ascii_digit() || c == '_') {
        return original();
    }
    if word.contains(['\t', '\r', '\n']) {
        return original();
    }
    if word.contains('#') {
        // `#` may have cut a comment off, so only a non-string result is worth the loss.
        return match load(word) {
            Ok(Value::String(_) | Value::Null) | Err(Reject) => original(),
            Ok(value) => value,
        };
    }
    if word == "None" {
        return Value::Null;
    }
    match load(word) {
        Err(Reject) => original(),
        // `a: b` or `- x` read as a map or list only when braces or brackets say so.
        Ok(Value::Object(_)) if !word.starts_with('{') => original(),
        Ok(Value::Array(_)) if !word.starts_with('[') => original(),
        // YAML reads both as an empty string, which is surely not what was meant.
        Ok(Value::String(s)) if s.is_empty() && (word == "|" || word == "!") => original(),
        Ok(value) => value,
    }
}

/// Python's `str.isspace`: Unicode White_Space plus the separators U+001C..U+001F.
fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Anything Salt's loader raises on, or a value brine declines: the word stays a string.
#[derive(Debug)]
struct Reject;

/// Salt's `salt.utils.yaml.safe_load` for one line; `null` also stands for an empty stream.
fn load(text: &str) -> Result<Value, Reject> {
    // libyaml refuses control characters outright; other line breaks would need multi-line YAML.
    let usable = |c: char| {
        matches!(c, ' '..='~' | '\u{a0}'..='\u{2027}' | '\u{202a}'..='\u{d7ff}'
            | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
    };
    if !text.chars().all(usable) {
        return Err(Reject);
    }
    // libyaml's reader drops one byte-order mark without it taking a column.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let chars: Vec<char> = text.chars().collect();
    let tokens = Scanner::new(&chars).run()?;
    let root = Parser::new(tokens).document()?;
    let mut builder = Builder {
        budget: chars.len() + ALIAS_BUDGET,
    };
    match root {
        None => Ok(Value::Null),
        Some(node) => builder.value(&node, 0),
    }
}

// ---------------------------------------------------------------------------------------------
// Scanner: libyaml's tokens for one line. Column and index are both the char position, since
// there is only the one line; that also makes libyaml's "required" simple keys impossible.

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    DocStart,
    DocEnd,
    StreamEnd,
    BlockSeq,
    BlockMap,
    BlockEnd,
    FlowSeq,
    FlowSeqEnd,
    FlowMap,
    FlowMapEnd,
    BlockEntry,
    FlowEntry,
    Key,
    Value,
    Alias(String),
    Anchor(String),
    /// Full tag: `!!x` already expanded to `tag:yaml.org,2002:x`, `!` alone kept as `!`.
    Tag(String),
    /// Text and whether it was plain (only plain scalars resolve to non-strings).
    Scalar(String, bool),
}

/// Where a scalar that might turn out to be an implicit mapping key began.
#[derive(Clone, Copy)]
struct SimpleKey {
    token: usize,
    pos: usize,
}

struct Scanner<'a> {
    s: &'a [char],
    pos: usize,
    tokens: Vec<Tok>,
    flow: usize,
    indent: isize,
    indents: Vec<isize>,
    allow_key: bool,
    /// One slot per flow level (slot 0 is block context).
    keys: Vec<Option<SimpleKey>>,
}

fn blankz(c: Option<char>) -> bool {
    matches!(c, None | Some(' '))
}

/// libyaml's IS_ALPHA: the characters of anchor names and tag handles.
fn word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

impl<'a> Scanner<'a> {
    fn new(s: &'a [char]) -> Self {
        Scanner {
            s,
            pos: 0,
            tokens: Vec::new(),
            flow: 0,
            indent: -1,
            indents: Vec::new(),
            allow_key: true,
            keys: vec![None],
        }
    }

    fn peek(&self, ahead: usize) -> Option<char> {
        self.s.get(self.pos + ahead).copied()
    }

    fn run(mut self) -> Result<Vec<Tok>, Reject> {
        loop {
            self.skip_to_token();
            self.drop_stale_keys();
            let Some(c) = self.peek(0) else {
                self.unroll();
                self.tokens.push(Tok::StreamEnd);
                return Ok(self.tokens);
            };
            let next = self.peek(1);
            match c {
                // A directive needs `---` on a later line, which one word cannot have.
                '%' if self.pos == 0 => return Err(Reject),
                '-' | '.' if self.pos == 0 && self.doc_marker(c) => {
                    self.remove_key();
                    self.allow_key = false;
                    self.pos += 3;
                    self.tokens
                        .push(if c == '-' { Tok::DocStart } else { Tok::DocEnd });
                }
                '[' | '{' => {
                    self.save_key();
                    self.keys.push(None);
                    self.flow += 1;
                    self.allow_key = true;
                    self.pos += 1;
                    self.tokens
                        .push(if c == '[' { Tok::FlowSeq } else { Tok::FlowMap });
                }
                ']' | '}' => {
                    self.remove_key();
                    if self.flow > 0 {
                        self.flow -= 1;
                        self.keys.pop();
                    }
                    self.allow_key = false;
                    self.pos += 1;
                    self.tokens.push(if c == ']' {
                        Tok::FlowSeqEnd
                    } else {
                        Tok::FlowMapEnd
                    });
                }
                ',' => {
                    self.remove_key();
                    self.allow_key = true;
                    self.pos += 1;
                    self.tokens.push(Tok::FlowEntry);
                }
                '-' if blankz(next) => {
                    // In flow context the parser rejects the entry, as libyaml's does.
                    self.block_indicator(Tok::BlockSeq)?;
                    self.allow_key = true;
                    self.tokens.push(Tok::BlockEntry);
                }
                '?' if self.flow > 0 || blankz(next) => {
                    self.block_indicator(Tok::BlockMap)?;
                    self.allow_key = self.flow == 0;
                    self.tokens.push(Tok::Key);
                }
                ':' if self.flow > 0 || blankz(next) => self.value()?,
                '*' | '&' => {
                    self.save_key();
                    self.allow_key = false;
                    let name = self.anchor_name()?;
                    self.tokens.push(if c == '*' {
                        Tok::Alias(name)
                    } else {
                        Tok::Anchor(name)
                    });
                }
                '!' => {
                    self.save_key();
                    self.allow_key = false;
                    let tag = self.tag()?;
                    self.tokens.push(Tok::Tag(tag));
                }
                '|' | '>' if self.flow == 0 => {
                    self.remove_key();
                    self.allow_key = true;
                    self.block_scalar_header()?;
                    // Its content would start on the next line, and there is none.
                    self.tokens.push(Tok::Scalar(String::new(), false));
                }
                '\'' | '"' => {
                    self.save_key();
                    self.allow_key = false;
                    let text = self.quoted(c == '"')?;
                    self.tokens.push(Tok::Scalar(text, false));
                }
                _ if self.plain_start(c, next) => {
                    self.save_key();
                    self.allow_key = false;
                    let text = self.plain()?;
                    self.tokens.push(Tok::Scalar(text, true));
                }
                _ => return Err(Reject),
            }
            if self.flow > MAX_DEPTH || self.indents.len() > MAX_DEPTH {
                return Err(Reject);
            }
        }
    }

    fn doc_marker(&self, c: char) -> bool {
        self.peek(1) == Some(c) && self.peek(2) == Some(c) && blankz(self.peek(3))
    }

    /// Spaces, a (second) byte-order mark in column 0, and a comment (no space needed before it).
    fn skip_to_token(&mut self) {
        if self.pos == 0 && self.peek(0) == Some('\u{feff}') {
            self.pos = 1;
        }
        while self.peek(0) == Some(' ') {
            self.pos += 1;
        }
        if self.peek(0) == Some('#') {
            self.pos = self.s.len();
        }
    }

    fn drop_stale_keys(&mut self) {
        let pos = self.pos;
        for slot in &mut self.keys {
            if slot.is_some_and(|k| k.pos + SIMPLE_KEY_LIMIT < pos) {
                *slot = None;
            }
        }
    }

    fn save_key(&mut self) {
        if self.allow_key {
            let key = SimpleKey {
                token: self.tokens.len(),
                pos: self.pos,
            };
            self.set_key(Some(key));
        }
    }

    fn remove_key(&mut self) {
        self.set_key(None);
    }

    fn set_key(&mut self, key: Option<SimpleKey>) {
        if let Some(slot) = self.keys.last_mut() {
            *slot = key;
        }
    }

    /// Opens a block collection at `column` unless one is already open there (block context only).
    fn roll(&mut self, column: usize, at: Option<usize>, tok: Tok) {
        let column = column as isize;
        if self.flow > 0 || self.indent >= column {
            return;
        }
        self.indents.push(self.indent);
        self.indent = column;
        match at {
            Some(i) => self.tokens.insert(i, tok),
            None => self.tokens.push(tok),
        }
    }

    fn unroll(&mut self) {
        if self.flow > 0 {
            return;
        }
        while let Some(indent) = self.indents.pop() {
            self.indent = indent;
            self.tokens.push(Tok::BlockEnd);
        }
    }

    /// `- ` and `? `: in block context they may only stand where a key could.
    fn block_indicator(&mut self, start: Tok) -> Result<(), Reject> {
        if self.flow == 0 {
            if !self.allow_key {
                return Err(Reject);
            }
            self.roll(self.pos, None, start);
        }
        self.remove_key();
        self.pos += 1;
        Ok(())
    }

    /// `:` turns the last possible simple key into a mapping key, inserting `Key` before it.
    fn value(&mut self) -> Result<(), Reject> {
        match self.keys.last_mut().and_then(Option::take) {
            Some(key) => {
                self.tokens.insert(key.token, Tok::Key);
                self.roll(key.pos, Some(key.token), Tok::BlockMap);
                // Two implicit keys cannot follow each other: this is why `a: b: c` fails.
                self.allow_key = false;
            }
            None => {
                // A key-less `: x` in block context opens a mapping the parser then refuses.
                if self.flow == 0 {
                    if !self.allow_key {
                        return Err(Reject);
                    }
                    self.roll(self.pos, None, Tok::BlockMap);
                }
                self.allow_key = self.flow == 0;
            }
        }
        self.pos += 1;
        self.tokens.push(Tok::Value);
        Ok(())
    }

    fn anchor_name(&mut self) -> Result<String, Reject> {
        self.pos += 1;
        let start = self.pos;
        while self.peek(0).is_some_and(word_char) {
            self.pos += 1;
        }
        let ends_well =
            blankz(self.peek(0)) || self.peek(0).is_some_and(|c| "?:,]}%@`".contains(c));
        if self.pos == start || !ends_well {
            return Err(Reject);
        }
        Ok(self.s[start..self.pos].iter().collect())
    }

    fn tag(&mut self) -> Result<String, Reject> {
        let tag = if self.peek(1) == Some('<') {
            self.pos += 2;
            let uri = self.tag_uri(true)?;
            if uri.is_empty() || self.peek(0) != Some('>') {
                return Err(Reject);
            }
            self.pos += 1;
            uri
        } else {
            self.pos += 1;
            let start = self.pos;
            while self.peek(0).is_some_and(word_char) {
                self.pos += 1;
            }
            let name: String = self.s[start..self.pos].iter().collect();
            if self.peek(0) == Some('!') {
                self.pos += 1;
                let suffix = self.tag_uri(false)?;
                // Only the default `!!` handle exists without a %TAG directive.
                if !name.is_empty() || suffix.is_empty() {
                    return Err(Reject);
                }
                format!("tag:yaml.org,2002:{suffix}")
            } else {
                // `!name...` is a local tag; `!` alone is the non-specific tag.
                format!("!{name}{}", self.tag_uri(false)?)
            }
        };
        if !(blankz(self.peek(0)) || (self.flow > 0 && self.peek(0) == Some(','))) {
            return Err(Reject);
        }
        Ok(tag)
    }

    /// URI characters, with `%XX` escapes decoded as UTF-8.
    fn tag_uri(&mut self, verbatim: bool) -> Result<String, Reject> {
        let mut bytes = Vec::new();
        while let Some(c) = self.peek(0) {
            if c == '%' {
                let hex = self.s.get(self.pos + 1..self.pos + 3).ok_or(Reject)?;
                let mut byte = 0;
                for h in hex {
                    byte = byte * 16 + h.to_digit(16).ok_or(Reject)?;
                }
                bytes.push(byte as u8);
                self.pos += 3;
            } else if word_char(c)
                || ";/?:@&=+$.!~*'()".contains(c)
                || (verbatim && ",[]".contains(c))
            {
                let mut buf = [0; 4];
                bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                self.pos += 1;
            } else {
                break;
            }
        }
        String::from_utf8(bytes).map_err(|_| Reject)
    }

    /// `|` or `>` with optional chomping and indentation indicators, then only a comment.
    fn block_scalar_header(&mut self) -> Result<(), Reject> {
        self.pos += 1;
        let mut seen_chomp = false;
        let mut seen_indent = false;
        loop {
            match self.peek(0) {
                Some('+' | '-') if !seen_chomp => seen_chomp = true,
                Some('0') if !seen_indent => return Err(Reject),
                Some('1'..='9') if !seen_indent => seen_indent = true,
                _ => break,
            }
            self.pos += 1;
        }
        while self.peek(0) == Some(' ') {
            self.pos += 1;
        }
        match self.peek(0) {
            None => Ok(()),
            Some('#') => {
                self.pos = self.s.len();
                Ok(())
            }
            Some(_) => Err(Reject),
        }
    }

    fn quoted(&mut self, double: bool) -> Result<String, Reject> {
        let quote = if double { '"' } else { '\'' };
        self.pos += 1;
        let mut out = String::new();
        loop {
            let c = self.peek(0).ok_or(Reject)?;
            self.pos += 1;
            match c {
                '\'' if !double && self.peek(0) == Some('\'') => {
                    self.pos += 1;
                    out.push('\'');
                }
                _ if c == quote => return Ok(out),
                '\\' if double => out.push(self.escape()?),
                _ => out.push(c),
            }
        }
    }

    /// libyaml's double-quoted escapes (`\'` is not one of them).
    fn escape(&mut self) -> Result<char, Reject> {
        let c = self.peek(0).ok_or(Reject)?;
        self.pos += 1;
        let digits = match c {
            '0' => return Ok('\0'),
            'a' => return Ok('\u{7}'),
            'b' => return Ok('\u{8}'),
            't' => return Ok('\t'),
            'n' => return Ok('\n'),
            'v' => return Ok('\u{b}'),
            'f' => return Ok('\u{c}'),
            'r' => return Ok('\r'),
            'e' => return Ok('\u{1b}'),
            ' ' | '"' | '/' | '\\' => return Ok(c),
            'N' => return Ok('\u{85}'),
            '_' => return Ok('\u{a0}'),
            'L' => return Ok('\u{2028}'),
            'P' => return Ok('\u{2029}'),
            'x' => 2,
            'u' => 4,
            'U' => 8,
            _ => return Err(Reject),
        };
        let hex = self.s.get(self.pos..self.pos + digits).ok_or(Reject)?;
        let mut code = 0u32;
        for h in hex {
            code = code * 16 + h.to_digit(16).ok_or(Reject)?;
        }
        self.pos += digits;
        char::from_u32(code).ok_or(Reject)
    }

    fn plain_start(&self, c: char, next: Option<char>) -> bool {
        !(c == ' ' || "-?:,[]{}#&*!|>'\"%@`".contains(c))
            || (c == '-' && next != Some(' '))
            || (self.flow == 0 && (c == '?' || c == ':') && !blankz(next))
    }

    fn plain(&mut self) -> Result<String, Reject> {
        let mut out = String::new();
        let mut spaces = 0;
        loop {
            // Only reachable after spaces: a `#` glued to text is part of it.
            if self.peek(0) == Some('#') {
                break;
            }
            while let Some(c) = self.peek(0) {
                let next = self.peek(1);
                if c == ' ' {
                    break;
                }
                // libyaml 0.2.5 refuses `a:,` and friends in flow context rather than guess.
                if self.flow > 0 && c == ':' && next.is_some_and(|n| ",?[]{}".contains(n)) {
                    return Err(Reject);
                }
                if (c == ':' && blankz(next)) || (self.flow > 0 && ",[]{}".contains(c)) {
                    break;
                }
                out.push_str(&" ".repeat(spaces));
                spaces = 0;
                out.push(c);
                self.pos += 1;
            }
            if self.peek(0) != Some(' ') {
                break;
            }
            while self.peek(0) == Some(' ') {
                spaces += 1;
                self.pos += 1;
            }
        }
        Ok(out)
    }
}

// ---------------------------------------------------------------------------------------------
// Parser and composer: tokens to a node graph, with tags resolved as PyYAML's resolver does.

#[derive(Debug, Clone, Copy, PartialEq)]
enum Tag {
    Null,
    Bool,
    Int,
    Float,
    Str,
    Seq,
    Map,
    /// `<<`: merges another mapping in; constructible only as a mapping key.
    Merge,
    /// `=`: turned into a string as a mapping key, unconstructible elsewhere.
    YamlValue,
    /// No constructor (or one brine declines): the load fails.
    Unknown,
}

type Pairs = Vec<(Rc<Node>, Rc<Node>)>;

#[derive(Debug)]
enum Node {
    Scalar(Tag, String),
    Seq(Tag, Vec<Rc<Node>>),
    Map(Tag, Pairs),
}

impl Node {
    fn tag(&self) -> Tag {
        match self {
            Node::Scalar(tag, _) | Node::Seq(tag, _) | Node::Map(tag, _) => *tag,
        }
    }
}

fn empty_node() -> Rc<Node> {
    Rc::new(Node::Scalar(Tag::Null, String::new()))
}

/// An explicit tag's meaning; `python/unicode` and `timestamp` are strings in Salt's loader.
fn explicit_tag(tag: &str) -> Tag {
    match tag.strip_prefix("tag:yaml.org,2002:") {
        Some("null") => Tag::Null,
        Some("bool") => Tag::Bool,
        Some("int") => Tag::Int,
        Some("float") => Tag::Float,
        Some("str" | "timestamp" | "python/unicode") => Tag::Str,
        Some("seq") => Tag::Seq,
        Some("map") => Tag::Map,
        Some("merge") => Tag::Merge,
        Some("value") => Tag::YamlValue,
        _ => Tag::Unknown,
    }
}

struct Parser {
    toks: Vec<Tok>,
    at: usize,
    /// `None` while the anchored node is still being built: an alias to it would be a cycle.
    anchors: HashMap<String, Option<Rc<Node>>>,
    depth: usize,
}

impl Parser {
    fn new(toks: Vec<Tok>) -> Self {
        Parser {
            toks,
            at: 0,
            anchors: HashMap::new(),
            depth: 0,
        }
    }

    fn peek(&self) -> &Tok {
        self.toks.get(self.at).unwrap_or(&Tok::StreamEnd)
    }

    fn take(&mut self) -> Tok {
        match self.toks.get_mut(self.at) {
            Some(tok) => {
                self.at += 1;
                std::mem::replace(tok, Tok::StreamEnd)
            }
            None => Tok::StreamEnd,
        }
    }

    fn eat(&mut self, tok: &Tok) -> bool {
        let found = self.peek() == tok;
        if found {
            self.at += 1;
        }
        found
    }

    /// The single document; `None` when the stream holds none.
    fn document(mut self) -> Result<Option<Rc<Node>>, Reject> {
        let root = match self.peek() {
            Tok::StreamEnd => return Ok(None),
            Tok::DocStart => {
                self.at += 1;
                if matches!(self.peek(), Tok::DocStart | Tok::DocEnd | Tok::StreamEnd) {
                    empty_node()
                } else {
                    self.node(true)?
                }
            }
            _ => self.node(true)?,
        };
        while self.eat(&Tok::DocEnd) {}
        // Anything more would be a second document, which `safe_load` refuses.
        if *self.peek() == Tok::StreamEnd {
            Ok(Some(root))
        } else {
            Err(Reject)
        }
    }

    fn node(&mut self, block: bool) -> Result<Rc<Node>, Reject> {
        if let Tok::Alias(name) = self.peek() {
            let target = self.anchors.get(name).cloned().flatten().ok_or(Reject)?;
            self.at += 1;
            return Ok(target);
        }
        let (mut anchor, mut tag) = (None, None);
        loop {
            match self.peek() {
                Tok::Anchor(_) if anchor.is_none() => {
                    if let Tok::Anchor(a) = self.take() {
                        anchor = Some(a);
                    }
                }
                Tok::Tag(_) if tag.is_none() => {
                    if let Tok::Tag(t) = self.take() {
                        tag = Some(t);
                    }
                }
                _ => break,
            }
        }
        if let Some(a) = &anchor {
            if self.anchors.insert(a.clone(), None).is_some() {
                return Err(Reject); // PyYAML's composer refuses a duplicate anchor
            }
        }
        // `!` is the non-specific tag: the node resolves as if untagged.
        let explicit = tag.as_deref().filter(|t| *t != "!").map(explicit_tag);
        let node = match self.peek() {
            Tok::Scalar(..) => {
                let Tok::Scalar(text, plain) = self.take() else {
                    return Err(Reject);
                };
                // libyaml marks a `!`-tagged scalar plain-implicit whatever its style.
                let implicit = plain || tag.is_some();
                let t = explicit.unwrap_or(if implicit { resolve(&text) } else { Tag::Str });
                Rc::new(Node::Scalar(t, text))
            }
            Tok::FlowSeq => self.collection(explicit, Self::flow_seq)?,
            Tok::FlowMap => self.collection(explicit, Self::flow_map)?,
            Tok::BlockSeq if block => self.collection(explicit, Self::block_seq)?,
            Tok::BlockMap if block => self.collection(explicit, Self::block_map)?,
            // Properties with no content: an empty scalar (`!` alone makes it a string).
            _ if anchor.is_some() || tag.is_some() => {
                let t = match (&tag, explicit) {
                    (_, Some(t)) => t,
                    (Some(_), None) => Tag::Str,
                    (None, None) => Tag::Null,
                };
                Rc::new(Node::Scalar(t, String::new()))
            }
            _ => return Err(Reject),
        };
        if let Some(a) = anchor {
            self.anchors.insert(a, Some(node.clone()));
        }
        Ok(node)
    }

    fn collection(
        &mut self,
        tag: Option<Tag>,
        body: fn(&mut Self, Option<Tag>) -> Result<Node, Reject>,
    ) -> Result<Rc<Node>, Reject> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Reject);
        }
        self.at += 1;
        let node = body(self, tag)?;
        self.depth -= 1;
        Ok(Rc::new(node))
    }

    /// A node, or the empty scalar when the next token is one of `stops`.
    fn node_or_empty(&mut self, block: bool, stops: &[Tok]) -> Result<Rc<Node>, Reject> {
        if stops.contains(self.peek()) {
            Ok(empty_node())
        } else {
            self.node(block)
        }
    }

    fn flow_seq(&mut self, tag: Option<Tag>) -> Result<Node, Reject> {
        let mut items = Vec::new();
        while !self.eat(&Tok::FlowSeqEnd) {
            if !items.is_empty() && !self.eat(&Tok::FlowEntry) {
                return Err(Reject);
            }
            if self.eat(&Tok::FlowSeqEnd) {
                break;
            }
            if self.eat(&Tok::Key) {
                // `[a: b]` is a list holding a one-pair map.
                let ends = [Tok::FlowEntry, Tok::FlowSeqEnd];
                let key = if matches!(self.peek(), Tok::Value | Tok::FlowEntry | Tok::FlowSeqEnd) {
                    // libyaml skips the token after an empty key here (`[? ]` fails, `[? : ]`
                    // is `[{None: None}]`); Salt inherits the quirk, so brine does too.
                    self.at += 1;
                    empty_node()
                } else {
                    self.node(false)?
                };
                let value = if self.eat(&Tok::Value) {
                    self.node_or_empty(false, &ends)?
                } else {
                    empty_node()
                };
                items.push(Rc::new(Node::Map(Tag::Map, vec![(key, value)])));
            } else {
                items.push(self.node(false)?);
            }
        }
        Ok(Node::Seq(tag.unwrap_or(Tag::Seq), items))
    }

    fn flow_map(&mut self, tag: Option<Tag>) -> Result<Node, Reject> {
        let mut pairs = Vec::new();
        let mut first = true;
        while !self.eat(&Tok::FlowMapEnd) {
            if !first && !self.eat(&Tok::FlowEntry) {
                return Err(Reject);
            }
            first = false;
            if self.eat(&Tok::FlowMapEnd) {
                break;
            }
            let ends = [Tok::FlowEntry, Tok::FlowMapEnd];
            if self.eat(&Tok::Key) {
                let key =
                    self.node_or_empty(false, &[Tok::Value, Tok::FlowEntry, Tok::FlowMapEnd])?;
                let value = if self.eat(&Tok::Value) {
                    self.node_or_empty(false, &ends)?
                } else {
                    empty_node()
                };
                pairs.push((key, value));
            } else {
                // `{a, b}`: a key with no `:` has a null value.
                pairs.push((self.node(false)?, empty_node()));
            }
        }
        Ok(Node::Map(tag.unwrap_or(Tag::Map), pairs))
    }

    fn block_seq(&mut self, tag: Option<Tag>) -> Result<Node, Reject> {
        let mut items = Vec::new();
        while self.eat(&Tok::BlockEntry) {
            items.push(self.node_or_empty(true, &[Tok::BlockEntry, Tok::BlockEnd])?);
        }
        if !self.eat(&Tok::BlockEnd) {
            return Err(Reject);
        }
        Ok(Node::Seq(tag.unwrap_or(Tag::Seq), items))
    }

    fn block_map(&mut self, tag: Option<Tag>) -> Result<Node, Reject> {
        let stops = [Tok::Key, Tok::Value, Tok::BlockEnd];
        let mut pairs = Vec::new();
        // A `:` with no key before it (`: b`) is an error here, as in libyaml.
        while self.eat(&Tok::Key) {
            let key = self.node_or_empty(true, &stops)?;
            let value = if self.eat(&Tok::Value) {
                self.node_or_empty(true, &stops)?
            } else {
                empty_node()
            };
            pairs.push((key, value));
        }
        if !self.eat(&Tok::BlockEnd) {
            return Err(Reject);
        }
        Ok(Node::Map(tag.unwrap_or(Tag::Map), pairs))
    }
}

/// PyYAML's implicit resolvers for a plain scalar, minus the timestamp one (Salt keeps strings).
fn resolve(text: &str) -> Tag {
    let Some(first) = text.chars().next() else {
        return Tag::Null;
    };
    match first {
        'y' | 'Y' | 'n' | 'N' | 't' | 'T' | 'f' | 'F' | 'o' | 'O' if is_bool_word(text) => {
            Tag::Bool
        }
        'n' | 'N' | '~' if matches!(text, "~" | "null" | "Null" | "NULL") => Tag::Null,
        '-' | '+' | '0'..='9' | '.' if is_float_text(text) => Tag::Float,
        '-' | '+' | '0'..='9' if is_int_text(text) => Tag::Int,
        '<' if text == "<<" => Tag::Merge,
        '=' if text == "=" => Tag::YamlValue,
        _ => Tag::Str,
    }
}

/// `yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF`
fn is_bool_word(text: &str) -> bool {
    matches!(
        text.to_ascii_lowercase().as_str(),
        "yes" | "no" | "true" | "false" | "on" | "off"
    ) && (text[1..] == text[1..].to_ascii_lowercase() || text == text.to_ascii_uppercase())
}

/// A tiny cursor for the resolver's regular expressions.
struct Cur<'a>(&'a [u8]);

impl Cur<'_> {
    fn eat(&mut self, set: &[u8]) -> bool {
        match self.0.split_first() {
            Some((b, rest)) if set.contains(b) => {
                self.0 = rest;
                true
            }
            _ => false,
        }
    }
    fn eat_str(&mut self, s: &str) -> bool {
        let found = self.0.starts_with(s.as_bytes());
        if found {
            self.0 = &self.0[s.len()..];
        }
        found
    }
    /// `[set]*`
    fn many(&mut self, set: &[u8]) {
        while self.eat(set) {}
    }
    fn done(&self) -> bool {
        self.0.is_empty()
    }
    /// `(?::[0-5]?[0-9])+`
    fn sexagesimal(&mut self) -> bool {
        let mut groups = 0;
        while self.eat(b":") {
            // A two-digit group starts 0-5; otherwise a single digit.
            let two = matches!(self.0, [b'0'..=b'5', b'0'..=b'9', ..]);
            if !self.eat(DIGITS) || (two && !self.eat(DIGITS)) {
                return false;
            }
            groups += 1;
        }
        groups > 0
    }
}

const DIGITS: &[u8] = b"0123456789";
const DIGITS_: &[u8] = b"0123456789_";

/// PyYAML's float regex.
fn is_float_text(text: &str) -> bool {
    let exponent = |c: &mut Cur| {
        let save = c.0;
        if !(c.eat(b"eE") && c.eat(b"-+") && c.eat(DIGITS)) {
            c.0 = save;
            return;
        }
        c.many(DIGITS);
    };
    let b = text.as_bytes();
    // `.5`, `.inf`, `.nan` (only `.inf` may carry a sign)
    let mut c = Cur(b);
    if c.eat_str(".") {
        if c.eat(DIGITS) {
            c.many(DIGITS_);
            exponent(&mut c);
            return c.done();
        }
        return matches!(c.0, b"inf" | b"Inf" | b"INF" | b"nan" | b"NaN" | b"NAN");
    }
    let mut c = Cur(b);
    c.eat(b"-+");
    if c.eat_str(".") {
        return matches!(c.0, b"inf" | b"Inf" | b"INF");
    }
    if !c.eat(DIGITS) {
        return false;
    }
    c.many(DIGITS_);
    let rest = c.0;
    // `1.5`, `1_0.`, `1.0e+3`
    if c.eat(b".") {
        c.many(DIGITS_);
        exponent(&mut c);
        return c.done();
    }
    // `1:30.5`
    let mut c = Cur(rest);
    c.sexagesimal() && c.eat(b".") && {
        c.many(DIGITS_);
        c.done()
    }
}

/// PyYAML's int regex.
fn is_int_text(text: &str) -> bool {
    let mut c = Cur(text.as_bytes());
    c.eat(b"-+");
    let body = c.0;
    let all = |c: &Cur, set: &[u8]| !c.0.is_empty() && c.0.iter().all(|b| set.contains(b));
    if c.eat_str("0b") {
        return all(&c, b"01_");
    }
    if c.eat_str("0x") {
        return all(&c, b"0123456789abcdefABCDEF_");
    }
    if c.eat_str("0") {
        return c.done() || all(&c, b"01234567_");
    }
    let mut c = Cur(body);
    if !c.eat(b"123456789") {
        return false;
    }
    c.many(DIGITS_);
    c.done() || (c.sexagesimal() && c.done())
}

// ---------------------------------------------------------------------------------------------
// Constructor: nodes to values, as Salt's SaltYamlSafeLoader builds Python objects.

/// A constructed scalar, before it becomes a JSON value or a map key.
enum Scalar {
    Null,
    Bool(bool),
    /// `None` when the int is too big even for i128 (Python would still hold it).
    Int(Option<i128>),
    Float(f64),
    Str(String),
}

struct Builder {
    budget: usize,
}

impl Builder {
    /// `depth` counts the collections around `node`; a value JSON cannot carry fails at the
    /// root, so the word stays whole, and becomes its text below it.
    fn value(&mut self, node: &Node, depth: usize) -> Result<Value, Reject> {
        // Aliases can build what the source never nested or repeated: bound both.
        self.budget = self.budget.checked_sub(1).ok_or(Reject)?;
        match (node.tag(), node) {
            (Tag::Seq | Tag::Map, _) if depth >= MAX_DEPTH => Err(Reject),
            (Tag::Seq, Node::Seq(_, items)) => items
                .iter()
                .map(|item| self.value(item, depth + 1))
                .collect::<Result<_, _>>()
                .map(Value::Array),
            (Tag::Map, Node::Map(_, pairs)) => self.mapping(pairs, depth),
            (tag, _) => {
                let (scalar, text) = scalar(tag, node)?;
                let json = match scalar {
                    Scalar::Null => Some(Value::Null),
                    Scalar::Bool(b) => Some(Value::Bool(b)),
                    Scalar::Int(i) => i.and_then(json_int),
                    Scalar::Float(f) => Number::from_f64(f).map(Value::Number),
                    Scalar::Str(s) => Some(Value::String(s)),
                };
                match json {
                    Some(v) => Ok(v),
                    None if depth > 0 => Ok(Value::String(text)),
                    None => Err(Reject),
                }
            }
        }
    }

    fn mapping(&mut self, pairs: &[(Rc<Node>, Rc<Node>)], depth: usize) -> Result<Value, Reject> {
        let pairs = self.flatten(pairs, depth)?;
        let mut seen = HashSet::new();
        let mut map = Map::new();
        for (key, value) in &pairs {
            let tag = match key.tag() {
                // Lists and maps are unhashable as Python dict keys.
                Tag::Seq | Tag::Map => return Err(Reject),
                // Salt's flatten_mapping makes `=` keys strings.
                Tag::YamlValue => Tag::Str,
                tag => tag,
            };
            let (key, text) = scalar(tag, key)?;
            let value = self.value(value, depth + 1)?;
            // Salt refuses a key equal (as Python compares) to an earlier one.
            if let Some(id) = key_identity(&key, &text) {
                if !seen.insert(id) {
                    return Err(Reject);
                }
            }
            // Distinct Python keys may render alike (1 and "1"): the last wins, as in Salt's JSON.
            map.insert(py_str(key, text), value);
        }
        Ok(Value::Object(map))
    }

    /// Salt's `flatten_mapping`: `<<` keys pull in other maps' pairs, which yield to the map's own.
    fn flatten(&mut self, pairs: &[(Rc<Node>, Rc<Node>)], depth: usize) -> Result<Pairs, Reject> {
        // Merging aliased maps into each other can repeat pairs exponentially: charge for them.
        self.budget = self.budget.checked_sub(pairs.len()).ok_or(Reject)?;
        if depth >= MAX_DEPTH {
            return Err(Reject);
        }
        let mut merged = Vec::new();
        let mut own = Vec::new();
        for (key, value) in pairs {
            if key.tag() != Tag::Merge {
                own.push((key.clone(), value.clone()));
                continue;
            }
            match &**value {
                Node::Map(_, inner) => merged.extend(self.flatten(inner, depth + 1)?),
                Node::Seq(_, maps) => {
                    let mut parts = Vec::new();
                    for map in maps {
                        let Node::Map(_, inner) = &**map else {
                            return Err(Reject);
                        };
                        parts.push(self.flatten(inner, depth + 1)?);
                    }
                    // Earlier maps in the list win, so they are applied last.
                    merged.extend(parts.into_iter().rev().flatten());
                }
                Node::Scalar(..) => return Err(Reject),
            }
        }
        // Salt compares the keys' source text here, not their values.
        let own_keys: HashSet<String> = own
            .iter()
            .filter_map(|(k, _)| match &**k {
                Node::Scalar(_, t) => Some(t.clone()),
                _ => None,
            })
            .collect();
        merged.retain(|(k, _)| !matches!(&**k, Node::Scalar(_, t) if own_keys.contains(t)));
        merged.extend(own);
        Ok(merged)
    }
}

fn json_int(i: i128) -> Option<Value> {
    if let Ok(i) = i64::try_from(i) {
        Some(Value::from(i))
    } else {
        u64::try_from(i).ok().map(Value::from)
    }
}

/// The scalar constructors of PyYAML's SafeConstructor with Salt's overrides, and the text
/// they read.
fn scalar(tag: Tag, node: &Node) -> Result<(Scalar, String), Reject> {
    let text = scalar_text(node, 0)?;
    let scalar = match tag {
        Tag::Null => Scalar::Null,
        Tag::Bool => match text.to_ascii_lowercase().as_str() {
            "yes" | "true" | "on" => Scalar::Bool(true),
            "no" | "false" | "off" => Scalar::Bool(false),
            _ => return Err(Reject),
        },
        Tag::Int => Scalar::Int(construct_int(&text)?),
        Tag::Float => Scalar::Float(construct_float(&text)?),
        Tag::Str => Scalar::Str(text.clone()),
        Tag::Seq | Tag::Map | Tag::Merge | Tag::YamlValue | Tag::Unknown => return Err(Reject),
    };
    Ok((scalar, text))
}

/// SafeConstructor's `construct_scalar` under Salt's override: a scalar's text (without
/// leading zeros if it is an int), or for a map the text of its first `=` key's value.
fn scalar_text(node: &Node, depth: usize) -> Result<String, Reject> {
    if depth >= MAX_DEPTH {
        return Err(Reject);
    }
    match node {
        Node::Scalar(Tag::Int, text) if text != "0" && text.starts_with('0') => {
            if text.starts_with("0b") || text.starts_with("0x") {
                return Ok(text.clone());
            }
            // Salt: a leading zero means decimal, not YAML 1.1 octal (`-0755` slips past).
            let digits = text.trim_start_matches('0');
            Ok(if digits.is_empty() { "0" } else { digits }.to_owned())
        }
        Node::Scalar(_, text) => Ok(text.clone()),
        // Salt's override calls `str.startswith` on the map's pairs there and fails.
        Node::Map(Tag::Int, _) => Err(Reject),
        Node::Map(_, pairs) => match pairs.iter().find(|(k, _)| k.tag() == Tag::YamlValue) {
            Some((_, value)) => scalar_text(value, depth + 1),
            None => Err(Reject),
        },
        Node::Seq(..) => Err(Reject),
    }
}

/// Splits PyYAML's leading sign off; an empty value is Python's IndexError.
fn sign(value: &str) -> Result<(bool, &str), Reject> {
    match value.as_bytes().first() {
        None => Err(Reject),
        Some(b'-') => Ok((true, &value[1..])),
        Some(b'+') => Ok((false, &value[1..])),
        Some(_) => Ok((false, value)),
    }
}

fn construct_int(text: &str) -> Result<Option<i128>, Reject> {
    let value = text.replace('_', "");
    let (negative, body) = sign(&value)?;
    let magnitude = if body == "0" {
        Some(0)
    } else if let Some(bin) = body.strip_prefix("0b") {
        py_int(bin, 2)?
    } else if let Some(hex) = body.strip_prefix("0x") {
        py_int(hex, 16)?
    } else if body.starts_with('0') {
        py_int(body, 8)?
    } else if body.contains(':') {
        let mut total = Some(0i128);
        for part in body.split(':') {
            let part = py_int(part, 10)?;
            total = total.and_then(|t| t.checked_mul(60)?.checked_add(part?));
        }
        total
    } else {
        py_int(body, 10)?
    };
    Ok(magnitude.and_then(|m| if negative { m.checked_neg() } else { Some(m) }))
}

/// Python's `int(s, base)` on ASCII digits; `Ok(None)` when it would outgrow i128.
fn py_int(s: &str, base: u32) -> Result<Option<i128>, Reject> {
    let s = s.trim_matches(py_space);
    let (negative, mut digits) = sign(s)?;
    let prefix = match base {
        2 => "0b",
        8 => "0o",
        16 => "0x",
        _ => "",
    };
    if !prefix.is_empty()
        && digits
            .get(..2)
            .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
    {
        digits = &digits[2..];
    }
    if digits.is_empty() {
        return Err(Reject);
    }
    let mut total = Some(0i128);
    for c in digits.chars() {
        let d = c.to_digit(base).ok_or(Reject)?;
        total = total.and_then(|t| t.checked_mul(i128::from(base))?.checked_add(i128::from(d)));
    }
    Ok(total.map(|t| if negative { -t } else { t }))
}

fn construct_float(text: &str) -> Result<f64, Reject> {
    let value = text.replace('_', "").to_lowercase();
    let (negative, body) = sign(&value)?;
    let magnitude = match body {
        ".inf" => f64::INFINITY,
        ".nan" => f64::NAN,
        _ if body.contains(':') => {
            let parts = body
                .split(':')
                .map(py_float)
                .collect::<Result<Vec<_>, _>>()?;
            // Summed from the last part up, as PyYAML does, so the rounding is the same.
            let (mut total, mut base) = (0.0, 1.0);
            for part in parts.iter().rev() {
                total += part * base;
                base *= 60.0;
            }
            total
        }
        _ => py_float(body)?,
    };
    Ok(if negative { -magnitude } else { magnitude })
}

/// Python's `float(s)`: Rust's grammar is the same for ASCII text once whitespace is gone.
fn py_float(s: &str) -> Result<f64, Reject> {
    s.trim_matches(py_space).parse().map_err(|_| Reject)
}

/// What Python's `==` (and so dict lookup) sees in a key; `None` for NaN, equal to nothing.
#[derive(Hash, PartialEq, Eq)]
enum KeyId {
    Null,
    Str(String),
    Int(i128),
    Float(u64),
    BigInt(String),
}

fn key_identity(key: &Scalar, text: &str) -> Option<KeyId> {
    Some(match key {
        Scalar::Null => KeyId::Null,
        Scalar::Str(s) => KeyId::Str(s.clone()),
        Scalar::Bool(b) => KeyId::Int(i128::from(*b)),
        Scalar::Int(Some(i)) => KeyId::Int(*i),
        Scalar::Int(None) => KeyId::BigInt(text.to_owned()),
        Scalar::Float(f) if f.is_nan() => return None,
        // 1.0 == 1 and -0.0 == 0 in Python.
        Scalar::Float(f) if f.fract() == 0.0 && f.abs() < 1e38 => KeyId::Int(*f as i128),
        Scalar::Float(f) => KeyId::Float(f.to_bits()),
    })
}

/// Python's `str()` of a key, which is how Salt's values reach JSON.
fn py_str(key: Scalar, text: String) -> String {
    match key {
        Scalar::Null => "None".to_owned(),
        Scalar::Bool(b) => (if b { "True" } else { "False" }).to_owned(),
        Scalar::Int(Some(i)) => i.to_string(),
        Scalar::Int(None) => text,
        Scalar::Float(f) => py_float_repr(f),
        Scalar::Str(s) => s,
    }
}

/// Python's `repr(float)`: shortest digits, exponent form below 1e-4 and from 1e16 up.
fn py_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".to_owned();
    }
    if f.is_infinite() {
        return (if f > 0.0 { "inf" } else { "-inf" }).to_owned();
    }
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let sign = if f.is_sign_negative() { "-" } else { "" };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if !(-4..16).contains(&exp) {
        let (head, tail) = digits.split_at(1);
        let dot = if tail.is_empty() { "" } else { "." };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{head}{dot}{tail}e{esign}{:02}", exp.abs());
    }
    let point = exp + 1;
    if point <= 0 {
        let zeros = "0".repeat(point.unsigned_abs() as usize);
        return format!("{sign}0.{zeros}{digits}");
    }
    let point = point as usize;
    if digits.len() > point {
        format!("{sign}{}.{}", &digits[..point], &digits[point..])
    } else {
        format!("{sign}{digits}{}.0", "0".repeat(point - digits.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn y(word: &str) -> Value {
        yamlify_arg(word)
    }

    /// Salt 3007's own output (`gen_salt_fixtures.py`), every case, bar the listed differences.
    #[test]
    fn matches_salt_fixture() {
        // Word, the float Salt gave (fixture marker `{"__float__": ..}`), why brine keeps the word.
        const DIFFERENCES: &[(&str, &str, &str)] = &[
            (".inf", "inf", "serde_json::Value has no infinity"),
            ("-.inf", "-inf", "serde_json::Value has no infinity"),
            (".nan", "nan", "serde_json::Value has no NaN"),
        ];
        fn substitute(v: &Value, table: &[(&str, &str, &str)]) -> Value {
            match v {
                Value::Object(m) if m.keys().any(|k| k.starts_with("__")) => {
                    let found = table
                        .iter()
                        .find(|(_, float, _)| *v == json!({ "__float__": float }));
                    match found {
                        Some((word, _, _)) => Value::String((*word).to_owned()),
                        None => panic!("unlisted difference: Salt gave {v}"),
                    }
                }
                Value::Object(m) => Value::Object(
                    m.iter()
                        .map(|(k, x)| (k.clone(), substitute(x, table)))
                        .collect(),
                ),
                Value::Array(a) => Value::Array(a.iter().map(|x| substitute(x, table)).collect()),
                _ => v.clone(),
            }
        }
        let fixture: Value =
            serde_json::from_str(include_str!("../../tests/fixtures/salt/args.json")).unwrap();
        let cases = fixture["cases"].as_array().unwrap();
        assert!(cases.len() >= 148);
        for case in cases {
            let words: Vec<&str> = case["input"]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| w.as_str().unwrap())
                .collect();
            let (args, kwargs) = parse_input(&words);
            assert_eq!(
                Value::Array(args),
                substitute(&case["args"], DIFFERENCES),
                "args of {words:?}"
            );
            assert_eq!(
                Value::Object(kwargs),
                substitute(&case["kwargs"], DIFFERENCES),
                "kwargs of {words:?}"
            );
        }
    }

    #[test]
    fn kwarg_names_follow_salts_regex() {
        assert_eq!(split_kwarg("a.b-c_d=1"), Some(("a.b-c_d", "1")));
        assert_eq!(split_kwarg("ünï=1"), Some(("ünï", "1")));
        assert_eq!(split_kwarg("k=v\n"), Some(("k", "v")));
        assert_eq!(split_kwarg("k=a\nb"), None);
        assert_eq!(split_kwarg("k==v"), None);
        assert_eq!(split_kwarg("1k=v"), None);
        assert_eq!(split_kwarg("k y=v"), None);
        let (args, kwargs) = parse_input(&["k=1", "x", "k=2"]);
        assert_eq!(args, vec![json!("x")]);
        assert_eq!(Value::Object(kwargs), json!({"k": 2}));
    }

    /// Each checked against Salt's loader (libyaml 0.2.5 under PyYAML 6).
    #[test]
    fn scalars_resolve_as_salt_does() {
        for (word, want) in [
            ("-0755", json!(-493)), // Salt's leading-zero fix misses a sign: octal again
            ("+0755", json!(493)),
            ("0789", json!("0789")),
            ("0b101", json!(5)),
            ("-0x1F", json!(-31)),
            ("0x_", json!("0x_")),
            ("-0_7", json!(-7)),
            ("190:20:30", json!(685230)),
            ("-1:30", json!(-90)),
            ("1:60", json!("1:60")),
            ("0:30", json!("0:30")),
            ("1:30.5", json!(90.5)),
            ("1.e+3", json!(1000.0)),
            ("1.0e3", json!("1.0e3")),
            (".5", json!(0.5)),
            ("-.5", json!("-.5")),
            ("+.inf", json!("+.inf")),
            ("-.nan", json!("-.nan")),
            ("18446744073709551615", json!(18446744073709551615u64)),
            ("18446744073709551616", json!("18446744073709551616")),
            ("-9223372036854775809", json!("-9223372036854775809")),
            ("\u{feff}5", json!(5)),
            ("\u{feff}", json!(null)),
            ("=", json!("=")),
            ("<<", json!("<<")),
            ("!", json!("!")),
            ("!!str", json!("")),
            ("! 5", json!(5)),
            ("! '5'", json!(5)),
            ("!!int '5'", json!(5)),
            ("!!int ' 5 '", json!(5)),
            ("!!int --5", json!(5)),
            ("!!int 0x0x10", json!(16)),
            ("!!int 0o17", json!("!!int 0o17")),
            ("!!float 1", json!(1.0)),
            ("!!float ' 1.5 '", json!(1.5)),
            ("!!bool YES", json!(true)),
            ("!!bool x", json!("!!bool x")),
            ("!!null x", json!(null)),
            ("!!timestamp 2024-01-01", json!("2024-01-01")),
            ("!!python/unicode x", json!("x")),
            ("!<tag:yaml.org,2002:int> 5", json!(5)),
            ("!<!> 5", json!(5)),
            ("!!binary aGk=", json!("!!binary aGk=")),
            ("&a", json!(null)),
            ("&a 5", json!(5)),
            ("|+", json!("")),
            ("|-1", json!("")),
            ("|0", json!("|0")),
            ("| x", json!("| x")),
            ("--- |", json!("")),
            ("--- 5", json!(5)),
            ("... x", json!("... x")),
            ("\"\\x41\\u00e9\\U0001F600\\/\"", json!("Aé😀/")),
            ("\"\\ud800\"", json!("\"\\ud800\"")),
            ("\"\\'\"", json!("\"\\'\"")),
            ("\"a\\\"", json!("\"a\\\"")),
            ("'it''s'", json!("it's")),
            ("'a' b", json!("'a' b")),
            ("a 'b'", json!("a 'b'")),
            (" %x", json!(" %x")),
            ("`a", json!("`a")),
            (" 5 ", json!(5)),
            ("a\u{85}b", json!("a\u{85}b")), // Salt folds this to "a b": see the module docs
            // The reader drops one BOM; the scanner skips another in column 0, which then is 1.
            ("\u{feff}--- 5", json!(5)),
            ("\u{feff}\u{feff}", json!(null)),
            ("\u{feff}\u{feff}--- 5", json!("--- 5")),
            ("\u{feff}... x", json!("\u{feff}... x")),
            // SafeConstructor reads a map with a `=` key as that key's value.
            ("!!str {a: 1, =: 0755} #", json!("!!str {a: 1, =: 0755} #")),
            ("[!!str {a: 1, =: 0755}]", json!(["755"])),
            ("[!!float {=: 1.5}]", json!([1.5])),
            ("[!!int {=: 5}]", json!("[!!int {=: 5}]")),
            ("{!!str {=: a}: b}", json!({"a": "b"})),
        ] {
            assert_eq!(y(word), want, "{word:?}");
        }
    }

    #[test]
    fn collections_follow_libyaml() {
        for (word, want) in [
            ("{a:1}", json!({"a:1": null})),
            ("[a:b]", json!(["a:b"])),
            ("{a:[1]}", json!("{a:[1]}")), // libyaml 0.2.5 rejects `:[` inside a plain scalar
            ("[a :,]", json!("[a :,]")),
            ("[a: ,]", json!([{"a": null}])),
            ("[:b]", json!("[:b]")),
            ("{:b}", json!("{:b}")),
            ("{? : b}", json!({"None": "b"})),
            ("[? a : b]", json!([{"a": "b"}])),
            ("{\"a\":1}", json!({"a": 1})),
            ("['a':1]", json!([{"a": 1}])),
            ("[a b: c]", json!([{"a b": "c"}])),
            ("{a, b}", json!({"a": null, "b": null})),
            ("[a,]", json!(["a"])),
            ("[,]", json!("[,]")),
            ("[a #c]", json!("[a #c]")),
            ("[1]#c", json!([1])),
            ("{a: 1}#x", json!({"a": 1})),
            ("'a'#c", json!("'a'#c")),
            ("[a, b]x", json!("[a, b]x")),
            ("[!!str, a]", json!(["", "a"])),
            ("[!!str]", json!("[!!str]")),
            ("{!!str: a}", json!("{!!str: a}")),
            ("[&a 5, *a]", json!([5, 5])),
            ("[&a 1, &a 2]", json!("[&a 1, &a 2]")),
            ("[&a: 1]", json!([{"None": 1}])),
            ("[<<]", json!("[<<]")),
            ("[=]", json!("[=]")),
            ("{=: 1}", json!({"=": 1})),
            (
                "{<<: [{a: 1}, {b: 2}], c: 3}",
                json!({"b": 2, "a": 1, "c": 3}),
            ),
            ("{<<: [{a: 1}, {a: 2}]}", json!("{<<: [{a: 1}, {a: 2}]}")),
            ("{<<: {a: 1}, a: 2}", json!({"a": 2})),
            ("{1: a, 1.0: b}", json!("{1: a, 1.0: b}")),
            ("{~: 1, null: 2}", json!("{~: 1, null: 2}")),
            ("{1: a, '1': b}", json!({"1": "b"})),
            (
                "{1.5: x, 1e+16: y, 1.0e+16: z}",
                json!({"1.5": "x", "1e+16": "z"}),
            ),
            (
                "{yes: 1, 0.0001: 2, 0.00001: 3}",
                json!({"True": 1, "0.0001": 2, "1e-05": 3}),
            ),
            (
                "[.inf, 99999999999999999999]",
                json!([".inf", "99999999999999999999"]),
            ),
            ("[&a [*a]]", json!("[&a [*a]]")),
            // libyaml skips the token after an empty `?` key in a flow sequence.
            ("[? ]", json!("[? ]")),
            ("[? , a]", json!("[? , a]")),
            ("[? ,]", json!([{"None": null}])),
            ("[? : ]", json!([{"None": null}])),
            ("[? a, ? : ,]", json!([{"a": null}, {"None": null}])),
            ("{? }", json!({"None": null})),
            ("{? ,a}", json!({"None": null, "a": null})),
            // Block structure on one line only counts where a `#` lets Salt keep non-strings.
            ("- a #", json!(["a"])),
            ("- - a #", json!([["a"]])),
            ("- a: b #", json!([{"a": "b"}])),
            ("? a #", json!({"a": null})),
            ("x: y #c", json!({"x": "y"})),
            ("- #", json!([null])),
            ("a: | #", json!({"a": ""})),
            ("--- [1] #", json!([1])),
            ("a: b: c #", json!("a: b: c #")),
            ("a: - b #", json!("a: - b #")),
            (": b #", json!(": b #")),
            ("? a : b #", json!("? a : b #")),
            ("[a]: b #", json!("[a]: b #")),
            ("--- a: b #", json!("--- a: b #")),
            ("--- - a #", json!("--- - a #")),
            ("! [1]", json!("! [1]")),
            ("! [1] #", json!([1])),
            ("!!map {a: 1} #", json!({"a": 1})),
            ("!!str [1] #", json!("!!str [1] #")),
            (" {a: 1}", json!(" {a: 1}")),
        ] {
            assert_eq!(y(word), want, "{word:?}");
        }
    }

    #[test]
    fn implicit_keys_stop_at_1024_chars() {
        let key = |n: usize| format!("{{{}: 1}}", "é".repeat(n));
        assert!(y(&key(1024)).is_object());
        assert_eq!(y(&key(1025)), json!(key(1025)));
    }

    #[test]
    fn nesting_is_capped() {
        let nest = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(y(&nest(MAX_DEPTH)).is_array());
        assert_eq!(y(&nest(MAX_DEPTH + 1)), json!(nest(MAX_DEPTH + 1)));
        assert_eq!(y(&"[".repeat(100_000)), json!("[".repeat(100_000)));
        let blocks = format!("{}a #", "- ".repeat(MAX_DEPTH + 1));
        assert_eq!(y(&blocks), json!(blocks));
        // Aliases nest without the source nesting.
        let mut chain = String::from("[&a0 []");
        for i in 1..100 {
            chain.push_str(&format!(", &a{i} [*a{}]", i - 1));
        }
        chain.push(']');
        assert_eq!(y(&chain), json!(chain));
    }

    #[test]
    fn alias_expansion_is_bounded() {
        let mut laughs = String::from("[&a0 [x, x]");
        for i in 1..40 {
            laughs.push_str(&format!(", &a{i} [*a{0}, *a{0}]", i - 1));
        }
        laughs.push(']');
        assert_eq!(y(&laughs), json!(laughs));
    }

    #[test]
    fn float_keys_render_as_python_repr() {
        for (f, want) in [
            (1.5, "1.5"),
            (-0.0, "-0.0"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.2345678901234568e17, "1.2345678901234568e+17"),
            (0.0001, "0.0001"),
            (1.5e-5, "1.5e-05"),
            (123.456, "123.456"),
        ] {
            assert_eq!(py_float_repr(f), want);
        }
    }

    /// A tiny xorshift, so the test needs no extra crates and replays the same inputs.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    #[test]
    fn fuzz_entry_takes_any_bytes() {
        fuzz_parse(b"myqueue\0['a','b']\0backend=sqlite\0\xff\xfe[");
        fuzz_parse(b"");
    }

    #[test]
    fn arbitrary_input_never_panics() {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        // Raw bytes, then words built from the characters YAML gives meaning to.
        for _ in 0..4000 {
            let len = (rng.next() % 24) as usize;
            let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            let word = String::from_utf8_lossy(&bytes);
            let _ = parse_input(&[word.as_ref()]);
        }
        let alphabet: Vec<char> = "[]{},:?-!&*'\"#|>%@`<=~ . a b 0 1 x _ é \\ \u{feff}"
            .chars()
            .collect();
        for _ in 0..20000 {
            let len = (rng.next() % 16) as usize;
            let word: String = (0..len)
                .map(|_| alphabet[(rng.next() % alphabet.len() as u64) as usize])
                .collect();
            let _ = parse_input(&[word.as_str(), &format!("k={word}")]);
        }
    }
}

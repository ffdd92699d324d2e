//! libyaml's scanner for one line: characters to tokens. Column and index are both the
//! char position, since there is only the one line; that also makes libyaml's "required"
//! simple keys impossible.

use super::*;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
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
pub(super) struct SimpleKey {
    pub(super) token: usize,
    pub(super) pos: usize,
}

pub(super) struct Scanner<'a> {
    pub(super) s: &'a [char],
    pub(super) pos: usize,
    pub(super) tokens: Vec<Tok>,
    pub(super) flow: usize,
    pub(super) indent: isize,
    pub(super) indents: Vec<isize>,
    pub(super) allow_key: bool,
    /// One slot per flow level (slot 0 is block context).
    pub(super) keys: Vec<Option<SimpleKey>>,
}

pub(super) fn blankz(c: Option<char>) -> bool {
    matches!(c, None | Some(' '))
}

/// libyaml's IS_ALPHA: the characters of anchor names and tag handles.
pub(super) fn word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

impl<'a> Scanner<'a> {
    pub(super) fn new(s: &'a [char]) -> Self {
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

    pub(super) fn peek(&self, ahead: usize) -> Option<char> {
        self.s.get(self.pos + ahead).copied()
    }

    pub(super) fn run(mut self) -> Result<Vec<Tok>, Reject> {
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

    pub(super) fn doc_marker(&self, c: char) -> bool {
        self.peek(1) == Some(c) && self.peek(2) == Some(c) && blankz(self.peek(3))
    }

    /// Spaces, a (second) byte-order mark in column 0, and a comment (no space needed before it).
    pub(super) fn skip_to_token(&mut self) {
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

    pub(super) fn drop_stale_keys(&mut self) {
        let pos = self.pos;
        for slot in &mut self.keys {
            if slot.is_some_and(|k| k.pos + SIMPLE_KEY_LIMIT < pos) {
                *slot = None;
            }
        }
    }

    pub(super) fn save_key(&mut self) {
        if self.allow_key {
            let key = SimpleKey {
                token: self.tokens.len(),
                pos: self.pos,
            };
            self.set_key(Some(key));
        }
    }

    pub(super) fn remove_key(&mut self) {
        self.set_key(None);
    }

    pub(super) fn set_key(&mut self, key: Option<SimpleKey>) {
        if let Some(slot) = self.keys.last_mut() {
            *slot = key;
        }
    }

    /// Opens a block collection at `column` unless one is already open there (block context only).
    pub(super) fn roll(&mut self, column: usize, at: Option<usize>, tok: Tok) {
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

    pub(super) fn unroll(&mut self) {
        if self.flow > 0 {
            return;
        }
        while let Some(indent) = self.indents.pop() {
            self.indent = indent;
            self.tokens.push(Tok::BlockEnd);
        }
    }

    /// `- ` and `? `: in block context they may only stand where a key could.
    pub(super) fn block_indicator(&mut self, start: Tok) -> Result<(), Reject> {
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
    pub(super) fn value(&mut self) -> Result<(), Reject> {
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

    pub(super) fn anchor_name(&mut self) -> Result<String, Reject> {
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

    pub(super) fn tag(&mut self) -> Result<String, Reject> {
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
    pub(super) fn tag_uri(&mut self, verbatim: bool) -> Result<String, Reject> {
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
    pub(super) fn block_scalar_header(&mut self) -> Result<(), Reject> {
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

    pub(super) fn quoted(&mut self, double: bool) -> Result<String, Reject> {
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
    pub(super) fn escape(&mut self) -> Result<char, Reject> {
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

    pub(super) fn plain_start(&self, c: char, next: Option<char>) -> bool {
        !(c == ' ' || "-?:,[]{}#&*!|>'\"%@`".contains(c))
            || (c == '-' && next != Some(' '))
            || (self.flow == 0 && (c == '?' || c == ':') && !blankz(next))
    }

    pub(super) fn plain(&mut self) -> Result<String, Reject> {
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

//! The parser and composer: tokens to a node graph, with explicit tags read, as libyaml
//! and PyYAML compose one line.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Tag {
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

pub(super) type Pairs = Vec<(Rc<Node>, Rc<Node>)>;

#[derive(Debug)]
pub(super) enum Node {
    Scalar(Tag, String),
    Seq(Tag, Vec<Rc<Node>>),
    Map(Tag, Pairs),
}

impl Node {
    pub(super) fn tag(&self) -> Tag {
        match self {
            Node::Scalar(tag, _) | Node::Seq(tag, _) | Node::Map(tag, _) => *tag,
        }
    }
}

pub(super) fn empty_node() -> Rc<Node> {
    Rc::new(Node::Scalar(Tag::Null, String::new()))
}

/// An explicit tag's meaning; `python/unicode` and `timestamp` are strings in Salt's loader.
pub(super) fn explicit_tag(tag: &str) -> Tag {
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

pub(super) struct Parser {
    pub(super) toks: Vec<Tok>,
    pub(super) at: usize,
    /// `None` while the anchored node is still being built: an alias to it would be a cycle.
    pub(super) anchors: HashMap<String, Option<Rc<Node>>>,
    pub(super) depth: usize,
}

impl Parser {
    pub(super) fn new(toks: Vec<Tok>) -> Self {
        Parser {
            toks,
            at: 0,
            anchors: HashMap::new(),
            depth: 0,
        }
    }

    pub(super) fn peek(&self) -> &Tok {
        self.toks.get(self.at).unwrap_or(&Tok::StreamEnd)
    }

    pub(super) fn take(&mut self) -> Tok {
        match self.toks.get_mut(self.at) {
            Some(tok) => {
                self.at += 1;
                std::mem::replace(tok, Tok::StreamEnd)
            }
            None => Tok::StreamEnd,
        }
    }

    pub(super) fn eat(&mut self, tok: &Tok) -> bool {
        let found = self.peek() == tok;
        if found {
            self.at += 1;
        }
        found
    }

    /// The single document; `None` when the stream holds none.
    pub(super) fn document(mut self) -> Result<Option<Rc<Node>>, Reject> {
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

    pub(super) fn node(&mut self, block: bool) -> Result<Rc<Node>, Reject> {
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

    pub(super) fn collection(
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
    pub(super) fn node_or_empty(&mut self, block: bool, stops: &[Tok]) -> Result<Rc<Node>, Reject> {
        if stops.contains(self.peek()) {
            Ok(empty_node())
        } else {
            self.node(block)
        }
    }

    pub(super) fn flow_seq(&mut self, tag: Option<Tag>) -> Result<Node, Reject> {
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

    pub(super) fn flow_map(&mut self, tag: Option<Tag>) -> Result<Node, Reject> {
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

    pub(super) fn block_seq(&mut self, tag: Option<Tag>) -> Result<Node, Reject> {
        let mut items = Vec::new();
        while self.eat(&Tok::BlockEntry) {
            items.push(self.node_or_empty(true, &[Tok::BlockEntry, Tok::BlockEnd])?);
        }
        if !self.eat(&Tok::BlockEnd) {
            return Err(Reject);
        }
        Ok(Node::Seq(tag.unwrap_or(Tag::Seq), items))
    }

    pub(super) fn block_map(&mut self, tag: Option<Tag>) -> Result<Node, Reject> {
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

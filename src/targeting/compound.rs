//! Compound expressions: the words of a compound target compiled into operands and the Python
//! boolean expression Salt's `eval` runs over their values.

use crate::matcher::Glob;

use super::operand::{compile_match, parse_word, Operand};
use super::{ip, py_split, TargetError, MAX_GRAIN_TEXT, MAX_NESTING};

/// A token of the Python expression Salt builds from the words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tok {
    And,
    Or,
    Not,
    Open,
    Close,
    /// An operand's value (`True`, `False`, or `[]` for an unparsable `S@`).
    Leaf(usize),
}

/// A compound expression compiled from its words.
pub(super) struct Compiled {
    pub(super) operands: Vec<Operand>,
    pub(super) expr: Node,
    pub(super) missing_from: Vec<usize>,
}

impl Compiled {
    /// Salt's `compound_match` word loop, then Python's parser over the tokens it produces.
    pub(super) fn new(text: &str) -> Result<Compiled, TargetError> {
        let invalid = || TargetError::InvalidCompound {
            expr: text.to_string(),
        };
        let mut toks: Vec<Tok> = Vec::new();
        let mut operands = Vec::new();
        let mut missing_from = Vec::new();
        let mut grain_text = 0;
        for word in py_split(text) {
            let op = match word {
                "and" => Some(Tok::And),
                "or" => Some(Tok::Or),
                "not" => Some(Tok::Not),
                "(" => Some(Tok::Open),
                ")" => Some(Tok::Close),
                _ => None,
            };
            if let Some(op) = op {
                match toks.last() {
                    // An expression may open with `not` or `(` only.
                    None if !matches!(op, Tok::Not | Tok::Open) => return Err(invalid()),
                    Some(Tok::Open) if matches!(op, Tok::And | Tok::Or) => return Err(invalid()),
                    // `a not b` reads as `a and not b`; so does `not not b` (`not and not b`),
                    // which Python then rejects.
                    Some(last)
                        if op == Tok::Not && !matches!(last, Tok::And | Tok::Or | Tok::Open) =>
                    {
                        toks.push(Tok::And)
                    }
                    _ => {}
                }
                toks.push(op);
                continue;
            }
            let parsed = parse_word(word);
            let operand = match parsed.engine {
                None => Operand::Glob(Glob::new(word)),
                Some(engine @ ('G' | 'P')) => {
                    grain_text += parsed.pattern.len();
                    if grain_text > MAX_GRAIN_TEXT {
                        return Err(TargetError::GrainTextTooLong { len: grain_text });
                    }
                    Operand::Grain {
                        expr: parsed.pattern.to_string(),
                        delimiter: parsed.delimiter.unwrap_or(':').to_string(),
                        regex: engine == 'P',
                    }
                }
                Some('I' | 'J') => Operand::Pillar,
                Some('L') => Operand::List(parsed.pattern.to_string()),
                Some('S') => Operand::Ipcidr(ip::Target::parse(parsed.pattern)),
                Some('E') => Operand::Pcre(compile_match(parsed.pattern)?),
                // `R@` needs seco.range, which a Salt minion rarely has and brine never does.
                // `N@` only survives resolution inside a list-form group entry holding a space
                // (`['a N@x']`), which Salt's minions could not resolve either.
                Some(engine) => {
                    return Err(TargetError::UnknownEngine {
                        engine,
                        word: word.to_string(),
                    })
                }
            };
            if matches!(operand, Operand::List(_)) && toks.last() != Some(&Tok::Not) {
                missing_from.push(operands.len());
            }
            toks.push(Tok::Leaf(operands.len()));
            operands.push(operand);
        }
        // Python's tokenizer counts brackets before anything is parsed; `[]` opens one too.
        let mut level = 0usize;
        for tok in &toks {
            let opens = match tok {
                Tok::Open => 1,
                Tok::Leaf(i) if matches!(operands.get(*i), Some(Operand::Ipcidr(None))) => 1,
                _ => 0,
            };
            if level + opens > MAX_NESTING {
                return Err(invalid());
            }
            match tok {
                Tok::Open => level += 1,
                Tok::Close => level = level.checked_sub(1).ok_or_else(invalid)?,
                _ => {}
            }
        }
        let mut parser = Parser {
            toks: &toks,
            pos: 0,
        };
        let expr = parser.disjunction().ok_or_else(invalid)?;
        if parser.pos != toks.len() {
            return Err(invalid());
        }
        Ok(Compiled {
            operands,
            expr,
            missing_from,
        })
    }
}

/// The expression Python's `eval` would evaluate.
#[derive(Clone, Debug)]
pub(super) enum Node {
    Leaf(usize),
    /// `( )`: an empty tuple, false.
    Empty,
    /// A call such as `True ( False )`: TypeError when evaluation reaches it.
    Call,
    Not(Box<Node>),
    And(Vec<Node>),
    Or(Vec<Node>),
}

/// Python raised while evaluating (a call).
pub(super) struct Raised;

impl Node {
    /// Python's evaluation, short-circuits included: `x or y ( z )` is true when `x` is.
    pub(super) fn eval(&self, values: &[bool]) -> Result<bool, Raised> {
        match self {
            Node::Leaf(i) => Ok(values.get(*i).copied().unwrap_or(false)),
            Node::Empty => Ok(false),
            Node::Call => Err(Raised),
            Node::Not(inner) => Ok(!inner.eval(values)?),
            Node::And(items) => {
                for item in items {
                    if !item.eval(values)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Node::Or(items) => {
                for item in items {
                    if item.eval(values)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
        }
    }
}

/// Python's grammar for the only tokens Salt's expression can hold:
///
/// ```text
/// disjunction := conjunction ('or' conjunction)*
/// conjunction := inversion ('and' inversion)*
/// inversion   := 'not' inversion | primary
/// primary     := atom ('(' [disjunction] ')')*      a call
/// atom        := operand | '(' ')' | '(' disjunction ')'
/// ```
///
/// Recursion is bounded: `not` cannot follow `not` in the token stream, and brackets were
/// counted to at most [`MAX_NESTING`] before parsing.
struct Parser<'t> {
    toks: &'t [Tok],
    pos: usize,
}

impl Parser<'_> {
    fn eat(&mut self, tok: Tok) -> bool {
        let hit = self.toks.get(self.pos) == Some(&tok);
        if hit {
            self.pos += 1;
        }
        hit
    }

    fn disjunction(&mut self) -> Option<Node> {
        let first = self.conjunction()?;
        if self.toks.get(self.pos) != Some(&Tok::Or) {
            return Some(first);
        }
        let mut items = vec![first];
        while self.eat(Tok::Or) {
            items.push(self.conjunction()?);
        }
        Some(Node::Or(items))
    }

    fn conjunction(&mut self) -> Option<Node> {
        let first = self.inversion()?;
        if self.toks.get(self.pos) != Some(&Tok::And) {
            return Some(first);
        }
        let mut items = vec![first];
        while self.eat(Tok::And) {
            items.push(self.inversion()?);
        }
        Some(Node::And(items))
    }

    fn inversion(&mut self) -> Option<Node> {
        // A loop, not recursion, and only the parity matters: `not not x` is `x` as a bool.
        let mut negated = false;
        while self.eat(Tok::Not) {
            negated = !negated;
        }
        let node = self.primary()?;
        Some(if negated {
            Node::Not(Box::new(node))
        } else {
            node
        })
    }

    fn primary(&mut self) -> Option<Node> {
        let tok = *self.toks.get(self.pos)?;
        self.pos += 1;
        let mut node = match tok {
            Tok::Leaf(i) => Node::Leaf(i),
            Tok::Open => {
                if self.eat(Tok::Close) {
                    Node::Empty
                } else {
                    let inner = self.disjunction()?;
                    self.eat(Tok::Close).then_some(inner)?
                }
            }
            _ => return None,
        };
        while self.eat(Tok::Open) {
            if !self.eat(Tok::Close) {
                self.disjunction()?;
                if !self.eat(Tok::Close) {
                    return None;
                }
            }
            node = Node::Call;
        }
        Some(node)
    }
}

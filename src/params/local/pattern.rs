//! A small backtracking matcher for `allowed_pattern` constraints.
//!
//! Heat checks `re.match(pattern, value)` and then that the match covers the
//! whole value; the crate has no regex engine, and Python's leftmost-first
//! semantics matter here (`a|ab` does not accept `ab`), so this covers the
//! common subset of Python's syntax with the same priority order: literals,
//! `.`, classes (`[a-z]`, `[^...]`, `\d \w \s` and their negations), groups
//! (`(...)`, `(?:...)`), `|`, greedy and lazy `* + ? {m,n}`, and `^ $ \A \Z
//! \b \B`. Anything else (look-around, back-references, flags) is refused so
//! the caller can say the constraint was not checked.

use std::cell::Cell;

#[derive(Debug)]
pub(crate) struct Pattern {
    root: Node,
}

#[derive(Debug)]
enum Node {
    Char(char),
    Any,
    Class {
        negated: bool,
        items: Vec<Item>,
    },
    Start,
    End,
    TextStart,
    TextEnd,
    Boundary(bool),
    Concat(Vec<Node>),
    Alt(Vec<Node>),
    Repeat {
        node: Box<Node>,
        min: usize,
        max: Option<usize>,
        greedy: bool,
    },
}

#[derive(Debug)]
enum Item {
    Range(char, char),
    Set(Builtin, bool),
}

#[derive(Debug, Clone, Copy)]
enum Builtin {
    Digit,
    Word,
    Space,
}

impl Builtin {
    fn has(self, c: char) -> bool {
        match self {
            Builtin::Digit => c.is_ascii_digit() || (!c.is_ascii() && c.is_numeric()),
            Builtin::Word => c.is_alphanumeric() || c == '_',
            Builtin::Space => c.is_whitespace(),
        }
    }
}

/// Work allowed per match, so a pathological pattern cannot hang a run.
const STEP_BUDGET: usize = 2_000_000;

impl Pattern {
    pub(crate) fn compile(text: &str) -> Result<Pattern, String> {
        let mut p = Parser {
            chars: text.chars().collect(),
            pos: 0,
        };
        let root = p.alternation()?;
        if p.pos < p.chars.len() {
            return Err(format!("unbalanced `)` at offset {}", p.pos));
        }
        Ok(Pattern { root })
    }

    /// Whether the first match at the start (in Python's priority order)
    /// spans the whole text; `None` if the pattern was too costly to decide.
    pub(crate) fn full_match(&self, text: &str) -> Option<bool> {
        let m = Matcher {
            text: text.chars().collect(),
            steps: Cell::new(0),
        };
        let mut end = None;
        m.node(&self.root, 0, &mut |p| {
            end = Some(p);
            true
        });
        if m.steps.get() > STEP_BUDGET {
            return None;
        }
        Some(end == Some(m.text.len()))
    }
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        self.pos += usize::from(c.is_some());
        c
    }

    fn alternation(&mut self) -> Result<Node, String> {
        let mut alts = vec![self.concat()?];
        while self.peek() == Some('|') {
            self.pos += 1;
            alts.push(self.concat()?);
        }
        Ok(if alts.len() == 1 {
            alts.remove(0)
        } else {
            Node::Alt(alts)
        })
    }

    fn concat(&mut self) -> Result<Node, String> {
        let mut items = Vec::new();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            let atom = self.atom()?;
            items.push(self.quantified(atom)?);
        }
        Ok(Node::Concat(items))
    }

    fn atom(&mut self) -> Result<Node, String> {
        match self.next() {
            Some('(') => self.group(),
            Some('[') => self.class(),
            Some('.') => Ok(Node::Any),
            Some('^') => Ok(Node::Start),
            Some('$') => Ok(Node::End),
            Some('\\') => self.escape(),
            Some(c @ ('*' | '+' | '?')) => Err(format!("nothing to repeat before `{c}`")),
            Some(c) => Ok(Node::Char(c)),
            None => Err("unexpected end of pattern".into()),
        }
    }

    fn group(&mut self) -> Result<Node, String> {
        if self.peek() == Some('?') {
            if self.chars.get(self.pos + 1) != Some(&':') {
                return Err("`(?...)` extensions other than `(?:` are not supported".into());
            }
            self.pos += 2;
        }
        let inner = self.alternation()?;
        match self.next() {
            Some(')') => Ok(inner),
            _ => Err("missing `)`".into()),
        }
    }

    fn escape(&mut self) -> Result<Node, String> {
        let c = self.next().ok_or("pattern ends with `\\`")?;
        let set = |b, negated| Node::Class {
            negated: false,
            items: vec![Item::Set(b, negated)],
        };
        Ok(match c {
            'd' | 'D' => set(Builtin::Digit, c == 'D'),
            'w' | 'W' => set(Builtin::Word, c == 'W'),
            's' | 'S' => set(Builtin::Space, c == 'S'),
            'b' => Node::Boundary(true),
            'B' => Node::Boundary(false),
            'A' => Node::TextStart,
            'Z' => Node::TextEnd,
            _ => Node::Char(self.literal_escape(c)?),
        })
    }

    /// `\n`, `\t`, `\xhh`, `\.` and friends, inside or outside a class.
    fn literal_escape(&mut self, c: char) -> Result<char, String> {
        Ok(match c {
            'n' => '\n',
            't' => '\t',
            'r' => '\r',
            'f' => '\u{c}',
            'v' => '\u{b}',
            'a' => '\u{7}',
            'x' => {
                let hex: String = [self.next(), self.next()].iter().flatten().collect();
                let code =
                    u32::from_str_radix(&hex, 16).map_err(|_| "bad `\\x` escape".to_string())?;
                char::from_u32(code).ok_or("bad `\\x` escape")?
            }
            c if c.is_ascii_alphanumeric() => {
                return Err(format!("escape `\\{c}` is not supported"));
            }
            c => c,
        })
    }

    fn class(&mut self) -> Result<Node, String> {
        let negated = self.peek() == Some('^');
        self.pos += usize::from(negated);
        let mut items = Vec::new();
        let mut first = true;
        loop {
            let c = self.next().ok_or("missing `]`")?;
            if c == ']' && !first {
                break;
            }
            first = false;
            let lo = match c {
                '\\' => match self.next().ok_or("pattern ends with `\\`")? {
                    'd' => {
                        items.push(Item::Set(Builtin::Digit, false));
                        continue;
                    }
                    'D' => {
                        items.push(Item::Set(Builtin::Digit, true));
                        continue;
                    }
                    'w' => {
                        items.push(Item::Set(Builtin::Word, false));
                        continue;
                    }
                    'W' => {
                        items.push(Item::Set(Builtin::Word, true));
                        continue;
                    }
                    's' => {
                        items.push(Item::Set(Builtin::Space, false));
                        continue;
                    }
                    'S' => {
                        items.push(Item::Set(Builtin::Space, true));
                        continue;
                    }
                    'b' => '\u{8}',
                    e => self.literal_escape(e)?,
                },
                c => c,
            };
            let is_range =
                self.peek() == Some('-') && self.chars.get(self.pos + 1).is_some_and(|&n| n != ']');
            if !is_range {
                items.push(Item::Range(lo, lo));
                continue;
            }
            self.pos += 1;
            let hi = match self.next().ok_or("missing `]`")? {
                '\\' => {
                    let e = self.next().ok_or("pattern ends with `\\`")?;
                    self.literal_escape(e)?
                }
                c => c,
            };
            if hi < lo {
                return Err(format!("bad character range `{lo}-{hi}`"));
            }
            items.push(Item::Range(lo, hi));
        }
        Ok(Node::Class { negated, items })
    }

    fn quantified(&mut self, atom: Node) -> Result<Node, String> {
        let (min, max) = match self.peek() {
            Some('*') => (0, None),
            Some('+') => (1, None),
            Some('?') => (0, Some(1)),
            Some('{') => match self.braces() {
                Some(bounds) => bounds,
                None => return Ok(atom),
            },
            _ => return Ok(atom),
        };
        // Step over `*`, `+`, `?`, or the `}` that `braces` stopped at.
        self.pos += 1;
        if matches!(
            atom,
            Node::Start | Node::End | Node::TextStart | Node::TextEnd | Node::Boundary(_)
        ) {
            return Err("nothing to repeat".into());
        }
        let greedy = self.peek() != Some('?');
        self.pos += usize::from(!greedy);
        if matches!(self.peek(), Some('*' | '+' | '?')) {
            return Err("possessive or repeated quantifiers are not supported".into());
        }
        Ok(Node::Repeat {
            node: Box::new(atom),
            min,
            max,
            greedy,
        })
    }

    /// `{m}`, `{m,}`, `{,n}`, `{m,n}`; anything else leaves `{` literal, as in
    /// Python. Consumes up to the closing brace, leaving it for `quantified`.
    fn braces(&mut self) -> Option<(usize, Option<usize>)> {
        let rest: String = self.chars[self.pos..].iter().collect();
        let close = rest.find('}')?;
        let body = &rest[1..close];
        if body.is_empty() || body.chars().any(|c| !(c.is_ascii_digit() || c == ',')) {
            return None;
        }
        let bounds = match body.split_once(',') {
            None => {
                let n = body.parse().ok()?;
                (n, Some(n))
            }
            Some((lo, hi)) => {
                let lo = if lo.is_empty() { 0 } else { lo.parse().ok()? };
                let hi = if hi.is_empty() {
                    None
                } else {
                    Some(hi.parse().ok()?)
                };
                (lo, hi)
            }
        };
        self.pos += rest[..close].chars().count();
        Some(bounds)
    }
}

struct Matcher {
    text: Vec<char>,
    steps: Cell<usize>,
}

impl Matcher {
    fn node(&self, node: &Node, pos: usize, k: &mut dyn FnMut(usize) -> bool) -> bool {
        self.steps.set(self.steps.get() + 1);
        if self.steps.get() > STEP_BUDGET {
            return false;
        }
        let at = self.text.get(pos).copied();
        match node {
            Node::Char(c) => at == Some(*c) && k(pos + 1),
            Node::Any => at.is_some_and(|c| c != '\n') && k(pos + 1),
            Node::Class { negated, items } => {
                at.is_some_and(|c| class_has(items, c) != *negated) && k(pos + 1)
            }
            Node::Start | Node::TextStart => pos == 0 && k(pos),
            Node::TextEnd => pos == self.text.len() && k(pos),
            Node::End => {
                let n = self.text.len();
                (pos == n || (pos + 1 == n && self.text[pos] == '\n')) && k(pos)
            }
            Node::Boundary(want) => {
                let word = |i: Option<char>| i.is_some_and(|c| Builtin::Word.has(c));
                let before = pos.checked_sub(1).and_then(|i| self.text.get(i).copied());
                (word(before) != word(at)) == *want && k(pos)
            }
            Node::Concat(items) => self.seq(items, pos, k),
            Node::Alt(alts) => alts.iter().any(|a| self.node(a, pos, k)),
            Node::Repeat {
                node,
                min,
                max,
                greedy,
            } => self.repeat(node, *min, *max, *greedy, 0, pos, k),
        }
    }

    fn seq(&self, items: &[Node], pos: usize, k: &mut dyn FnMut(usize) -> bool) -> bool {
        match items.split_first() {
            None => k(pos),
            Some((first, rest)) => self.node(first, pos, &mut |p| self.seq(rest, p, k)),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn repeat(
        &self,
        node: &Node,
        min: usize,
        max: Option<usize>,
        greedy: bool,
        count: usize,
        pos: usize,
        k: &mut dyn FnMut(usize) -> bool,
    ) -> bool {
        let can_more = max.is_none_or(|m| count < m);
        // An iteration that consumes nothing after the minimum cannot lead
        // anywhere new; stopping there keeps `(a*)*` finite.
        let more = |k: &mut dyn FnMut(usize) -> bool| {
            can_more
                && self.node(node, pos, &mut |p| {
                    (p != pos || count < min)
                        && self.repeat(node, min, max, greedy, count + 1, p, k)
                })
        };
        // Greedy tries one more iteration before stopping here; lazy the reverse.
        if greedy {
            if more(k) {
                return true;
            }
            count >= min && k(pos)
        } else {
            if count >= min && k(pos) {
                return true;
            }
            more(k)
        }
    }
}

fn class_has(items: &[Item], c: char) -> bool {
    items.iter().any(|item| match item {
        Item::Range(lo, hi) => (*lo..=*hi).contains(&c),
        Item::Set(b, negated) => b.has(c) != *negated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full(p: &str, t: &str) -> bool {
        Pattern::compile(p).unwrap().full_match(t).unwrap()
    }

    #[test]
    fn matches_common_password_and_name_patterns() {
        assert!(full("[a-zA-Z0-9]+", "abcXYZ09"));
        assert!(!full("[a-zA-Z0-9]+", "abc-def"));
        assert!(full(r"[a-z][a-z0-9\-]*", "web-01"));
        assert!(full(r"\d{3}-\d{2,4}", "123-4567"));
        assert!(!full(r"\d{3}-\d{2,4}", "123-45678"));
        assert!(full("(?:http|https)://.*", "https://x"));
        assert!(full("[^:@/]*", "plain"));
        assert!(!full("[^:@/]*", "has:colon"));
        assert!(full("", ""));
        assert!(full("a{,2}b", "aab"));
        assert!(full("x{y", "x{y"));
    }

    #[test]
    fn follows_python_priority_not_longest_match() {
        // re.match('a|ab', 'ab') stops after 'a', so Heat rejects 'ab'.
        assert!(!full("a|ab", "ab"));
        assert!(full("ab|a", "ab"));
        assert!(full("a*?b", "aaab"));
        assert!(!full("a+?", "aa"));
    }

    #[test]
    fn anchors_and_boundaries() {
        assert!(full("^abc$", "abc"));
        assert!(!full(r"\Aab\Z", "ab\n"));
        assert!(full(r"\bword\b", "word"));
    }

    #[test]
    fn refuses_syntax_it_cannot_honour() {
        assert!(Pattern::compile("(?=x)").is_err());
        assert!(Pattern::compile(r"(a)\1").is_err());
        assert!(Pattern::compile("*a").is_err());
        assert!(Pattern::compile("(a").is_err());
        assert!(Pattern::compile("a)").is_err());
    }

    #[test]
    fn nested_empty_repeats_terminate() {
        assert!(full("(a*)*b", "aab"));
        assert!(!full("(a*)*b", "aac"));
    }
}

//! Python's `textwrap.fill` with its default wrapper settings (tabs expanded, every whitespace
//! character a space, long words broken, hyphenated words broken after the hyphen), which the
//! highstate outputter uses for a state's warnings.

/// The whitespace `textwrap` splits on and replaces: ASCII only, as its `_whitespace`.
fn is_wrap_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ')
}

/// A character of regex `\w` (Unicode, as Python's `re` for str patterns).
fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// A letter in textwrap's sense, `[^\d\W]`: a word character that is not a digit.
fn is_letter(c: char) -> bool {
    is_word(c) && !c.is_numeric()
}

/// textwrap's `word_punct`: a character that may come right before an em-dash.
fn is_word_punct(c: char) -> bool {
    is_word(c) || "!\"'&.,?".contains(c)
}

/// `str.expandtabs(8)`: columns restart after `\n` and `\r`.
fn expand_tabs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut col = 0;
    for c in text.chars() {
        match c {
            '\t' => {
                let n = 8 - col % 8;
                out.extend(std::iter::repeat_n(' ', n));
                col += n;
            }
            '\n' | '\r' => {
                out.push(c);
                col = 0;
            }
            _ => {
                out.push(c);
                col += 1;
            }
        }
    }
    out
}

/// Splits text into textwrap's chunks: runs of whitespace, em-dashes between words, and words,
/// a hyphenated word split after each hyphen that has two letters before it and a letter after.
fn chunks(text: &[char]) -> Vec<String> {
    let at = |i: usize| text.get(i).copied();
    let mut out = Vec::new();
    let mut i = 0;
    while i < text.len() {
        let start = i;
        if is_wrap_space(text[i]) {
            while at(i).is_some_and(is_wrap_space) {
                i += 1;
            }
        } else if text[i] == '-'
            && i > 0
            && is_word_punct(text[i - 1])
            && at(i + 1) == Some('-')
            && dashes_then_word(text, i)
        {
            // An em-dash (two or more hyphens) between words is a chunk of its own.
            while at(i) == Some('-') {
                i += 1;
            }
        } else {
            i += 1;
            loop {
                match at(i) {
                    None => break,
                    Some(c) if is_wrap_space(c) => break,
                    Some('-') if hyphen_breaks(text, i) => {
                        i += 1;
                        break;
                    }
                    Some('-') if is_word_punct(text[i - 1]) && dashes_then_word(text, i) => break,
                    Some(_) => i += 1,
                }
            }
        }
        out.push(text[start..i].iter().collect());
    }
    out
}

/// At `i` start two or more hyphens followed by a word character.
fn dashes_then_word(text: &[char], i: usize) -> bool {
    let mut j = i;
    while text.get(j) == Some(&'-') {
        j += 1;
    }
    j - i >= 2 && text.get(j).copied().is_some_and(is_word)
}

/// The hyphen at `i` ends a chunk: after two letters (or letter, hyphen, letter) and before a
/// letter, an optional hyphen and a letter.
fn hyphen_breaks(text: &[char], i: usize) -> bool {
    let before = |k: usize| i.checked_sub(k).and_then(|j| text.get(j).copied());
    let behind = (before(1).is_some_and(is_letter) && before(2).is_some_and(is_letter))
        || (before(1).is_some_and(is_letter)
            && before(2) == Some('-')
            && before(3).is_some_and(is_letter));
    let after = |k: usize| text.get(i + k).copied();
    let ahead = after(1).is_some_and(is_letter)
        && (after(2).is_some_and(is_letter)
            || (after(2) == Some('-') && after(3).is_some_and(is_letter)));
    behind && ahead
}

/// `textwrap.fill(text, width, initial_indent, subsequent_indent)` with the other settings at
/// their defaults.
pub fn fill(text: &str, width: usize, initial_indent: &str, subsequent_indent: &str) -> String {
    let text: String = expand_tabs(text)
        .chars()
        .map(|c| if is_wrap_space(c) { ' ' } else { c })
        .collect();
    let chars: Vec<char> = text.chars().collect();
    // Reversed, so the next chunk is at the end, as textwrap keeps them.
    let mut rest: Vec<String> = chunks(&chars).into_iter().rev().collect();
    let len = |s: &str| s.chars().count();
    let blank = |s: &str| s.chars().all(is_wrap_space);
    let mut lines: Vec<String> = Vec::new();
    while !rest.is_empty() {
        let indent = if lines.is_empty() {
            initial_indent
        } else {
            subsequent_indent
        };
        let room = width.saturating_sub(len(indent));
        // Whitespace at the start of a line goes, except on the first line.
        if !lines.is_empty() && rest.last().is_some_and(|c| blank(c)) {
            rest.pop();
        }
        let mut line: Vec<String> = Vec::new();
        let mut used = 0;
        while let Some(chunk) = rest.last() {
            let l = len(chunk);
            if used + l > room {
                break;
            }
            used += l;
            line.extend(rest.pop());
        }
        if rest.last().is_some_and(|c| len(c) > room) {
            long_word(&mut rest, &mut line, used, room);
        }
        if line.last().is_some_and(|c| blank(c)) {
            line.pop();
        }
        if !line.is_empty() {
            lines.push(format!("{indent}{}", line.concat()));
        }
    }
    lines.join("\n")
}

/// textwrap's `_handle_long_word`: a word longer than a line is cut to fill this one, after
/// its last hyphen that fits when there is one.
fn long_word(rest: &mut [String], line: &mut Vec<String>, used: usize, room: usize) {
    let space_left = if room < 1 { 1 } else { room - used };
    let Some(chunk) = rest.last_mut() else {
        return;
    };
    let chars: Vec<char> = chunk.chars().collect();
    let mut end = space_left;
    if chars.len() > space_left {
        if let Some(h) = chars[..space_left].iter().rposition(|&c| c == '-') {
            if h > 0 && chars[..h].iter().any(|&c| c != '-') {
                end = h + 1;
            }
        }
    }
    let end = end.min(chars.len());
    line.push(chars[..end].iter().collect());
    *chunk = chars[end..].iter().collect();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_like_python() {
        // Expected texts from Python 3.11's textwrap.fill(text, 20, "  ", "    ").
        let f = |t: &str| fill(t, 20, "  ", "    ");
        assert_eq!(f(""), "");
        assert_eq!(
            f("one two three four five six"),
            "  one two three four\n    five six"
        );
        assert_eq!(f("a\tb\nc"), "  a       b c");
        assert_eq!(
            f("abcdefghijklmnopqrstuvwxyz"),
            "  abcdefghijklmnopqr\n    stuvwxyz"
        );
        assert_eq!(
            f("aaaaaaaa-bbbbbbbbbbbbbbbbbbbbbbbb"),
            "  aaaaaaaa-bbbbbbbbb\n    bbbbbbbbbbbbbbb"
        );
        assert_eq!(f("a-b-c-d-e ab-cd-ef"), "  a-b-c-d-e ab-cd-ef");
        assert_eq!(
            f("well-known self-evident"),
            "  well-known self-\n    evident"
        );
    }

    #[test]
    fn chunks_split_hyphens_and_em_dashes() {
        let c = |t: &str| chunks(&t.chars().collect::<Vec<_>>());
        assert_eq!(c("well-known"), ["well-", "known"]);
        assert_eq!(c("x-y"), ["x-y"]);
        assert_eq!(c("a--b c"), ["a", "--", "b", " ", "c"]);
        assert_eq!(c("  lead"), ["  ", "lead"]);
        assert_eq!(c("ab-c-d"), ["ab-", "c-d"]);
        assert_eq!(c("a-b-cd-ef"), ["a-b-", "cd-", "ef"]);
        assert_eq!(c("x --y"), ["x", " ", "--y"]);
        assert_eq!(c("it's--fine"), ["it's", "--", "fine"]);
    }
}

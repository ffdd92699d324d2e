//! A unified diff of two texts as Python's `difflib.unified_diff` makes it (what Salt's
//! `salt.utils.stringutils.get_diff` prints in `changes.diff`): the same matching blocks
//! (longest match first, earliest on ties, popular lines of 200+ line files ignored as
//! matching seeds), three lines of context, empty file names.

use std::collections::HashMap;

/// One edit of the opcode list: tag, a range and b range.
type Op = (char, usize, usize, usize, usize);

/// The longest common block of `a[alo..ahi]` and `b[blo..bhi]` as difflib finds it.
fn longest(
    a: &[&str],
    b: &[&str],
    b2j: &HashMap<&str, Vec<usize>>,
    (alo, ahi, blo, bhi): (usize, usize, usize, usize),
) -> (usize, usize, usize) {
    let (mut bi, mut bj, mut bs) = (alo, blo, 0usize);
    let mut j2len: HashMap<usize, usize> = HashMap::new();
    for (i, line) in a.iter().enumerate().take(ahi).skip(alo) {
        let mut next: HashMap<usize, usize> = HashMap::new();
        if let Some(js) = b2j.get(line) {
            for &j in js {
                if j < blo {
                    continue;
                }
                if j >= bhi {
                    break;
                }
                let k = j
                    .checked_sub(1)
                    .and_then(|p| j2len.get(&p))
                    .copied()
                    .unwrap_or(0)
                    + 1;
                next.insert(j, k);
                if k > bs {
                    bi = i + 1 - k;
                    bj = j + 1 - k;
                    bs = k;
                }
            }
        }
        j2len = next;
    }
    // Popular lines were no seeds; a match still grows across them.
    while bi > alo && bj > blo && a[bi - 1] == b[bj - 1] {
        bi -= 1;
        bj -= 1;
        bs += 1;
    }
    while bi + bs < ahi && bj + bs < bhi && a[bi + bs] == b[bj + bs] {
        bs += 1;
    }
    (bi, bj, bs)
}

/// difflib's matching blocks, adjacent ones merged, with the (len, len, 0) sentinel.
fn matching_blocks(a: &[&str], b: &[&str]) -> Vec<(usize, usize, usize)> {
    let mut b2j: HashMap<&str, Vec<usize>> = HashMap::new();
    for (j, l) in b.iter().enumerate() {
        b2j.entry(l).or_default().push(j);
    }
    if b.len() >= 200 {
        let ntest = b.len() / 100 + 1;
        b2j.retain(|_, v| v.len() <= ntest);
    }
    let mut queue = vec![(0, a.len(), 0, b.len())];
    let mut blocks = Vec::new();
    while let Some((alo, ahi, blo, bhi)) = queue.pop() {
        let (i, j, k) = longest(a, b, &b2j, (alo, ahi, blo, bhi));
        if k > 0 {
            blocks.push((i, j, k));
            if alo < i && blo < j {
                queue.push((alo, i, blo, j));
            }
            if i + k < ahi && j + k < bhi {
                queue.push((i + k, ahi, j + k, bhi));
            }
        }
    }
    blocks.sort();
    let mut out: Vec<(usize, usize, usize)> = Vec::new();
    for (i, j, k) in blocks {
        match out.last_mut() {
            Some(l) if l.0 + l.2 == i && l.1 + l.2 == j => l.2 += k,
            _ => out.push((i, j, k)),
        }
    }
    out.push((a.len(), b.len(), 0));
    out
}

/// difflib's opcodes (`e`qual, `r`eplace, `d`elete, `i`nsert).
fn opcodes(a: &[&str], b: &[&str]) -> Vec<Op> {
    let (mut i, mut j) = (0, 0);
    let mut ops = Vec::new();
    for (ai, bj, size) in matching_blocks(a, b) {
        let tag = match (i < ai, j < bj) {
            (true, true) => Some('r'),
            (true, false) => Some('d'),
            (false, true) => Some('i'),
            _ => None,
        };
        if let Some(t) = tag {
            ops.push((t, i, ai, j, bj));
        }
        i = ai + size;
        j = bj + size;
        if size > 0 {
            ops.push(('e', ai, i, bj, j));
        }
    }
    ops
}

/// difflib's grouped opcodes with `n` lines of context.
fn grouped(a: &[&str], b: &[&str], n: usize) -> Vec<Vec<Op>> {
    let mut codes = opcodes(a, b);
    if codes.is_empty() {
        codes.push(('e', 0, 1, 0, 1));
    }
    if let Some(f) = codes.first_mut() {
        if f.0 == 'e' {
            f.1 = f.1.max(f.2.saturating_sub(n));
            f.3 = f.3.max(f.4.saturating_sub(n));
        }
    }
    if let Some(l) = codes.last_mut() {
        if l.0 == 'e' {
            l.2 = l.2.min(l.1 + n);
            l.4 = l.4.min(l.3 + n);
        }
    }
    let mut groups = Vec::new();
    let mut group = Vec::new();
    for (t, i1, i2, j1, j2) in codes {
        let (mut i1, mut j1) = (i1, j1);
        if t == 'e' && i2 - i1 > 2 * n {
            group.push((t, i1, i2.min(i1 + n), j1, j2.min(j1 + n)));
            groups.push(std::mem::take(&mut group));
            i1 = i1.max(i2.saturating_sub(n));
            j1 = j1.max(j2.saturating_sub(n));
        }
        group.push((t, i1, i2, j1, j2));
    }
    let only_equal = group.len() == 1 && group[0].0 == 'e';
    if !group.is_empty() && !only_equal {
        groups.push(group);
    }
    groups
}

/// difflib's `_format_range_unified`.
fn range(start: usize, stop: usize) -> String {
    let len = stop - start;
    match len {
        1 => format!("{}", start + 1),
        0 => format!("{start},0"),
        _ => format!("{},{len}", start + 1),
    }
}

/// Splits a text into lines that keep their ends, as Python's `readlines`.
pub fn lines(s: &str) -> Vec<&str> {
    s.split_inclusive('\n').collect()
}

/// The unified diff of `old` and `new` as Salt prints it; empty when they are equal.
pub fn unified(old: &str, new: &str) -> String {
    unified_parts(&lines(old), &lines(new)).concat()
}

/// What Python's `difflib.unified_diff(a, b)` yields, one string per item: the `---`,
/// `+++` and `@@` lines end in a newline (the default `lineterm`), the others are the line
/// with its one-character prefix and whatever end it had. Salt's `file.append` joins these
/// with newlines; `unified` joins them with nothing.
pub fn unified_parts(a: &[&str], b: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for g in grouped(a, b, 3) {
        if out.is_empty() {
            out.push("--- \n".to_string());
            out.push("+++ \n".to_string());
        }
        let (Some(first), Some(last)) = (g.first(), g.last()) else {
            continue;
        };
        out.push(format!(
            "@@ -{} +{} @@\n",
            range(first.1, last.2),
            range(first.3, last.4)
        ));
        for &(t, i1, i2, j1, j2) in &g {
            if t == 'e' {
                out.extend(a[i1..i2].iter().map(|l| format!(" {l}")));
                continue;
            }
            if t == 'r' || t == 'd' {
                out.extend(a[i1..i2].iter().map(|l| format!("-{l}")));
            }
            if t == 'r' || t == 'i' {
                out.extend(b[j1..j2].iter().map(|l| format!("+{l}")));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_changed_as_salt_prints_it() {
        assert_eq!(
            unified("a\nb\nc\n", "a\nB\nc\n"),
            "--- \n+++ \n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n"
        );
    }

    #[test]
    fn parts_joined_by_newlines_as_file_append_prints_them() {
        let d = unified_parts(&["a", "b", "c"], &["a", "b", "c", "d"]).join("\n");
        assert_eq!(d, "--- \n\n+++ \n\n@@ -1,3 +1,4 @@\n\n a\n b\n c\n+d");
    }

    #[test]
    fn equal_texts_have_no_diff() {
        assert_eq!(unified("a\n", "a\n"), "");
    }

    #[test]
    fn far_edits_make_two_hunks() {
        let old: String = (1..=20).map(|i| format!("{i}\n")).collect();
        let new = old
            .replace("2\n", "two\n")
            .replacen("19\n", "nineteen\n", 1);
        let d = unified(&old, &new);
        assert_eq!(d.matches("@@ -").count(), 2, "{d}");
        assert!(
            d.starts_with("--- \n+++ \n@@ -1,5 +1,5 @@\n 1\n-2\n+two\n"),
            "{d}"
        );
    }
}

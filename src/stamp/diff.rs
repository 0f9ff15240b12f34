//! Unified diffs of a stamped file, for `kiln version set --dry-run`.
//!
//! Stamping replaces values inside lines, so most edits keep the line count
//! and lines pair up one to one; otherwise the common prefix and suffix are
//! kept and the middle is shown as replaced. The output is a valid unified
//! diff (`git apply`/`patch -p1` accept it) with three lines of context.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Equal(usize, usize),
    Delete(usize),
    Insert(usize),
}

fn script(a: &[&str], b: &[&str]) -> Vec<Op> {
    let mut ops = Vec::new();
    if a.len() == b.len() {
        for i in 0..a.len() {
            if a[i] == b[i] {
                ops.push(Op::Equal(i, i));
            } else {
                ops.push(Op::Delete(i));
                ops.push(Op::Insert(i));
            }
        }
        // Group each run of changed lines as deletions then insertions.
        let mut out = Vec::with_capacity(ops.len());
        let mut dels = Vec::new();
        let mut ins = Vec::new();
        for op in ops {
            match op {
                Op::Delete(_) => dels.push(op),
                Op::Insert(_) => ins.push(op),
                Op::Equal(..) => {
                    out.append(&mut dels);
                    out.append(&mut ins);
                    out.push(op);
                }
            }
        }
        out.append(&mut dels);
        out.append(&mut ins);
        return out;
    }
    let pre = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let suf = a[pre..]
        .iter()
        .rev()
        .zip(b[pre..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    ops.extend((0..pre).map(|i| Op::Equal(i, i)));
    ops.extend((pre..a.len() - suf).map(Op::Delete));
    ops.extend((pre..b.len() - suf).map(Op::Insert));
    ops.extend((0..suf).map(|k| Op::Equal(a.len() - suf + k, b.len() - suf + k)));
    ops
}

fn split_lines(s: &str) -> Vec<&str> {
    s.split_inclusive('\n').collect()
}

/// The unified diff `a/<path>` → `b/<path>`; empty when equal.
pub(crate) fn unified_diff(path: &str, before: &str, after: &str) -> String {
    if before == after {
        return String::new();
    }
    let a = split_lines(before);
    let b = split_lines(after);
    let ops = script(&a, &b);
    let changed: Vec<usize> = ops
        .iter()
        .enumerate()
        .filter(|(_, op)| !matches!(op, Op::Equal(..)))
        .map(|(i, _)| i)
        .collect();
    let mut out = format!("--- a/{path}\n+++ b/{path}\n");
    const CTX: usize = 3;
    let mut k = 0;
    while k < changed.len() {
        let start = changed[k].saturating_sub(CTX);
        let mut end = changed[k] + CTX + 1;
        while k + 1 < changed.len() && changed[k + 1] <= end + CTX {
            k += 1;
            end = changed[k] + CTX + 1;
        }
        let end = end.min(ops.len());
        k += 1;
        let hunk = &ops[start..end];
        // Line numbers of the hunk's first line on each side.
        let (mut a0, mut b0) = (None, None);
        let (mut na, mut nb) = (0, 0);
        for op in hunk {
            match *op {
                Op::Equal(i, j) => {
                    a0.get_or_insert(i);
                    b0.get_or_insert(j);
                    na += 1;
                    nb += 1;
                }
                Op::Delete(i) => {
                    a0.get_or_insert(i);
                    na += 1;
                }
                Op::Insert(j) => {
                    b0.get_or_insert(j);
                    nb += 1;
                }
            }
        }
        let a_start = if na == 0 {
            a0.unwrap_or(0)
        } else {
            a0.unwrap_or(0) + 1
        };
        let b_start = if nb == 0 {
            b0.unwrap_or(0)
        } else {
            b0.unwrap_or(0) + 1
        };
        out.push_str(&format!("@@ -{a_start},{na} +{b_start},{nb} @@\n"));
        for op in hunk {
            let (sign, line) = match *op {
                Op::Equal(i, _) => (' ', a[i]),
                Op::Delete(i) => ('-', a[i]),
                Op::Insert(j) => ('+', b[j]),
            };
            out.push(sign);
            out.push_str(line);
            if !line.ends_with('\n') {
                out.push_str("\n\\ No newline at end of file\n");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_change() {
        let a = "a\nb\nc\nd\ne\nf\ng\nversion = 1\nh\n";
        let b = a.replace("version = 1", "version = 2");
        let d = unified_diff("x.toml", a, &b);
        assert_eq!(
            d,
            "--- a/x.toml\n+++ b/x.toml\n@@ -5,5 +5,5 @@\n e\n f\n g\n-version = 1\n+version = 2\n h\n"
        );
    }
}

//! kiln's ICU-like collation against node's `localeCompare(…, 'en')` and
//! against npm-packlist's own sort function.

use crate::common;

use std::io::Write;
use std::process::Stdio;

use common::{cmd, require_tool, run_ok};
use kiln::surface::npm::collate::{extname, locale_compare, npm_compare};

/// Deterministic names over ASCII and Latin-1, biased towards near-ties.
fn generated_names(count: usize) -> Vec<String> {
    let alphabet: Vec<char> =
        "aAbBzZ019_-.~@ +!$'()[]{}#%&=;,^`éÉèäÄöÖüßæÆøØåñçÿ½²ªº\u{a0}\u{ad}xX"
            .chars()
            .collect();
    let mut seed: u64 = 42;
    let mut next = || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as usize
    };
    (0..count)
        .map(|_| {
            let len = 1 + next() % 6;
            (0..len)
                .map(|_| alphabet[next() % alphabet.len()])
                .collect()
        })
        .collect()
}

fn node_sort(script: &str, names: &[String]) -> Vec<String> {
    let mut child = cmd("node")
        .args(["-e", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(names).unwrap().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn first_difference(ours: &[String], theirs: &[String]) -> Option<String> {
    ours.iter().zip(theirs).position(|(a, b)| a != b).map(|i| {
        format!(
            "at {i}: kiln {:?} vs node {:?}",
            &ours[i.saturating_sub(3)..i + 3],
            &theirs[i.saturating_sub(3)..i + 3]
        )
    })
}

#[test]
fn locale_compare_matches_node() {
    if !require_tool("node") {
        return;
    }
    let mut names = generated_names(6000);
    names.sort();
    names.dedup();
    let theirs = node_sort(
        "let s='';process.stdin.setEncoding('utf8');process.stdin.on('data',d=>s+=d).on('end',()=>{const a=JSON.parse(s);\
         a.sort((x,y)=>x.localeCompare(y,'en')||(x<y?-1:x>y?1:0));console.log(JSON.stringify(a))})",
        &names,
    );
    let mut ours = names.clone();
    // ties at every ICU level (only ignorable characters differ) fall back to
    // UTF-16 order in the oracle; code point order is the same here
    ours.sort_by(|a, b| locale_compare(a, b).then_with(|| a.cmp(b)));
    if let Some(d) = first_difference(&ours, &theirs) {
        if let Ok(p) = std::env::var("KILN_COLLATION_DUMP") {
            std::fs::write(format!("{p}.kiln"), ours.join("\n")).unwrap();
            std::fs::write(format!("{p}.node"), theirs.join("\n")).unwrap();
        }
        panic!("collation differs {d}");
    }
}

#[test]
fn npm_order_matches_npm_packlist_sort() {
    if !require_tool("node") || !require_tool("npm") {
        return;
    }
    let root = run_ok(cmd("npm").args(["root", "-g"]));
    let packlist = format!("{root}/npm/node_modules/npm-packlist");
    let words = generated_names(600);
    let mut paths: Vec<String> = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let w = w.replace(['/', '\u{a0}', '\u{ad}'], "");
        if w.is_empty() {
            continue;
        }
        let ext = ["js", "JS", "d.ts", "md", "", "Md"][i % 6];
        let dir = ["", "lib/", "Lib/", "a/b/", "@x/", "lib/.hidden/"][i % 6];
        paths.push(if ext.is_empty() {
            format!("{dir}{w}")
        } else {
            format!("{dir}{w}.{ext}")
        });
    }
    paths.sort();
    paths.dedup();
    let script = format!(
        "const W=require({:?}).Walker;let s='';process.stdin.setEncoding('utf8');process.stdin.on('data',d=>s+=d).on('end',()=>{{\
         const a=JSON.parse(s).map(e=>/^@/.test(e)?'./'+e:e);a.sort((x,y)=>W.prototype.sort(x,y));\
         console.log(JSON.stringify(a.map(e=>e.replace(/^\\.\\//,''))))}})",
        packlist
    );
    let theirs = node_sort(&script, &paths);
    let mut ours = paths.clone();
    ours.sort_by(|a, b| npm_compare(a, b));
    if let Some(d) = first_difference(&ours, &theirs) {
        panic!("npm order differs {d}");
    }
}

#[test]
fn extname_matches_node_path_extname() {
    if !require_tool("node") {
        return;
    }
    let cases: Vec<String> = [
        "a.js",
        ".gitignore",
        "a/.b",
        "..foo",
        "a..",
        "a",
        "x.tar.gz",
        "..",
        ".",
        "a/b.c/d",
        "a/.b.c",
        "...",
        "a.b.",
        ".a.",
        "lib/x.d.ts",
        "@s/p.JS",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let theirs: Vec<String> = node_sort(
            "const p=require('path');let s='';process.stdin.setEncoding('utf8');process.stdin.on('data',d=>s+=d)\
             .on('end',()=>console.log(JSON.stringify(JSON.parse(s).map(x=>p.posix.extname(x)))))",
        &cases,
    );
    let ours: Vec<String> = cases.iter().map(|c| extname(c).to_string()).collect();
    assert_eq!(ours, theirs);
}

#[test]
fn symbols_beyond_latin1_sit_where_icu_puts_them() {
    if !require_tool("node") {
        return;
    }
    // each sample symbol against every Latin-1 symbol, digits and letters:
    // the block placement must agree with node (the order *among* these
    // symbols is only approximate and is not checked)
    let symbols = [
        '→', '⇒', '∑', '−', '∞', '≤', '⌘', '│', '■', '☃', '★', '♥', '✓', '➔', '⤴', '⬆', '🚀', '😀',
        '🛠', '€', '₹', '₿', '⁄',
    ];
    let others: Vec<char> =
        " _-,;:!¡?¿.·'\"«»()[]{}§¶@*/\\&#%`´^¯¨¸°©®+±÷×<=>¬|¦~¤¢$£¥0123456789aAzZ"
            .chars()
            .collect();
    for s in symbols {
        let mut names: Vec<String> = others.iter().map(|c| format!("x{c}y")).collect();
        names.push(format!("x{s}y"));
        let theirs = node_sort(
            "let s='';process.stdin.setEncoding('utf8');process.stdin.on('data',d=>s+=d).on('end',()=>{const a=JSON.parse(s);\
             a.sort((x,y)=>x.localeCompare(y,'en'));console.log(JSON.stringify(a))})",
            &names,
        );
        let mut ours = names.clone();
        ours.sort_by(|a, b| locale_compare(a, b));
        assert_eq!(ours, theirs, "placement of {s:?}");
    }
}

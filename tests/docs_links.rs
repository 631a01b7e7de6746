//! Guards the documentation's links: every relative link in README.md, BENCHMARKS.md and
//! docs/ must name a file or folder of the repository, and a `#anchor` must name a heading
//! of the Markdown file it points into, as GitHub makes heading anchors. Docs are moved
//! and headings renamed; a reader who follows a dead link learns nothing, so a broken one
//! fails the ordinary test suite.
//!
//! Markdown is read as text (std only): fenced code blocks and inline code spans are not
//! prose and are skipped; inline links `[text](target)`, images and reference
//! definitions `[label]: target` are checked. Links with a scheme (`https:`, `mailto:`)
//! point outside the repository and are not followed.

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::path::{Component, Path, PathBuf};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The documents whose links are checked, relative to the repository root.
fn documents(root: &Path) -> Vec<PathBuf> {
    let mut found = vec![PathBuf::from("README.md"), PathBuf::from("BENCHMARKS.md")];
    let mut folders = vec![PathBuf::from("docs")];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = fs::read_dir(root.join(&folder)) else {
            continue;
        };
        for entry in entries.flatten() {
            let relative = folder.join(entry.file_name());
            if entry.path().is_dir() {
                folders.push(relative);
            } else if relative.extension().is_some_and(|ext| ext == "md") {
                found.push(relative);
            }
        }
    }
    found.sort();
    found
}

/// The lines of `text` that are prose: lines inside fenced code blocks become empty, so
/// line numbers stay those of the file.
fn prose_lines(text: &str) -> Vec<String> {
    let mut fence: Option<(char, usize)> = None;
    let mut lines = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        let marker = trimmed.chars().next().filter(|c| *c == '`' || *c == '~');
        let run = marker.map_or(0, |c| trimmed.chars().take_while(|x| *x == c).count());
        match (fence, marker) {
            (None, Some(c)) if run >= 3 => {
                fence = Some((c, run));
                lines.push(String::new());
            }
            (Some((c, open)), Some(m))
                if m == c && run >= open && trimmed[run..].trim().is_empty() =>
            {
                fence = None;
                lines.push(String::new());
            }
            (Some(_), _) => lines.push(String::new()),
            (None, _) => lines.push(line.to_string()),
        }
    }
    lines
}

/// `line` with its inline code spans (`` `...` ``, ``` `` ... `` ```) removed.
fn without_code_spans(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '`' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let run = chars[i..].iter().take_while(|c| **c == '`').count();
        let body = i + run;
        // The span ends at the next run of exactly as many backticks.
        let mut j = body;
        let mut end = None;
        while j < chars.len() {
            if chars[j] == '`' {
                let closing = chars[j..].iter().take_while(|c| **c == '`').count();
                if closing == run {
                    end = Some(j + closing);
                    break;
                }
                j += closing;
            } else {
                j += 1;
            }
        }
        match end {
            Some(after) => i = after,
            // An unmatched backtick run is literal text.
            None => {
                out.extend(&chars[i..body]);
                i = body;
            }
        }
    }
    out
}

/// The targets of the inline links and images in one line of prose.
fn inline_targets(line: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("](") {
        let after = &rest[at + 2..];
        let mut depth = 0usize;
        let mut end = None;
        for (i, c) in after.char_indices() {
            match c {
                '(' => depth += 1,
                ')' if depth == 0 => {
                    end = Some(i);
                    break;
                }
                ')' => depth -= 1,
                _ => {}
            }
        }
        let Some(end) = end else { break };
        targets.push(link_destination(&after[..end]));
        rest = &after[end + 1..];
    }
    targets
}

/// The destination of `(destination "title")`, without angle brackets or title.
fn link_destination(inside: &str) -> String {
    let inside = inside.trim();
    if let Some(angled) = inside.strip_prefix('<') {
        return angled.split('>').next().unwrap_or_default().to_string();
    }
    inside
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// The target of a reference definition (`[label]: target`), if the line is one.
fn reference_target(line: &str) -> Option<String> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    let rest = line[indent..].strip_prefix('[').filter(|_| indent <= 3)?;
    let close = rest.find("]:")?;
    if close == 0 || rest[..close].contains(']') {
        return None;
    }
    Some(link_destination(&rest[close + 2..]))
}

/// Every link target in `text` with its line number (1-based).
fn links(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (index, line) in prose_lines(text).iter().enumerate() {
        let line = without_code_spans(line);
        if let Some(target) = reference_target(&line) {
            found.push((index + 1, target));
            continue;
        }
        for target in inline_targets(&line) {
            found.push((index + 1, target));
        }
    }
    found
}

fn has_scheme(target: &str) -> bool {
    if target.starts_with("//") {
        return true;
    }
    match target.find(':') {
        Some(colon) => {
            let scheme = &target[..colon];
            !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
                && !target[..colon].contains('/')
        }
        None => false,
    }
}

/// `%20` and the like decoded, as a browser does before asking for the file.
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|pair| std::str::from_utf8(pair).ok())
            .and_then(|pair| u8::from_str_radix(pair, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The anchor GitHub gives a heading: its text without markup, lower-cased, with every
/// character that is not a letter, digit, space, `-` or `_` dropped and spaces made `-`.
fn slug(heading: &str) -> String {
    let mut text = String::new();
    // A link in a heading contributes its text only.
    let mut rest = heading;
    while let Some(open) = rest.find('[') {
        let Some(close) = rest[open..].find("](").map(|i| open + i) else {
            break;
        };
        let Some(end) = rest[close..].find(')').map(|i| close + i) else {
            break;
        };
        text.push_str(&rest[..open]);
        text.push_str(&rest[open + 1..close]);
        rest = &rest[end + 1..];
    }
    text.push_str(rest);
    text.trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            '-' | '_' => Some(c),
            c if c.is_alphanumeric() => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of a Markdown document: one per heading, a repeated slug numbered `-1`,
/// `-2`, ... as GitHub does, plus explicit `<a id="...">` / `<a name="...">` anchors.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut found = BTreeSet::new();
    for line in prose_lines(text) {
        let trimmed = line.trim_start();
        let hashes = trimmed.chars().take_while(|c| *c == '#').count();
        let is_heading = (1..=6).contains(&hashes)
            && line.len() - trimmed.len() <= 3
            && trimmed[hashes..].chars().next().map_or(true, |c| c == ' ');
        if is_heading {
            let title = trimmed[hashes..].trim().trim_end_matches('#').trim_end();
            let base = slug(title);
            let count = seen.entry(base.clone()).or_insert(0);
            let anchor = if *count == 0 {
                base.clone()
            } else {
                format!("{base}-{count}")
            };
            *count += 1;
            found.insert(anchor);
        }
        for attribute in ["id=\"", "name=\""] {
            let mut rest = line.as_str();
            while let Some(at) = rest.find("<a ") {
                rest = &rest[at + 3..];
                let tag = rest.split('>').next().unwrap_or_default();
                if let Some(start) = tag.find(attribute) {
                    let value = &tag[start + attribute.len()..];
                    found.insert(value.split('"').next().unwrap_or_default().to_string());
                }
            }
        }
    }
    found
}

/// `path` with `.` and `..` resolved lexically; `None` if it climbs out of the root.
fn normalized(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::Normal(part) => out.push(part),
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// What is wrong with one link of `document` (relative to `root`), if anything.
fn broken(root: &Path, document: &Path, target: &str) -> Option<String> {
    if target.is_empty() {
        return Some("empty link target".into());
    }
    if has_scheme(target) {
        return None;
    }
    let (path_part, anchor) = match target.split_once('#') {
        Some((path, anchor)) => (path, Some(percent_decoded(anchor))),
        None => (target, None),
    };
    let path_part = path_part.split('?').next().unwrap_or_default();
    let file = if path_part.is_empty() {
        document.to_path_buf()
    } else if path_part.starts_with('/') {
        return Some("absolute path: links must be relative to the document".into());
    } else {
        let joined = document
            .parent()
            .unwrap_or(Path::new(""))
            .join(percent_decoded(path_part));
        match normalized(&joined) {
            Some(file) => file,
            None => return Some("points outside the repository".into()),
        }
    };
    let on_disk = root.join(&file);
    if !on_disk.exists() {
        return Some(format!("{} does not exist", file.display()));
    }
    let anchor = anchor.filter(|anchor| !anchor.is_empty())?;
    if on_disk.extension().map_or(true, |ext| ext != "md") {
        // Line anchors of source files (`#L10`) are GitHub's, not the file's.
        return None;
    }
    let text = fs::read_to_string(&on_disk).ok()?;
    let known = anchors(&text);
    if known.contains(&anchor) {
        None
    } else {
        Some(format!("{} has no heading for #{anchor}", file.display()))
    }
}

/// Every broken link under `root`, one message each (`file:line: target: why`).
fn broken_links(root: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    for document in documents(root) {
        let Ok(text) = fs::read_to_string(root.join(&document)) else {
            problems.push(format!("{}: cannot be read", document.display()));
            continue;
        };
        for (line, target) in links(&text) {
            if let Some(why) = broken(root, &document, &target) {
                problems.push(format!("{}:{line}: ({target}): {why}", document.display()));
            }
        }
    }
    problems
}

#[test]
fn every_relative_link_in_the_docs_resolves() {
    let root = repo_root();
    assert!(
        root.join("README.md").is_file(),
        "README.md not found at {}",
        root.display()
    );
    let problems = broken_links(&root);
    assert!(
        problems.is_empty(),
        "broken links in the documentation:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_docs_are_found() {
    let found = documents(&repo_root());
    for expected in ["README.md", "docs/api.md", "docs/architecture.md"] {
        assert!(
            found.iter().any(|path| path == Path::new(expected)),
            "{expected} is not among the checked documents: {found:?}"
        );
    }
}

#[test]
fn slugs_follow_github() {
    assert_eq!(slug("Guest carts"), "guest-carts");
    assert_eq!(
        slug("Background jobs, outbound HTTP and the test gateway"),
        "background-jobs-outbound-http-and-the-test-gateway"
    );
    assert_eq!(
        slug("`lowest_price_30d`, kept beside the price"),
        "lowest_price_30d-kept-beside-the-price"
    );
    assert_eq!(
        slug("Reading \"add to cart\" end to end"),
        "reading-add-to-cart-end-to-end"
    );
    assert_eq!(
        slug("Issue 12's budget (2026-11-26)"),
        "issue-12s-budget-2026-11-26"
    );
    assert_eq!(slug("[The API](api.md) tour"), "the-api-tour");
    assert_eq!(
        slug("Rolling restarts — no nginx"),
        "rolling-restarts--no-nginx"
    );
}

#[test]
fn repeated_headings_are_numbered() {
    let found =
        anchors("# A\n## Results\n```\n# not a heading\n```\n### Results\n<a id=\"x\"></a>\n");
    let expected: BTreeSet<String> = ["a", "results", "results-1", "x"].map(String::from).into();
    assert_eq!(found, expected);
}

#[test]
fn code_is_not_searched_for_links() {
    let text =
        "see [api](api.md) and `[no](nowhere.md)`\n```\n[no](fenced.md)\n```\n[ref]: ops.md#x\n";
    let found: Vec<String> = links(text).into_iter().map(|(_, target)| target).collect();
    assert_eq!(found, ["api.md", "ops.md#x"]);
}

#[test]
fn a_broken_link_or_anchor_is_reported() {
    let root = std::env::temp_dir().join(format!("docs_links_{}", std::process::id()));
    let _ = fs::remove_dir_all(&root);
    fs::create_dir_all(root.join("docs")).expect("temporary folder");
    let write = |path: &str, text: &str| fs::write(root.join(path), text).expect("temporary file");
    write(
        "README.md",
        "[ok](docs/a.md#first-part) [no file](docs/missing.md) [no anchor](docs/a.md#nope)\n",
    );
    write("BENCHMARKS.md", "[up](README.md) [out](../outside.md)\n");
    write(
        "docs/a.md",
        "# First part\n[self](#first-part) [bad self](#second) [web](https://example.com)\n",
    );
    let problems = broken_links(&root);
    let _ = fs::remove_dir_all(&root);
    assert_eq!(problems.len(), 4, "{problems:#?}");
    for expected in ["docs/missing.md", "#nope", "outside", "#second"] {
        assert!(
            problems.iter().any(|problem| problem.contains(expected)),
            "{expected} not reported: {problems:#?}"
        );
    }
}

//! The Japanese guide, `docs/ja/README.md`, is kept in step with the English `README.md`.
//!
//! Every Japanese heading carries a marker naming the English heading it translates
//! (`<!-- en: ## Try it -->` on the line after it). For every such pair, the `mcp-oauth …`
//! commands (in code), the `--flags` and the environment variable names (`MCP_OAUTH_…`, any
//! upper-case name with an underscore) named in the English section must be exactly those
//! named in the Japanese one. A marker naming a heading the English README no longer has
//! fails, and so does a user-facing English section (listed below, with its subsections)
//! that has no Japanese counterpart. The failure names the section and what to add, so whoever
//! changes one side knows what to change on the other.

use std::collections::BTreeSet;
use std::path::PathBuf;

/// How much of a listed English section must be translated.
#[derive(Clone, Copy)]
enum Extent {
    /// The heading's own text only (the README's introduction, whose subsections are the
    /// whole document).
    Alone,
    /// The heading's own text and every heading below it, down to the next heading of the
    /// same or a higher level.
    WithSubsections,
}

/// The English sections a reader of the Japanese guide needs. Developer-only sections
/// (Build times, Layout, Tests, As a library, Status) are linked to, not translated.
const USER_FACING: &[(&str, Extent)] = &[
    ("# mcp-oauth", Extent::Alone),
    ("## Try it", Extent::WithSubsections),
    ("## Demo web clients", Extent::WithSubsections),
    ("## Command-line client", Extent::WithSubsections),
    ("## The authorization server", Extent::WithSubsections),
    ("## AWS Cognito mode", Extent::WithSubsections),
    ("## Protect your own MCP server", Extent::WithSubsections),
    ("## What the MCP server checks", Extent::WithSubsections),
    (
        "## Troubleshooting with `mcp-oauth doctor`",
        Extent::WithSubsections,
    ),
    ("## Configuration", Extent::WithSubsections),
    ("## Operations", Extent::WithSubsections),
];

const ENGLISH: &str = "README.md";
const JAPANESE: &str = "docs/ja/README.md";

/// A heading and the text under it, up to the next heading of any level.
struct Section {
    /// The heading line as written, e.g. `## Try it`.
    heading: String,
    /// The number of `#`.
    level: usize,
    /// The line number of the heading, from 1.
    line: usize,
    /// The heading line and the text under it.
    text: String,
}

/// What a section names: commands, flags and environment variables.
#[derive(Default, PartialEq, Debug)]
struct Names {
    commands: BTreeSet<String>,
    flags: BTreeSet<String>,
    variables: BTreeSet<String>,
}

fn read(relative: &str) -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let path = root.join(relative);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

fn is_fence(line: &str) -> bool {
    line.trim_start().starts_with("```")
}

fn heading_level(line: &str) -> Option<usize> {
    let level = line.chars().take_while(|c| *c == '#').count();
    (level > 0 && line[level..].starts_with(' ')).then_some(level)
}

/// Splits markdown into sections at headings outside fenced code.
fn sections(markdown: &str) -> Vec<Section> {
    let mut sections: Vec<Section> = Vec::new();
    let mut in_fence = false;
    for (index, line) in markdown.lines().enumerate() {
        if is_fence(line) {
            in_fence = !in_fence;
        }
        let level = if in_fence { None } else { heading_level(line) };
        match (level, sections.last_mut()) {
            (Some(level), _) => sections.push(Section {
                heading: line.trim_end().to_owned(),
                level,
                line: index + 1,
                text: format!("{line}\n"),
            }),
            (None, Some(section)) => {
                section.text.push_str(line);
                section.text.push('\n');
            }
            (None, None) => {}
        }
    }
    sections
}

/// The English heading a Japanese section's marker names: `Ok(None)` for a section marked
/// `<!-- ja-only -->` (the page's own notes), an error when the marker is missing.
fn marker(section: &Section) -> Result<Option<String>, String> {
    let first = section
        .text
        .lines()
        .skip(1)
        .find(|line| !line.trim().is_empty())
        .unwrap_or_default()
        .trim();
    if first == "<!-- ja-only -->" {
        return Ok(None);
    }
    first
        .strip_prefix("<!-- en: ")
        .and_then(|rest| rest.strip_suffix(" -->"))
        .map(|heading| Some(heading.to_owned()))
        .ok_or_else(|| {
            format!(
                "{JAPANESE}:{}: `{}` needs a marker on the next line naming the English heading \
                 it translates (`<!-- en: ## … -->`), or `<!-- ja-only -->`",
                section.line, section.heading
            )
        })
}

/// The text without HTML comments (the markers name English headings, which may hold flags).
fn without_comments(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("<!--") {
        out.push_str(&rest[..start]);
        rest = rest[start..]
            .find("-->")
            .map_or("", |end| &rest[start + end + 3..]);
    }
    out.push_str(rest);
    out
}

/// The code in a section: fenced blocks, and inline code spans outside them.
fn code(text: &str) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut prose = String::new();
    let mut fenced = String::new();
    let mut in_fence = false;
    for line in text.lines() {
        if is_fence(line) {
            if in_fence {
                pieces.push(std::mem::take(&mut fenced));
            }
            in_fence = !in_fence;
        } else if in_fence {
            fenced.push_str(line);
            fenced.push('\n');
        } else {
            prose.push_str(line);
            prose.push('\n');
        }
    }
    pieces.extend(prose.split('`').skip(1).step_by(2).map(str::to_owned));
    pieces
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// `mcp-oauth` followed by its subcommands, in one piece of code: `cargo run -p mcp-oauth --
/// admin users add --email …` names `mcp-oauth admin users add`.
fn commands(code: &str, found: &mut BTreeSet<String>) {
    for (start, _) in code.match_indices("mcp-oauth") {
        let before = code[..start].chars().next_back();
        let after = code[start + "mcp-oauth".len()..].chars().next();
        let starts_a_word = before.is_none_or(|c| !(is_word_char(c) || "-/.".contains(c)));
        if !starts_a_word || after.is_some_and(|c| !c.is_whitespace()) {
            continue;
        }
        let line = code[start + "mcp-oauth".len()..]
            .lines()
            .next()
            .unwrap_or_default();
        let mut tokens = line.split_whitespace().peekable();
        tokens.next_if_eq(&"--");
        let words: Vec<&str> = tokens
            .take_while(|token| {
                token.starts_with(|c: char| c.is_ascii_lowercase())
                    && token
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            })
            .collect();
        found.insert(
            std::iter::once("mcp-oauth")
                .chain(words)
                .collect::<Vec<_>>()
                .join(" "),
        );
    }
}

/// `--flag` anywhere in the text (`--` alone, a table rule and an em dash are not flags).
fn flags(text: &str, found: &mut BTreeSet<String>) {
    for (start, _) in text.match_indices("--") {
        let before = text[..start].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-') {
            continue;
        }
        let name: String = text[start + 2..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
            .collect();
        if name.starts_with(|c: char| c.is_ascii_lowercase()) {
            found.insert(format!("--{name}"));
        }
    }
}

/// Upper-case names with an underscore: `MCP_OAUTH_DATA_DIR`, `AWS_PROFILE`, `RUST_LOG`.
fn variables(text: &str, found: &mut BTreeSet<String>) {
    for word in text.split(|c: char| !is_word_char(c)) {
        let word = word.trim_end_matches('_');
        let upper = word
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
        if upper && word.starts_with(|c: char| c.is_ascii_uppercase()) && word.contains('_') {
            found.insert(word.to_owned());
        }
    }
}

fn names(section_text: &str) -> Names {
    let text = without_comments(section_text);
    let mut names = Names::default();
    for piece in code(&text) {
        commands(&piece, &mut names.commands);
    }
    flags(&text, &mut names.flags);
    variables(&text, &mut names.variables);
    names
}

/// What one side names and the other does not, as lines of a failure message.
fn differences(english: &Names, japanese: &Names) -> Vec<String> {
    let kinds = [
        ("commands", &english.commands, &japanese.commands),
        ("flags", &english.flags, &japanese.flags),
        (
            "environment variables",
            &english.variables,
            &japanese.variables,
        ),
    ];
    let mut lines = Vec::new();
    for (kind, en, ja) in kinds {
        let missing: Vec<&str> = en.difference(ja).map(String::as_str).collect();
        let extra: Vec<&str> = ja.difference(en).map(String::as_str).collect();
        if !missing.is_empty() {
            lines.push(format!(
                "    {kind} in English, missing in Japanese: {}",
                missing.join(", ")
            ));
        }
        if !extra.is_empty() {
            lines.push(format!(
                "    {kind} in Japanese, not in English: {}",
                extra.join(", ")
            ));
        }
    }
    lines
}

/// The English headings that must have a Japanese counterpart.
fn required(
    english: &[Section],
    user_facing: &[(&str, Extent)],
    problems: &mut Vec<String>,
) -> Vec<String> {
    let mut headings = Vec::new();
    for (listed, extent) in user_facing {
        let Some(position) = english.iter().position(|s| s.heading == *listed) else {
            problems.push(format!(
                "USER_FACING in this test lists `{listed}`, which {ENGLISH} no longer has: \
                 rename it to the new heading (and its marker in {JAPANESE}) or remove it"
            ));
            continue;
        };
        let level = english[position].level;
        headings.push(english[position].heading.clone());
        if let Extent::WithSubsections = extent {
            headings.extend(
                english[position + 1..]
                    .iter()
                    .take_while(|s| s.level > level)
                    .map(|s| s.heading.clone()),
            );
        }
    }
    headings
}

/// Every problem that keeps the two files out of step, empty when they agree.
fn guide_problems(
    english_markdown: &str,
    japanese_markdown: &str,
    user_facing: &[(&str, Extent)],
) -> Vec<String> {
    let english = sections(english_markdown);
    let japanese = sections(japanese_markdown);
    let mut problems = Vec::new();
    let mut translated: Vec<String> = Vec::new();
    for section in &japanese {
        let target = match marker(section) {
            Ok(Some(target)) => target,
            Ok(None) => continue,
            Err(problem) => {
                problems.push(problem);
                continue;
            }
        };
        if translated.contains(&target) {
            problems.push(format!(
                "{JAPANESE}:{}: `{target}` is marked a second time",
                section.line
            ));
            continue;
        }
        let Some(original) = english.iter().find(|s| s.heading == target) else {
            problems.push(format!(
                "{JAPANESE}:{}: the marker names `{target}`, a heading {ENGLISH} no longer has: \
                 mark the section with the new English heading, or remove it",
                section.line
            ));
            continue;
        };
        let lines = differences(&names(&original.text), &names(&section.text));
        if !lines.is_empty() {
            problems.push(format!(
                "`{target}` ({ENGLISH}:{}) and its translation `{}` ({JAPANESE}:{}) differ:\n{}",
                original.line,
                section.heading,
                section.line,
                lines.join("\n")
            ));
        }
        translated.push(target);
    }
    for heading in required(&english, user_facing, &mut problems) {
        if !translated.contains(&heading) {
            let line = english
                .iter()
                .find(|s| s.heading == heading)
                .map_or(0, |s| s.line);
            problems.push(format!(
                "`{heading}` ({ENGLISH}:{line}) is user-facing but {JAPANESE} has no section \
                 marked `<!-- en: {heading} -->`: translate it there"
            ));
        }
    }
    problems
}

#[test]
fn japanese_guide_names_the_same_commands_flags_and_variables_as_the_english_readme() {
    let problems = guide_problems(&read(ENGLISH), &read(JAPANESE), USER_FACING);
    assert!(
        problems.is_empty(),
        "{JAPANESE} is out of step with {ENGLISH} ({} problems):\n\n{}\n",
        problems.len(),
        problems.join("\n\n")
    );
}

#[test]
fn readme_and_japanese_guide_link_to_each_other() {
    assert!(
        read(ENGLISH).contains("(docs/ja/README.md)"),
        "{ENGLISH} must link to the Japanese guide"
    );
    assert!(
        read(JAPANESE).contains("(../../README.md)"),
        "{JAPANESE} must link back to the English README"
    );
}

#[test]
fn reports_a_missing_flag_a_stale_marker_and_an_untranslated_section() {
    let english = "# Tool\n\nRun `mcp-oauth dev --bind 1.2.3.4` (`MCP_SERVER_BIND`).\n\n\
                   ## Try it\n\n```sh\nmcp-oauth call --port 8976\n```\n";
    let japanese = "# ツール\n<!-- en: # Tool -->\n\n`mcp-oauth dev` を実行します（`MCP_SERVER_BIND`）。\n\n\
                    ## 試す\n<!-- en: ## Tried it -->\n\n```sh\nmcp-oauth call --port 8976\n```\n";
    let listed = [
        ("# Tool", Extent::Alone),
        ("## Try it", Extent::WithSubsections),
    ];
    let problems = guide_problems(english, japanese, &listed);
    assert_eq!(problems.len(), 3, "{problems:#?}");
    assert!(
        problems[0].contains("`# Tool`")
            && problems[0].contains("flags in English, missing in Japanese: --bind"),
        "{}",
        problems[0]
    );
    assert!(
        problems[1].contains("`## Tried it`") && problems[1].contains("no longer has"),
        "{}",
        problems[1]
    );
    assert!(
        problems[2].contains("`## Try it`") && problems[2].contains("has no section"),
        "{}",
        problems[2]
    );
}

#[test]
fn extracts_subcommands_after_cargo_run_and_ignores_paths_and_comments() {
    let text = "<!-- en: ## `deploy --serverless` -->\n`mcp-oauth-data/demo-client.txt`, \
                `cargo run -p mcp-oauth -- admin users add --email a@b` and\n\
                ```sh\ncd mcp-oauth-env/client && mcp-oauth call http://x/mcp whoami\n```\n\
                with `MCP_USER_` and x86_64 — not `--`.\n";
    let found = names(text);
    assert_eq!(
        found.commands,
        BTreeSet::from(["mcp-oauth admin users add".into(), "mcp-oauth call".into()])
    );
    assert_eq!(found.flags, BTreeSet::from(["--email".into()]));
    assert_eq!(found.variables, BTreeSet::from(["MCP_USER".into()]));
}

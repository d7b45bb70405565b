//! BENCHMARKS.md, whose results sections the drivers write: a section `NAME` is the text
//! between `<!-- bench:NAME:start -->` and `<!-- bench:NAME:end -->`, and the rest of the
//! file is left as it was.

/// BENCHMARKS.md at the root of the workspace.
const BENCHMARKS_MD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../BENCHMARKS.md");

/// What [`write_section`] does when BENCHMARKS.md has neither marker of the section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IfMissing {
    /// Fail: the section must already have its place in the text.
    Refuse,
    /// Add the section, with its markers, at the end of the file.
    Append,
}

/// Replaces the results section `section` of BENCHMARKS.md with `markdown`. Fails when only
/// one marker is there, when they are out of order, or when both are missing and `if_missing`
/// is [`IfMissing::Refuse`].
pub fn write_section(section: &str, markdown: &str, if_missing: IfMissing) -> Result<(), String> {
    let text = std::fs::read_to_string(BENCHMARKS_MD)
        .map_err(|error| format!("cannot read BENCHMARKS.md: {error}"))?;
    std::fs::write(BENCHMARKS_MD, splice(&text, section, markdown, if_missing)?)
        .map_err(|error| format!("cannot write BENCHMARKS.md: {error}"))
}

/// `text` with `markdown` between the markers of `section`, leaving everything else as it was.
fn splice(
    text: &str,
    section: &str,
    markdown: &str,
    if_missing: IfMissing,
) -> Result<String, String> {
    let (start_marker, end_marker) = (
        format!("<!-- bench:{section}:start -->"),
        format!("<!-- bench:{section}:end -->"),
    );
    match (text.find(&start_marker), text.find(&end_marker)) {
        (Some(start), Some(end)) if start < end => Ok(format!(
            "{}{start_marker}\n{markdown}{}",
            &text[..start],
            &text[end..]
        )),
        (Some(_), Some(_)) => Err(format!(
            "BENCHMARKS.md's markers {start_marker} and {end_marker} are out of order"
        )),
        (None, None) if if_missing == IfMissing::Append => Ok(format!(
            "{}\n\n{start_marker}\n{markdown}{end_marker}\n",
            text.trim_end()
        )),
        _ => Err(format!(
            "BENCHMARKS.md lacks the markers {start_marker} and {end_marker}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const START: &str = "<!-- bench:tool:start -->";
    const END: &str = "<!-- bench:tool:end -->";

    #[test]
    fn replaces_only_the_section_between_the_markers() {
        let text = format!(
            "# Benchmarks\n\n<!-- bench:other:start -->\nkept\n<!-- bench:other:end -->\n\n\
             {START}\nold\n{END}\n\nafter\n"
        );
        for if_missing in [IfMissing::Refuse, IfMissing::Append] {
            assert_eq!(
                splice(&text, "tool", "new\n", if_missing).unwrap(),
                text.replace("\nold\n", "\nnew\n")
            );
        }
    }

    #[test]
    fn appends_a_missing_section_only_when_told_to() {
        assert_eq!(
            splice(
                "# Benchmarks\n\nother\n",
                "tool",
                "new\n",
                IfMissing::Append
            )
            .unwrap(),
            format!("# Benchmarks\n\nother\n\n{START}\nnew\n{END}\n")
        );
        let refused = splice("# Benchmarks\n", "tool", "new\n", IfMissing::Refuse).unwrap_err();
        assert!(refused.contains("lacks the markers"), "{refused}");
    }

    #[test]
    fn writes_the_workspace_benchmarks_md_that_holds_the_drivers_sections() {
        let text = std::fs::read_to_string(BENCHMARKS_MD).unwrap();
        for section in [
            "auth-server",
            "list_contexts",
            "instructions:list_contexts",
            "proxy",
        ] {
            assert!(
                splice(&text, section, "new\n", IfMissing::Refuse).is_ok(),
                "{section}"
            );
        }
    }

    #[test]
    fn refuses_broken_markers() {
        for text in [
            format!("{END}\n{START}\n"),
            format!("{START}\nold\n"),
            format!("old\n{END}\n"),
        ] {
            for if_missing in [IfMissing::Refuse, IfMissing::Append] {
                assert!(
                    splice(&text, "tool", "new\n", if_missing).is_err(),
                    "{text}"
                );
            }
        }
    }
}

//! Checks that the API document (`docs/API.md`) has one entry per operation of a route table.
//!
//! An endpoint entry is a level-3 heading that is exactly a method and an OpenAPI path in
//! backticks, such as ``### `DELETE /checkins/{event_id}/{ticket_id}` ``. Each service's unit
//! tests hand [`assert_documents_operations`] its section of the document ([`section`]) and its
//! operations, so a route added without a doc entry, and a doc entry left behind by a removed
//! route, both fail the tests.
//!
//! ```
//! let doc = "# API\n\n## Identity\n\n### `GET /health`\n\n## Attendance\n\n### `POST /checkins`\n";
//! let identity = testkit::api_doc::section(doc, "## Identity");
//! testkit::api_doc::assert_documents_operations(identity, [("GET", "/health")]);
//! ```

use std::collections::BTreeMap;

/// Panics, listing every disagreement, unless `markdown` has exactly one endpoint heading
/// (``### `METHOD /path` ``) for each of `operations` (method, OpenAPI path) and no endpoint
/// heading for anything else. A level-3 heading whose text starts with a backtick is an endpoint
/// heading and must have exactly that form; headings inside fenced code blocks are ignored.
pub fn assert_documents_operations(
    markdown: &str,
    operations: impl IntoIterator<Item = (&'static str /*METHOD*/, &'static str /*path*/)>,
) {
    let mut problems = Vec::new();
    let mut documented: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (number, line) in outside_code(markdown) {
        let Some(text) = line.strip_prefix("### ") else {
            continue;
        };
        let text = text.trim_end();
        if !text.starts_with('`') {
            continue;
        }
        match endpoint(text) {
            Some(operation) => *documented.entry(operation).or_default() += 1,
            None => problems.push(format!(
                "line {number}: {line:?} is not an endpoint heading of the form ### `METHOD /path`"
            )),
        }
    }
    let mut routed: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (method, path) in operations {
        *routed
            .entry((method.to_ascii_uppercase(), path.to_owned()))
            .or_default() += 1;
    }
    for (method, path) in routed.keys() {
        if !documented.contains_key(&(method.clone(), path.clone())) {
            problems.push(format!(
                "{method} {path} is routed but has no heading ### `{method} {path}`"
            ));
        }
    }
    for ((method, path), count) in &documented {
        if !routed.contains_key(&(method.clone(), path.clone())) {
            problems.push(format!(
                "### `{method} {path}` is documented but {method} {path} is not routed"
            ));
        } else if *count > 1 {
            problems.push(format!(
                "### `{method} {path}` appears {count} times; an operation has one entry"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "API document and route table disagree:\n{}",
        problems.join("\n")
    );
}

/// The part of `markdown` under the heading line `heading` (such as `"## Identity service"`),
/// up to the next heading of the same or a higher level.
///
/// # Panics
/// When no line, or more than one, is exactly `heading` (outside code blocks), so renaming a
/// section fails the test that reads it instead of checking nothing.
pub fn section<'a>(markdown: &'a str, heading: &str) -> &'a str {
    let level = heading.bytes().take_while(|&b| b == b'#').count();
    assert!(
        level > 0 && heading.as_bytes().get(level) == Some(&b' '),
        "{heading:?} is not a markdown heading"
    );
    let lines: Vec<(usize, &str)> = outside_code(markdown).collect();
    let starts: Vec<usize> = lines
        .iter()
        .filter(|(_, line)| line.trim_end() == heading)
        .map(|(number, _)| *number)
        .collect();
    let [start] = starts[..] else {
        panic!(
            "the document has {} headings {heading:?}; expected exactly one",
            starts.len()
        );
    };
    let end = lines
        .iter()
        .filter(|(number, _)| *number > start)
        .find(|(_, line)| heading_level(line).is_some_and(|l| l <= level))
        .map(|(number, _)| *number);
    let offsets = line_offsets(markdown);
    let from = offsets[start - 1];
    let to = end.map_or(markdown.len(), |n| offsets[n - 1]);
    &markdown[from..to]
}

/// `METHOD /path` from a heading text that is exactly `` `METHOD /path` ``.
fn endpoint(text: &str) -> Option<(String, String)> {
    let inner = text.strip_prefix('`')?.strip_suffix('`')?;
    let (method, path) = inner.split_once(' ')?;
    let method_ok = !method.is_empty() && method.bytes().all(|b| b.is_ascii_uppercase());
    let path_ok = path.starts_with('/') && !path.contains([' ', '`', '?']);
    (method_ok && path_ok).then(|| (method.to_owned(), path.to_owned()))
}

/// The level of an ATX heading line (`## Title` is 2), if it is one.
fn heading_level(line: &str) -> Option<usize> {
    let level = line.bytes().take_while(|&b| b == b'#').count();
    ((1..=6).contains(&level) && line.as_bytes().get(level) == Some(&b' ')).then_some(level)
}

/// The lines (1-based number, text) that are not inside a fenced code block; the fence lines
/// themselves are left out too.
fn outside_code(markdown: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut fence: Option<&str> = None;
    markdown
        .lines()
        .enumerate()
        .filter_map(move |(index, line)| {
            let trimmed = line.trim_start();
            let marker = ["```", "~~~"].into_iter().find(|m| trimmed.starts_with(m));
            match (fence, marker) {
                (None, Some(marker)) => {
                    fence = Some(marker);
                    None
                }
                (Some(open), Some(marker)) if open == marker => {
                    fence = None;
                    None
                }
                (Some(_), _) => None,
                (None, None) => Some((index + 1, line)),
            }
        })
}

/// The byte offset at which each line starts (index 0 is line 1).
fn line_offsets(markdown: &str) -> Vec<usize> {
    let mut offsets = vec![0];
    offsets.extend(
        markdown
            .bytes()
            .enumerate()
            .filter(|(_, b)| *b == b'\n')
            .map(|(i, _)| i + 1),
    );
    offsets
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "\
# API

## Conventions

### Errors

```text
### `GET /in-a-code-block`
```

## Identity

### `GET /health`

Text.

### `POST /auth/login`

## Attendance

### `GET /health`

### `DELETE /checkins/{event_id}/{ticket_id}`

#### Rules (a deeper heading stays in the section)

## Afterword
";

    fn problems(markdown: &str, operations: Vec<(&'static str, &'static str)>) -> String {
        let markdown = markdown.to_owned();
        let caught =
            std::panic::catch_unwind(|| assert_documents_operations(&markdown, operations));
        match caught {
            Ok(()) => String::new(),
            Err(panic) => panic.downcast_ref::<String>().cloned().unwrap_or_default(),
        }
    }

    #[test]
    fn a_matching_document_passes() {
        let identity = section(DOC, "## Identity");
        assert_eq!(
            problems(identity, vec![("GET", "/health"), ("POST", "/auth/login")]),
            ""
        );
        let attendance = section(DOC, "## Attendance");
        assert_eq!(
            problems(
                attendance,
                vec![
                    ("DELETE", "/checkins/{event_id}/{ticket_id}"),
                    ("GET", "/health")
                ]
            ),
            ""
        );
    }

    #[test]
    fn a_missing_and_an_extra_heading_are_both_reported() {
        let identity = section(DOC, "## Identity");
        let text = problems(identity, vec![("GET", "/health"), ("GET", "/auth/me")]);
        for expected in [
            "GET /auth/me is routed but has no heading ### `GET /auth/me`",
            "### `POST /auth/login` is documented but POST /auth/login is not routed",
        ] {
            assert!(text.contains(expected), "{expected:?} not in {text}");
        }
        assert!(!text.contains("/health"), "{text}");
    }

    #[test]
    fn headings_in_code_blocks_do_not_count_and_malformed_ones_are_reported() {
        let whole = problems(DOC, vec![("GET", "/health")]);
        assert!(!whole.contains("in-a-code-block"), "{whole}");
        assert!(whole.contains("appears 2 times"), "{whole}");
        let doc = "## S\n\n### `GET/health`\n\n### `get /health`\n\n### Not an endpoint\n";
        let text = problems(doc, vec![]);
        assert_eq!(
            text.matches("is not an endpoint heading").count(),
            2,
            "{text}"
        );
    }

    #[test]
    fn a_section_ends_at_the_next_heading_of_its_level() {
        let attendance = section(DOC, "## Attendance");
        assert!(attendance.starts_with("## Attendance\n"));
        assert!(attendance.contains("#### Rules"));
        assert!(!attendance.contains("Afterword"));
        assert!(section(DOC, "## Afterword").ends_with("## Afterword\n"));
    }

    #[test]
    #[should_panic(expected = "expected exactly one")]
    fn a_missing_section_panics() {
        let _ = section(DOC, "## Users");
    }
}

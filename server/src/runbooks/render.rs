//! A runbook's Markdown as HTML that is safe to put in a page: pulldown-cmark (tables, task
//! lists, footnotes, strikethrough) with an id on every heading for the table of contents, then
//! ammonia with its default builder, narrowed further: links only to http, https, mailto and
//! relative addresses, with `rel="noopener noreferrer"`. pulldown-cmark passes raw HTML through,
//! so nothing reaches a page without the sanitizer.

use std::collections::{HashMap, HashSet};

use std::ops::Range;

use pulldown_cmark::{CodeBlockKind, CowStr, Event, Options, Parser, Tag, TagEnd};

/// A runbook's body, ready for a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Sanitized HTML, and the console's own blocks between the pieces of it.
    pub parts: Vec<Part>,
    /// `flightdeck-…` blocks inside a list, quote or table (byte offsets of their fences):
    /// they would split the HTML around them, so they are refused.
    pub nested_blocks: Vec<usize>,
    /// Every heading, in order, for the table of contents.
    pub headings: Vec<Heading>,
    /// The words a reader sees, one block to a line, for search and its snippets.
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heading {
    pub level: u8,
    pub text: String,
    /// The element's id, for `#` links.
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Html(String),
    /// A fenced block whose language is `flightdeck-{kind}` at the top level: `content` is
    /// the byte range of its text in the Markdown, `fence` where the block starts.
    Block {
        kind: String,
        content: Range<usize>,
        fence: usize,
    },
}

/// The language of a fenced block the console renders itself.
const BLOCK_PREFIX: &str = "flightdeck-";

impl Rendered {
    /// The HTML pieces together, without the console's blocks.
    pub fn html(&self) -> String {
        self.parts
            .iter()
            .filter_map(|p| match p {
                Part::Html(html) => Some(html.as_str()),
                Part::Block { .. } => None,
            })
            .collect()
    }
}

/// Every id in runbook HTML starts with this (the sanitizer sees to it, for raw HTML too): ids
/// cannot clash with the page's own, and (having a hyphen) never name a JavaScript global.
const ID_PREFIX: &str = "rb-";

pub fn render(markdown: &str) -> Rendered {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH;
    let (mut events, ranges): (Vec<Event<'_>>, Vec<Range<usize>>) =
        Parser::new_ext(markdown, options)
            .into_offset_iter()
            .unzip();
    let headings = name_headings(&mut events);
    number_footnotes(&mut events);
    for event in &mut events {
        // A checkbox a reader cannot tick anyway: shown as a mark, so no form control is let
        // through the sanitizer.
        if let Event::TaskListMarker(done) = event {
            *event = Event::Text(CowStr::Borrowed(if *done { "☑ " } else { "☐ " }));
        }
    }
    let text = plain_text(&events);
    let (parts, nested_blocks) = split_at_blocks(events, &ranges);
    Rendered {
        parts,
        nested_blocks,
        headings,
        text,
    }
}

/// HTML for everything between the console's own blocks, each piece sanitized on its own
/// (each is whole top-level elements, so each is well formed).
fn split_at_blocks(events: Vec<Event<'_>>, ranges: &[Range<usize>]) -> (Vec<Part>, Vec<usize>) {
    let mut parts = Vec::new();
    let mut nested = Vec::new();
    let mut chunk: Vec<Event<'_>> = Vec::new();
    let mut depth = 0_usize;
    let mut block: Option<(String, usize, Option<Range<usize>>)> = None;
    let flush = |chunk: &mut Vec<Event<'_>>, parts: &mut Vec<Part>| {
        if !chunk.is_empty() {
            let mut html = String::new();
            pulldown_cmark::html::push_html(&mut html, chunk.drain(..));
            parts.push(Part::Html(sanitize(&html)));
        }
    };
    for (event, range) in events.into_iter().zip(ranges) {
        if let Some((kind, fence, content)) = &mut block {
            match event {
                Event::Text(_) => {
                    let start = content.as_ref().map_or(range.start, |c| c.start);
                    *content = Some(start..range.end);
                }
                Event::End(TagEnd::CodeBlock) => {
                    let fence = *fence;
                    let content = content.take().unwrap_or(fence..fence);
                    parts.push(Part::Block {
                        kind: std::mem::take(kind),
                        content,
                        fence,
                    });
                    block = None;
                }
                _ => {}
            }
            continue;
        }
        if let Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) = &event
            && let Some(kind) = info.trim().strip_prefix(BLOCK_PREFIX)
        {
            if depth == 0 {
                flush(&mut chunk, &mut parts);
                block = Some((kind.to_owned(), range.start, None));
                continue;
            }
            nested.push(range.start);
        }
        match &event {
            Event::Start(_) => depth += 1,
            Event::End(_) => depth = depth.saturating_sub(1),
            _ => {}
        }
        chunk.push(event);
    }
    flush(&mut chunk, &mut parts);
    (parts, nested)
}

/// The text of the rendered body without markup: raw HTML is left out (it is not what a reader
/// searches for), each block ends a line.
fn plain_text(events: &[Event<'_>]) -> String {
    let mut text = String::new();
    for event in events {
        match event {
            Event::Text(t) | Event::Code(t) => text.push_str(t),
            Event::SoftBreak | Event::HardBreak => text.push(' '),
            Event::End(
                TagEnd::Paragraph
                | TagEnd::Heading(_)
                | TagEnd::Item
                | TagEnd::CodeBlock
                | TagEnd::TableCell
                | TagEnd::BlockQuote(_),
            ) if !text.ends_with('\n') => text.push('\n'),
            _ => {}
        }
    }
    text
}

/// Gives each heading an id made from its text (`first-checks`, `first-checks-2`, which the
/// sanitizer prefixes: `rb-first-checks`).
fn name_headings(events: &mut [Event<'_>]) -> Vec<Heading> {
    let mut headings = Vec::new();
    let mut used: HashMap<String, usize> = HashMap::new();
    let mut i = 0;
    while i < events.len() {
        if let Event::Start(Tag::Heading { level, .. }) = &events[i] {
            let level = *level as u8;
            let mut text = String::new();
            for e in &events[i + 1..] {
                match e {
                    Event::End(TagEnd::Heading(_)) => break,
                    Event::Text(t) | Event::Code(t) => text.push_str(t),
                    _ => {}
                }
            }
            let base = slug(&text);
            let n = used.entry(base.clone()).or_insert(0);
            *n += 1;
            let id = if *n == 1 { base } else { format!("{base}-{n}") };
            // The sanitizer adds the prefix to every id, these and any in raw HTML alike.
            if let Event::Start(Tag::Heading { id: slot, .. }) = &mut events[i] {
                *slot = Some(CowStr::from(id.clone()));
            }
            headings.push(Heading {
                level,
                text: text.trim().to_owned(),
                id: format!("{ID_PREFIX}{id}"),
            });
        }
        i += 1;
    }
    headings
}

/// Footnotes as links within the runbook, numbered in the order they are first referred to,
/// with prefixed ids (pulldown-cmark would use the label itself as the id).
fn number_footnotes(events: &mut [Event<'_>]) {
    let mut numbers: HashMap<String, usize> = HashMap::new();
    let mut number = |label: &str| {
        let next = numbers.len() + 1;
        *numbers.entry(label.to_owned()).or_insert(next)
    };
    for event in events.iter_mut() {
        let replacement = match event {
            Event::FootnoteReference(label) => {
                let n = number(label);
                format!(
                    r##"<sup class="footnote-reference"><a href="#{ID_PREFIX}fn-{}">{n}</a></sup>"##,
                    slug(label)
                )
            }
            Event::Start(Tag::FootnoteDefinition(label)) => {
                let n = number(label);
                format!(
                    r#"<div class="footnote-definition" id="fn-{}"><sup class="footnote-definition-label">{n}</sup>"#,
                    slug(label)
                )
            }
            Event::End(TagEnd::FootnoteDefinition) => "</div>".to_owned(),
            _ => continue,
        };
        *event = Event::Html(CowStr::from(replacement));
    }
}

/// Lowercase letters and digits, the rest as single hyphens: `Restart the API!` → `restart-the-api`.
pub fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        "section".to_owned()
    } else {
        out
    }
}

/// ammonia's default builder (no script, style, svg, math or other raw-text tags; no event
/// handlers), narrowed to the URL schemes a runbook needs and widened only by the attributes
/// the rendering above writes itself.
fn sanitize(html: &str) -> String {
    let headings = ["h1", "h2", "h3", "h4", "h5", "h6"];
    let mut builder = ammonia::Builder::default();
    builder
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        .url_relative(ammonia::UrlRelative::PassThrough)
        .link_rel(Some("noopener noreferrer"))
        .id_prefix(Some(ID_PREFIX))
        // The code block's language (`language-sh`), for highlighting and for people.
        .add_tag_attributes("code", ["class"])
        .add_tag_attributes("div", ["id"])
        .add_allowed_classes("div", ["footnote-definition"])
        .add_allowed_classes("sup", ["footnote-reference", "footnote-definition-label"]);
    for h in headings {
        builder.add_tag_attributes(h, ["id"]);
    }
    builder.clean(html).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_features_render_with_ids_for_the_table_of_contents() {
        let r = render(
            "# Orders are slow\n\n## First checks\n\n- [x] dashboard\n- [ ] logs\n\n\
             | a | b |\n|---|---|\n| 1 | 2 |\n\n~~old~~ and a note[^why].\n\n\
             ```sh\nsystemctl restart orders\n```\n\n## First checks\n\n[^why]: Because.\n",
        );
        let ids: Vec<&str> = r.headings.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(
            ids,
            ["rb-orders-are-slow", "rb-first-checks", "rb-first-checks-2"]
        );
        assert_eq!(r.headings[1].level, 2);
        assert!(
            r.text
                .starts_with("Orders are slow\nFirst checks\n☑ dashboard\n☐ logs\na\nb\n1\n2\n"),
            "{}",
            r.text
        );
        for expected in [
            r#"<h2 id="rb-first-checks">First checks</h2>"#,
            "<li>☑ dashboard</li>",
            "<li>☐ logs</li>",
            "<table>",
            "<del>old</del>",
            r#"<code class="language-sh">systemctl restart orders"#,
            r##"<a href="#rb-fn-why" rel="noopener noreferrer">1</a>"##,
            r#"<div class="footnote-definition" id="rb-fn-why">"#,
        ] {
            assert!(r.html().contains(expected), "{expected} in {}", r.html());
        }
    }

    #[test]
    fn links_keep_safe_schemes_and_relative_addresses_only() {
        let r = render(
            "[wiki](https://wiki.example/orders) [mail](mailto:ops@example.com) \
             [other](other-runbook) [ftp](ftp://files.example/x)",
        );
        assert!(
            r.html().contains(r#"href="https://wiki.example/orders""#),
            "{}",
            r.html()
        );
        assert!(
            r.html().contains(r#"href="mailto:ops@example.com""#),
            "{}",
            r.html()
        );
        assert!(r.html().contains(r#"href="other-runbook""#), "{}", r.html());
        assert!(!r.html().contains("ftp://"), "{}", r.html());
        assert!(
            r.html().contains(r#"rel="noopener noreferrer""#),
            "{}",
            r.html()
        );
    }

    /// Every tag in `html`, lowercased: `<a href="…">`, `</p>`.
    fn tags(html: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = html;
        while let Some(start) = rest.find('<') {
            let end = rest[start..]
                .find('>')
                .map_or(rest.len(), |e| start + e + 1);
            out.push(rest[start..end].to_lowercase());
            rest = &rest[end..];
        }
        out
    }

    #[test]
    fn nothing_in_a_hostile_runbook_runs_or_renders_as_markup() {
        let payloads = [
            "<script>alert(1)</script>",
            "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
            "<img src=x onerror=alert(1)>",
            "<IMG SRC=\"jav&#x09;ascript:alert(1)\">",
            "<a href=\"JaVaScRiPt:alert(1)\">x</a>",
            "<a href=\" javascript:alert(1)\">x</a>",
            "<a href=\"java\nscript:alert(1)\">x</a>",
            "<a href=\"&#106;avascript:alert(1)\">x</a>",
            "<a href=\"&#x6A;&#x61;vascript&colon;alert(1)\">x</a>",
            "[click](javascript:alert(1))",
            "[click](JAVASCRIPT:alert(1))",
            "[click](&#106;avascript:alert(1))",
            "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
            "<a href=\"data:text/html,<script>alert(1)</script>\">x</a>",
            "<iframe src=\"https://evil.example\"></iframe>",
            "<svg><script>alert(1)</script></svg>",
            "<svg onload=alert(1)>",
            "<math><mi xlink:href=\"javascript:alert(1)\">x</mi></math>",
            "<svg></p><style><a id=\"</style><img src=1 onerror=alert(1)>\">",
            "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
            "<style>body{background:url(javascript:alert(1))}</style>",
            "<div style=\"background:url(javascript:alert(1))\">x</div>",
            "<!-- <img src=x onerror=alert(1)> -->",
            "<![CDATA[<img src=x onerror=alert(1)>]]>",
            "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\"></noscript>",
            "<form action=\"https://evil.example\"><input name=password></form>",
            "<object data=\"javascript:alert(1)\"></object>",
            "<embed src=\"javascript:alert(1)\">",
            "<details open ontoggle=alert(1)>",
            "<a href=\"vbscript:msgbox(1)\">x</a>",
            "<template><img src=x onerror=alert(1)></template>",
            "<h2 id=\"location\">clobber</h2>",
        ];
        let forbidden_tags = [
            "<script",
            "<style",
            "<svg",
            "<math",
            "<iframe",
            "<object",
            "<embed",
            "<form",
            "<input",
            "<noscript",
            "<template",
            "<mglyph",
            "<mtext",
        ];
        for payload in payloads {
            let html = render(&format!("Before\n\n{payload}\n\nafter")).html();
            for tag in tags(&html) {
                for bad in forbidden_tags {
                    assert!(!tag.starts_with(bad), "{payload:?} gave {html}");
                }
                let words: Vec<&str> = tag
                    .trim_start_matches('<')
                    .split(|c: char| c.is_whitespace() || c == '/')
                    .collect();
                assert!(
                    !words
                        .iter()
                        .skip(1)
                        .any(|w| w.starts_with("on") && w.contains('=')),
                    "an event handler from {payload:?}: {html}"
                );
                for scheme in ["javascript:", "vbscript:", "data:"] {
                    assert!(!tag.contains(scheme), "{scheme} from {payload:?}: {html}");
                }
                assert!(
                    !tag.contains("style="),
                    "inline style from {payload:?}: {html}"
                );
                assert!(
                    !tag.contains("id=\"location\""),
                    "an id that names a global from {payload:?}: {html}"
                );
            }
            // The runbook around it still renders (a raw-text tag left open may swallow the
            // rest, which is then dropped, not shown).
            assert!(html.contains("<p>Before</p>"), "{html}");
        }
    }

    #[test]
    fn slugs_are_plain_and_never_empty() {
        assert_eq!(slug("Restart the API!"), "restart-the-api");
        assert_eq!(slug("  Ünïcode — ok  "), "ünïcode-ok");
        assert_eq!(slug("!!!"), "section");
    }
}

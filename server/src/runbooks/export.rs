//! Every runbook in one self-contained HTML file, to keep on a phone or laptop for when the
//! console (or the network to it) is down: a table of contents, inline CSS, no scripts, no
//! requests, and the time it was made. `flightdeck runbooks export` and
//! `GET /runbooks/export.html` make the same file.

use std::{fmt::Write as _, sync::Arc};

use super::{Runbook, escape as text};

/// Inline, since the file must read without the console. Light and dark like the console.
const STYLE: &str = "
:root { color-scheme: light dark; --muted: #57606a; --border: #d0d7de; --code: #eef1f4; }
@media (prefers-color-scheme: dark) { :root { --muted: #9da7b3; --border: #30363d; --code: #1f2630; } }
body { font: 16px/1.6 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; max-width: 48rem;
  margin: 0 auto; padding: 1rem; overflow-wrap: break-word; }
header p, .facts { color: var(--muted); font-size: 0.875rem; }
section.runbook { border-top: 2px solid var(--border); margin-top: 2rem; padding-top: 1rem; }
pre { background: var(--code); padding: 0.75rem; border-radius: 6px; overflow-x: auto; }
code { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 0.9em; }
table { display: block; overflow-x: auto; border-collapse: collapse; }
th, td { border: 1px solid var(--border); padding: 0.25rem 0.5rem; }
img { max-width: 100%; }
.stale { font-weight: 700; }
";

/// The file made now, from what the catalog serves.
pub fn export_now(title: &str, runbooks: &[Arc<Runbook>]) -> String {
    let now = flightdeck_app::model::Timestamp::now();
    let today = time::OffsetDateTime::now_utc().date();
    export(
        title,
        runbooks,
        &flightdeck_app::time_format::utc(now),
        today,
    )
}

/// The file. `made_at` is printed as given (UTC, to the minute, e.g. `2026-11-30 05:40 UTC`).
pub fn export(title: &str, runbooks: &[Arc<Runbook>], made_at: &str, today: time::Date) -> String {
    let mut sorted: Vec<&Runbook> = runbooks.iter().map(AsRef::as_ref).collect();
    sorted.sort_by_key(|r| r.front.title.to_lowercase());
    let title = text(title);
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}: runbooks</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <header>\n<h1>{title}: runbooks</h1>\n\
         <p>Exported {made_at}. A copy: the console may have newer versions.</p>\n\
         </header>\n<nav aria-labelledby=\"contents\">\n<h2 id=\"contents\">Contents</h2>\n<ol>\n"
    );
    for r in &sorted {
        let _ = writeln!(
            out,
            "<li><a href=\"#runbook-{}\">{}</a></li>",
            r.slug,
            text(&r.front.title)
        );
    }
    out.push_str("</ol>\n</nav>\n");
    for r in &sorted {
        let front = &r.front;
        let services: Vec<&str> = front.services.iter().map(|s| s.as_str()).collect();
        let reviewed = front
            .reviewed
            .map_or_else(|| "never".to_owned(), |d| d.to_string());
        let stale = if super::is_stale(front.reviewed, front.review_every, today) {
            " <span class=\"stale\">(stale)</span>"
        } else {
            ""
        };
        let _ = write!(
            out,
            "<section class=\"runbook\" id=\"runbook-{slug}\">\n<h1>{title}</h1>\n\
             <p class=\"facts\">Services: {services} · Owner: {owner} · Reviewed: {reviewed}{stale}</p>\n\
             {body}\n<p><a href=\"#contents\">Back to the contents</a></p>\n</section>\n",
            slug = r.slug,
            title = text(&front.title),
            services = text(&services.join(", ")),
            owner = text(front.owner.as_deref().unwrap_or("nobody named")),
            body = own_ids(&r.static_html(), &r.slug),
        );
    }
    out.push_str("</body>\n</html>\n");
    out
}

/// Every runbook's ids start with `rb-`, and two runbooks may both have `rb-first-checks`: in
/// one file each gets its own (`rb-restart-first-checks`), and so do the links to them. Only
/// attributes the sanitizer wrote can match, since text has its quotes escaped.
fn own_ids(html: &str, slug: &str) -> String {
    html.replace("id=\"rb-", &format!("id=\"rb-{slug}-"))
        .replace("href=\"#rb-", &format!("href=\"#rb-{slug}-"))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Config;

    fn runbook(file: &str, text: &str) -> Arc<Runbook> {
        let config = Config::parse(
            Path::new("flightdeck.toml"),
            "[[environment]]\nname = \"dev\"\ndocker = {}\n\n\
             [[service]]\nname = \"shop\"\ntargets.dev = { container = \"shop\" }\n",
        )
        .unwrap();
        Arc::new(super::super::parse(Path::new(file), file, text, &config).unwrap())
    }

    #[test]
    fn one_file_with_contents_own_ids_escaped_text_and_no_scripts() {
        let a = runbook(
            "restart.md",
            "+++\ntitle = \"Restart <b>now</b>\"\nservices = [\"shop\"]\nreviewed = 2026-11-01\n+++\n\
             ## First checks\n\nSee [below](#rb-first-checks).<script>alert(1)</script>\n",
        );
        let b = runbook(
            "disk.md",
            "+++\ntitle = \"Disk full\"\nservices = [\"shop\"]\nowner = \"ops\"\n+++\n## First checks\n",
        );
        let today = time::macros::date!(2026 - 11 - 30);
        let html = export("Deck & co", &[a, b], "2026-11-30 05:40 UTC", today);
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(
            html.contains("<title>Deck &amp; co: runbooks</title>"),
            "{html}"
        );
        assert!(html.contains("Exported 2026-11-30 05:40 UTC."));
        // Contents by title, each runbook in its own section.
        let disk = html
            .find("<a href=\"#runbook-disk\">Disk full</a>")
            .unwrap();
        let restart = html
            .find("<a href=\"#runbook-restart\">Restart &lt;b&gt;now&lt;/b&gt;</a>")
            .unwrap();
        assert!(disk < restart, "{html}");
        assert!(
            html.contains("<h2 id=\"rb-restart-first-checks\">"),
            "{html}"
        );
        assert!(html.contains("<h2 id=\"rb-disk-first-checks\">"), "{html}");
        assert!(html.contains("href=\"#rb-restart-first-checks\""), "{html}");
        assert!(html.contains("Reviewed: never <span class=\"stale\">(stale)</span>"));
        assert!(
            html.contains("Owner: nobody named · Reviewed: 2026-11-01</p>"),
            "{html}"
        );
        assert!(html.contains("Owner: ops · Reviewed: never"), "{html}");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("src="), "nothing is fetched: {html}");
    }
}

//! Runbooks: Markdown files with TOML front matter in the directory `[runbooks] dir` names,
//! kept in git beside the configuration. The [`Catalog`] reads them and keeps them current,
//! [`front_matter`] checks each against the configuration and [`render`] makes safe HTML of
//! it. A file that cannot be read is reported as `file:line:column: key: message`,
//! like the configuration, and the others are still served.

pub mod blocks;
mod catalog;
pub mod export;
pub mod front_matter;
pub mod render;
pub mod search;

use std::path::{Path, PathBuf};

pub use blocks::{ActionBlock, Block};
pub use catalog::Catalog;
pub use front_matter::{FrontMatter, is_stale};
pub use render::{Heading, slug};

use flightdeck_app::model::ServiceName;

use crate::config::{Config, ConfigError, ConfigErrors};

/// Runbook files larger than this are refused: a runbook is read during an incident, often on
/// a phone, and must stay a page, not a book.
const MAX_FILE_BYTES: u64 = 512 * 1024;

/// One runbook, read, checked and rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runbook {
    /// Its address: `/runbooks/{slug}`, from the file name.
    pub slug: String,
    /// The file below the runbooks directory (`db/slow-queries.md`), for messages and the Edit
    /// link.
    pub path: String,
    /// Title, services, tags, owner and review, as the file's front matter says.
    pub front: FrontMatter,
    /// The body: sanitized HTML, and the console's live and action blocks between it.
    pub sections: Vec<Section>,
    pub headings: Vec<Heading>,
    /// The body as plain text, for search.
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Section {
    Html(String),
    Block(Block),
}

impl Runbook {
    /// The body as one piece of HTML for a file that runs nothing: each block is said in
    /// words.
    pub fn static_html(&self) -> String {
        let mut html = String::new();
        for section in &self.sections {
            match section {
                Section::Html(piece) => html.push_str(piece),
                Section::Block(block) => {
                    html.push_str("<p class=\"block\"><em>");
                    html.push_str(&escape(&block.describe()));
                    html.push_str("</em></p>\n");
                }
            }
        }
        html
    }

    /// The services whose health the runbook shows: its own, then those of its blocks.
    pub fn health_services(&self) -> Vec<ServiceName> {
        let mut services = self.front.services.clone();
        for section in &self.sections {
            let named = match section {
                Section::Block(Block::Health { service }) => service,
                Section::Block(Block::Action(a)) => &a.service,
                Section::Block(Block::Logs(_)) | Section::Html(_) => continue,
            };
            if !services.contains(named) {
                services.push(named.clone());
            }
        }
        services
    }
}

/// Reads, checks and renders one file.
pub fn read_one(file: &Path, relative: &str, config: &Config) -> Result<Runbook, ConfigErrors> {
    let size = std::fs::metadata(file)
        .map_err(|e| ConfigErrors(vec![problem(file, format!("cannot read it: {e}"))]))?
        .len();
    if size > MAX_FILE_BYTES {
        return Err(ConfigErrors(vec![problem(
            file,
            format!(
                "is {} KiB; a runbook may be at most {} KiB",
                size / 1024,
                MAX_FILE_BYTES / 1024
            ),
        )]));
    }
    let text = std::fs::read_to_string(file).map_err(|e| {
        ConfigErrors(vec![problem(
            file,
            format!("cannot read it as UTF-8 text: {e}"),
        )])
    })?;
    parse(file, relative, &text, config)
}

/// A runbook from the text of `file`, whose path below the runbooks directory is `relative`.
pub fn parse(
    file: &Path,
    relative: &str,
    text: &str,
    config: &Config,
) -> Result<Runbook, ConfigErrors> {
    let (front, body) = front_matter::parse(file, text, config)?;
    let markdown = &text[body..];
    let stem = Path::new(relative)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let rendered = render::render(markdown);
    let mut problems = Vec::new();
    for &at in &rendered.nested_blocks {
        problems.push(ConfigError {
            file: file.display().to_string(),
            line: text[..body + at].matches('\n').count() + 1,
            column: 1,
            key: String::new(),
            message: "a flightdeck- block stands on its own: not inside a list, quote or table"
                .to_owned(),
        });
    }
    let mut sections = Vec::new();
    for part in rendered.parts {
        match part {
            render::Part::Html(html) => sections.push(Section::Html(html)),
            render::Part::Block {
                kind,
                content,
                fence,
            } => {
                let content = body + content.start..body + content.end;
                match blocks::read(file, text, &kind, content, body + fence, config) {
                    Ok(block) => sections.push(Section::Block(block)),
                    Err(errors) => problems.extend(errors.0),
                }
            }
        }
    }
    if !problems.is_empty() {
        return Err(ConfigErrors(problems));
    }
    Ok(Runbook {
        slug: slug(&stem),
        path: relative.to_owned(),
        front,
        sections,
        headings: rendered.headings,
        text: rendered.text,
    })
}

/// The Edit link of a runbook, from `[runbooks] edit_url`.
pub fn edit_url(config: &Config, runbook: &Runbook) -> Option<String> {
    let template = config.runbooks.as_ref()?.edit_url.as_ref()?;
    let path: String = url::form_urlencoded::byte_serialize(runbook.path.as_bytes())
        .collect::<String>()
        .replace("%2F", "/");
    Some(template.replace("{path}", &path))
}

fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let kind = entry.file_type()?;
        // Hidden files and folders are editors' and git's, not runbooks.
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        if kind.is_dir() {
            markdown_files(&path, out)?;
        } else if kind.is_file() && path.extension().is_some_and(|e| e == "md") {
            out.push(path);
        }
    }
    Ok(())
}

/// Text for HTML, in an element or a quoted attribute: what could start markup, an entity or
/// end the attribute is escaped.
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A problem with a whole file (not a line of it).
fn problem(file: &Path, message: String) -> ConfigError {
    ConfigError {
        file: file.display().to_string(),
        line: 0,
        column: 0,
        key: String::new(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_with_dir(dir: &Path) -> Config {
        let text = format!(
            "[runbooks]\ndir = \"{}\"\nedit_url = \"https://git.example/ops/edit/main/{{path}}\"\n\n\
             [[environment]]\nname = \"dev\"\ndocker = {{}}\n\n\
             [[service]]\nname = \"shop\"\ntargets.dev = {{ container = \"shop\" }}\n",
            dir.display()
        );
        Config::parse(Path::new("flightdeck.toml"), &text).unwrap()
    }

    #[test]
    fn a_directory_of_runbooks_is_read_and_bad_files_are_named_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("db")).unwrap();
        std::fs::write(
            dir.path().join("db/Slow Queries.md"),
            "+++\ntitle = \"Slow queries\"\nservices = [\"shop\"]\n+++\n# Look first\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("restart.md"),
            "+++\ntitle = \"Restart\"\nservices = [\"shop\"]\ntags = [\"Ops\"]\n+++\nSteps.\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("broken.md"),
            "+++\ntitle = \"Broken\"\nservices = [\"nope\"]\n+++\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not a runbook").unwrap();
        std::fs::write(dir.path().join(".draft.md"), "ignored").unwrap();

        let config = config_with_dir(dir.path());
        let catalog = Catalog::new(std::sync::Arc::new(config.clone()));
        let runbooks = catalog.runbooks();
        let slugs: Vec<&str> = runbooks.iter().map(|r| r.slug.as_str()).collect();
        assert_eq!(slugs, ["slow-queries", "restart"]);
        assert_eq!(runbooks[0].path, "db/Slow Queries.md");
        assert_eq!(runbooks[0].headings[0].id, "rb-look-first");
        assert_eq!(runbooks[1].front.tags, ["ops"]);
        let problems: Vec<String> = catalog.problems().iter().map(ToString::to_string).collect();
        assert_eq!(
            problems,
            [format!(
                "{}:3:13: services: no service `nope` in the configuration",
                dir.path().join("broken.md").display()
            )]
        );
        assert_eq!(
            edit_url(&config, &runbooks[0]).as_deref(),
            Some("https://git.example/ops/edit/main/db/Slow+Queries.md")
        );
    }

    #[test]
    fn blocks_split_the_body_and_a_broken_or_nested_block_is_a_problem_of_the_file() {
        let config = config_with_dir(Path::new("runbooks"));
        let file = Path::new("runbooks/shop.md");
        let front = "+++\ntitle = \"Shop\"\nservices = [\"shop\"]\n+++\n";
        let good = format!(
            "{front}# Before\n\n```flightdeck-health\nservice = \"shop\"\n```\n\nMiddle\n\n\
             ```flightdeck-action\naction = \"restart\"\nservice = \"shop\"\nenvironment = \"dev\"\n```\n"
        );
        let runbook = parse(file, "shop.md", &good, &config).unwrap();
        let kinds: Vec<&str> = runbook
            .sections
            .iter()
            .map(|s| match s {
                Section::Html(_) => "html",
                Section::Block(Block::Health { .. }) => "health",
                Section::Block(Block::Action(_)) => "action",
                Section::Block(Block::Logs(_)) => "logs",
            })
            .collect();
        assert_eq!(kinds, ["html", "health", "html", "action"]);
        let exported = runbook.static_html();
        assert!(exported.contains("Live health of shop: open this runbook in the console."));
        assert!(exported.contains("Restart shop in dev: a button in the console."));

        let broken = format!(
            "{front}- a step\n\n  ```flightdeck-health\n  service = \"shop\"\n  ```\n\n\
             ```flightdeck-health\nservice = \"nope\"\n```\n"
        );
        let problems: Vec<String> = parse(file, "shop.md", &broken, &config)
            .unwrap_err()
            .0
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            problems,
            [
                "runbooks/shop.md:7:1: a flightdeck- block stands on its own: not inside a list, quote or table",
                "runbooks/shop.md:12:11: service: no service `nope` in the configuration",
            ]
        );
    }

    #[test]
    fn a_missing_directory_is_one_problem() {
        let dir = tempfile::tempdir().unwrap();
        let config = config_with_dir(&dir.path().join("missing"));
        let catalog = Catalog::new(std::sync::Arc::new(config));
        assert!(catalog.runbooks().is_empty());
        let problems = catalog.problems();
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0]
                .to_string()
                .contains("cannot read the runbooks directory"),
            "{problems:?}"
        );
    }
}

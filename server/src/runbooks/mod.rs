//! Runbooks: Markdown files with TOML front matter in the directory `[runbooks] dir` names,
//! kept in git beside the configuration. The [`Catalog`] reads them and keeps them current,
//! [`front_matter`] checks each against the configuration and [`render`] makes safe HTML of
//! it. A file that cannot be read is reported as `file:line:column: key: message`,
//! like the configuration, and the others are still served.

mod catalog;
pub mod export;
pub mod front_matter;
pub mod render;
pub mod search;

use std::path::{Path, PathBuf};

pub use catalog::Catalog;
pub use front_matter::{FrontMatter, is_stale};
pub use render::{Heading, slug};

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
    /// The body as sanitized HTML.
    pub html: String,
    pub headings: Vec<Heading>,
    /// The body as plain text, for search.
    pub text: String,
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
    let (front, markdown) = front_matter::parse(file, text, config)?;
    let stem = Path::new(relative)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let rendered = render::render(&markdown);
    Ok(Runbook {
        slug: slug(&stem),
        path: relative.to_owned(),
        front,
        html: rendered.html,
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

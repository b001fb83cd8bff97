//! A checked walk over a parsed TOML document.
//!
//! serde's `deny_unknown_fields` stops at the first problem and loses the line of a semantic
//! error such as a dangling reference. Operators fix a config faster when they see every problem
//! at once, each with its line, so the config is read by hand through this reader, which records
//! problems instead of returning early.

use std::{collections::HashSet, fmt, ops::Range, path::Path};

use toml_edit::{Item, TableLike, Value};

/// One problem in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    /// 1-based; 0 when the problem is not tied to a place (the file cannot be read).
    pub line: usize,
    pub column: usize,
    /// Dotted path to the key, e.g. `service[2].targets.staging.health_url`.
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else if self.key.is_empty() {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file, self.line, self.column, self.message
            )
        } else {
            write!(
                f,
                "{}:{}:{}: {}: {}",
                self.file, self.line, self.column, self.key, self.message
            )
        }
    }
}

/// Every problem found in one file, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// A table being read, with the path used in messages and a place to point at when a key is
/// missing.
#[derive(Clone)]
pub struct Node<'d> {
    pub path: String,
    pub table: &'d dyn TableLike,
    pub span: Option<(usize, usize)>,
}

/// A table found in an array of tables, with its byte span in the file.
pub type TableAt<'d> = (&'d dyn TableLike, Option<(usize, usize)>);

pub struct Reader<'t> {
    file: String,
    text: &'t str,
    errors: Vec<ConfigError>,
}

impl<'t> Reader<'t> {
    pub fn new(file: &Path, text: &'t str) -> Self {
        Self {
            file: file.display().to_string(),
            text,
            errors: Vec::new(),
        }
    }

    pub fn finish(mut self) -> Result<(), ConfigErrors> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            self.errors
                .sort_by_key(|e| (e.line, e.column, e.key.clone()));
            self.errors.dedup();
            Err(ConfigErrors(self.errors))
        }
    }

    /// Records a problem at byte offset `at` (or line 1 when unknown).
    pub fn error(&mut self, at: Option<usize>, key: &str, message: impl Into<String>) {
        let (line, column) = at.map_or((1, 1), |offset| self.line_col(offset));
        self.errors.push(ConfigError {
            file: self.file.clone(),
            line,
            column,
            key: key.to_owned(),
            message: message.into(),
        });
    }

    /// The 1-based line of a byte offset, for "already declared on line N".
    pub fn line_of(&self, offset: Option<usize>) -> usize {
        offset.map_or(1, |o| self.line_col(o).0)
    }

    fn line_col(&self, offset: usize) -> (usize, usize) {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rfind('\n').map_or(before.chars().count(), |nl| {
            before[nl + 1..].chars().count()
        }) + 1;
        (line, column)
    }

    /// Reports every key of `node` that is not in `allowed`, with a suggestion when one is close.
    pub fn check_keys(&mut self, node: &Node<'_>, allowed: &[&str]) {
        for (key, _) in node.table.iter() {
            if allowed.contains(&key) {
                continue;
            }
            let at = key_offset(node, key);
            let mut message = format!("unknown key `{key}`");
            match closest(key, allowed) {
                Some(near) => message.push_str(&format!("; did you mean `{near}`?")),
                None => message.push_str(&format!("; expected one of: {}", allowed.join(", "))),
            }
            self.error(at, &join(&node.path, key), message);
        }
    }

    pub fn string(
        &mut self,
        node: &Node<'_>,
        key: &str,
        required: bool,
    ) -> Option<Located<String>> {
        let value = self.value(node, key, required, "a string")?;
        match value.as_str() {
            Some(s) => Some(Located {
                value: s.to_owned(),
                at: span_start(value.span()),
            }),
            None => {
                self.type_error(node, key, "a string", value.type_name(), value.span());
                None
            }
        }
    }

    pub fn bool(&mut self, node: &Node<'_>, key: &str) -> Option<bool> {
        let value = self.value(node, key, false, "true or false")?;
        match value.as_bool() {
            Some(b) => Some(b),
            None => {
                self.type_error(node, key, "true or false", value.type_name(), value.span());
                None
            }
        }
    }

    pub fn integer(&mut self, node: &Node<'_>, key: &str) -> Option<Located<i64>> {
        let value = self.value(node, key, false, "an integer")?;
        match value.as_integer() {
            Some(i) => Some(Located {
                value: i,
                at: span_start(value.span()),
            }),
            None => {
                self.type_error(node, key, "an integer", value.type_name(), value.span());
                None
            }
        }
    }

    /// A number, written as an integer (`12`) or with decimals (`12.5`).
    pub fn number(&mut self, node: &Node<'_>, key: &str) -> Option<Located<f64>> {
        let value = self.value(node, key, false, "a number")?;
        #[allow(clippy::cast_precision_loss)] // amounts of money and prices, far below 2^53
        let number = value
            .as_float()
            .or_else(|| value.as_integer().map(|i| i as f64));
        match number {
            Some(n) if n.is_finite() => Some(Located {
                value: n,
                at: span_start(value.span()),
            }),
            _ => {
                self.type_error(node, key, "a number", value.type_name(), value.span());
                None
            }
        }
    }

    /// An array of strings, each with its own position.
    pub fn strings(&mut self, node: &Node<'_>, key: &str) -> Option<Vec<Located<String>>> {
        let value = self.value(node, key, false, "an array of strings")?;
        let Some(array) = value.as_array() else {
            self.type_error(
                node,
                key,
                "an array of strings",
                value.type_name(),
                value.span(),
            );
            return None;
        };
        let mut out = Vec::new();
        for item in array.iter() {
            match item.as_str() {
                Some(s) => out.push(Located {
                    value: s.to_owned(),
                    at: span_start(item.span()),
                }),
                None => self.error(
                    span_start(item.span()),
                    &join(&node.path, key),
                    format!("expected strings in the array, found {}", item.type_name()),
                ),
            }
        }
        Some(out)
    }

    /// An array of numbers (integers or decimals), each with its own position.
    pub fn numbers(&mut self, node: &Node<'_>, key: &str) -> Option<Vec<Located<f64>>> {
        let value = self.value(node, key, false, "an array of numbers")?;
        let Some(array) = value.as_array() else {
            self.type_error(
                node,
                key,
                "an array of numbers",
                value.type_name(),
                value.span(),
            );
            return None;
        };
        let mut out = Vec::new();
        for item in array.iter() {
            #[allow(clippy::cast_precision_loss)] // amounts of money, far below 2^53
            let number = item
                .as_float()
                .or_else(|| item.as_integer().map(|i| i as f64));
            match number {
                Some(n) if n.is_finite() => out.push(Located {
                    value: n,
                    at: span_start(item.span()),
                }),
                _ => self.error(
                    span_start(item.span()),
                    &join(&node.path, key),
                    format!("expected numbers in the array, found {}", item.type_name()),
                ),
            }
        }
        Some(out)
    }

    /// A sub-table, written either as `[a.b]` or inline as `b = { … }`.
    pub fn table<'d>(&mut self, node: &Node<'d>, key: &str) -> Option<Node<'d>> {
        let item = node.table.get(key)?;
        match item.as_table_like() {
            Some(table) => Some(Node {
                path: join(&node.path, key),
                table,
                span: item_span(item).or_else(|| key_offset(node, key).map(|o| (o, o))),
            }),
            None => {
                self.type_error(
                    node,
                    key,
                    "a table",
                    item.type_name(),
                    item_span(item).map(|(s, e)| s..e),
                );
                None
            }
        }
    }

    /// `[[key]]` tables (or an inline array of tables), each with its byte span.
    pub fn tables<'d>(&mut self, node: &Node<'d>, key: &str) -> Vec<TableAt<'d>> {
        let Some(item) = node.table.get(key) else {
            return Vec::new();
        };
        if let Some(array) = item.as_array_of_tables() {
            return array
                .iter()
                .map(|t| (t as &dyn TableLike, t.span().map(|r| (r.start, r.end))))
                .collect();
        }
        if let Some(array) = item.as_array() {
            let mut out = Vec::new();
            for value in array.iter() {
                match value.as_inline_table() {
                    Some(t) => {
                        out.push((t as &dyn TableLike, value.span().map(|r| (r.start, r.end))))
                    }
                    None => {
                        self.error(
                            span_start(value.span()),
                            &join(&node.path, key),
                            format!("expected tables, found {}", value.type_name()),
                        );
                    }
                }
            }
            return out;
        }
        self.type_error(
            node,
            key,
            "an array of tables ([[…]])",
            item.type_name(),
            item_span(item).map(|(s, e)| s..e),
        );
        Vec::new()
    }

    fn value<'d>(
        &mut self,
        node: &Node<'d>,
        key: &str,
        required: bool,
        expected: &str,
    ) -> Option<&'d Value> {
        match node.table.get(key) {
            Some(Item::Value(v)) => Some(v),
            Some(other) => {
                self.type_error(
                    node,
                    key,
                    expected,
                    other.type_name(),
                    item_span(other).map(|(s, e)| s..e),
                );
                None
            }
            None => {
                if required {
                    self.error(
                        node.span.map(|s| s.0),
                        &join(&node.path, key),
                        format!("missing; expected {expected}"),
                    );
                }
                None
            }
        }
    }

    fn type_error(
        &mut self,
        node: &Node<'_>,
        key: &str,
        expected: &str,
        found: &str,
        span: Option<Range<usize>>,
    ) {
        let at = span_start(span).or_else(|| key_offset(node, key));
        self.error(
            at,
            &join(&node.path, key),
            format!("expected {expected}, found {found}"),
        );
    }
}

/// A value with the byte offset it was read from.
#[derive(Debug, Clone)]
pub struct Located<T> {
    pub value: T,
    pub at: Option<usize>,
}

pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

pub fn key_offset(node: &Node<'_>, key: &str) -> Option<usize> {
    node.table
        .key(key)
        .and_then(|k| k.span())
        .map(|r| r.start)
        .or_else(|| node.table.get(key).and_then(item_span).map(|s| s.0))
        .or(node.span.map(|s| s.0))
}

fn item_span(item: &Item) -> Option<(usize, usize)> {
    item.span().map(|r| (r.start, r.end))
}

fn span_start(span: Option<Range<usize>>) -> Option<usize> {
    span.map(|r| r.start)
}

/// The allowed key within edit distance 2 of `key`, if any: catches typos like `helth_url`.
fn closest<'a>(key: &str, allowed: &[&'a str]) -> Option<&'a str> {
    allowed
        .iter()
        .map(|a| (edit_distance(key, a), *a))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, a)| a)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(row[j]).min(row[j + 1])
            };
            prev = cur;
        }
    }
    row[b.len()]
}

/// Tracks names declared in a list, to report duplicates with the line of the first one.
#[derive(Default)]
pub struct Seen {
    names: HashSet<String>,
    first: Vec<(String, Option<usize>)>,
}

impl Seen {
    /// Returns the offset of the earlier declaration when `name` was seen before.
    pub fn insert(&mut self, name: &str, at: Option<usize>) -> Result<(), Option<usize>> {
        if self.names.insert(name.to_owned()) {
            self.first.push((name.to_owned(), at));
            Ok(())
        } else {
            Err(self
                .first
                .iter()
                .find(|(n, _)| n == name)
                .and_then(|(_, at)| *at))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_single_character_edits() {
        assert_eq!(edit_distance("helth_url", "health_url"), 1);
        assert_eq!(edit_distance("name", "name"), 0);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(
            closest("protect", &["name", "protected"]),
            Some("protected")
        );
        assert_eq!(closest("zzz", &["name", "protected"]), None);
    }
}

//! Search over the runbooks, in memory: an index of every word of each runbook's title,
//! headings and body, kept in sorted order so a query word matches by prefix ("restar" finds
//! "restart"). Every query word must match; a runbook ranks by where its words match, title
//! before headings before body, and by how often in the body. Rebuilt whenever the catalog
//! changes, which is rare next to reading it.

use std::{collections::BTreeMap, ops::Bound, sync::Arc};

use super::Runbook;

/// Query words beyond this are ignored: a search box, not a document.
const MAX_QUERY_WORDS: usize = 8;
/// Longer words are cut to this for the index (a hash or a URL is not searched by its tail).
const MAX_WORD_CHARS: usize = 40;
/// A snippet is about this many characters of the body around the first match.
const SNIPPET_CHARS: usize = 180;
/// How much of the snippet comes before the first match.
const SNIPPET_LEAD: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Field {
    Title,
    Heading,
    Body,
}

/// One word's occurrences in one field of one runbook.
#[derive(Debug, Clone, Copy)]
struct Posting {
    doc: u32,
    field: Field,
    count: u16,
}

/// A piece of a snippet: plain text, or a matched word to highlight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment {
    pub text: String,
    pub matched: bool,
}

#[derive(Debug, Clone)]
pub struct Hit {
    pub runbook: Arc<Runbook>,
    /// Body text around the first match, matched words marked.
    pub snippet: Vec<Fragment>,
}

/// What a search found: how many matched, and the best of them with their snippets.
#[derive(Debug, Clone, Default)]
pub struct Found {
    pub matched: usize,
    pub hits: Vec<Hit>,
}

#[derive(Default)]
pub struct Index {
    docs: Vec<Arc<Runbook>>,
    words: BTreeMap<Box<str>, Vec<Posting>>,
}

impl Index {
    pub fn new(docs: Vec<Arc<Runbook>>) -> Self {
        let mut words: BTreeMap<Box<str>, Vec<Posting>> = BTreeMap::new();
        for (doc, runbook) in docs.iter().enumerate() {
            let doc = u32::try_from(doc).unwrap_or(u32::MAX);
            let headings = runbook.headings.iter().map(|h| h.text.as_str());
            let fields = [
                (Field::Title, vec![runbook.front.title.as_str()]),
                (Field::Heading, headings.collect()),
                (Field::Body, vec![runbook.text.as_str()]),
            ];
            for (field, texts) in fields {
                let mut counts: BTreeMap<String, u16> = BTreeMap::new();
                for text in texts {
                    for word in words_of(text) {
                        let n = counts.entry(index_form(word)).or_insert(0);
                        *n = n.saturating_add(1);
                    }
                }
                for (word, count) in counts {
                    words
                        .entry(word.into_boxed_str())
                        .or_default()
                        .push(Posting { doc, field, count });
                }
            }
        }
        Self { docs, words }
    }

    /// The runbooks that match every word of `query` and that `keep` keeps: how many, and the
    /// best `limit` of them with snippets (made only for those: a snippet reads the whole
    /// body). Nothing for a query with no words.
    pub fn search(&self, query: &str, limit: usize, keep: impl Fn(&Runbook) -> bool) -> Found {
        let terms = query_terms(query);
        if terms.is_empty() {
            return Found::default();
        }
        let mut total = vec![0_u64; self.docs.len()];
        let mut matched_all = vec![true; self.docs.len()];
        let mut this_term = vec![0_u64; self.docs.len()];
        for term in &terms {
            this_term.iter_mut().for_each(|s| *s = 0);
            let from: Bound<&str> = Bound::Included(term.as_str());
            for (_, postings) in self
                .words
                .range::<str, _>((from, Bound::Unbounded))
                .take_while(|(word, _)| word.starts_with(term.as_str()))
            {
                for p in postings {
                    let score = &mut this_term[p.doc as usize];
                    *score = score.saturating_add(weight(p.field, p.count));
                }
            }
            for ((total, all), score) in total.iter_mut().zip(&mut matched_all).zip(&this_term) {
                *all &= *score > 0;
                *total = total.saturating_add(*score);
            }
        }
        let mut ranked: Vec<(u64, usize)> = total
            .into_iter()
            .enumerate()
            .filter(|&(doc, _)| matched_all[doc] && keep(&self.docs[doc]))
            .map(|(doc, score)| (score, doc))
            .collect();
        let matched = ranked.len();
        ranked.sort_by(|a, b| {
            b.0.cmp(&a.0)
                .then_with(|| self.docs[a.1].front.title.cmp(&self.docs[b.1].front.title))
        });
        let hits = ranked
            .into_iter()
            .take(limit)
            .map(|(_, doc)| {
                let runbook = self.docs[doc].clone();
                let snippet = snippet(&runbook.text, &terms);
                Hit { runbook, snippet }
            })
            .collect();
        Found { matched, hits }
    }
}

/// Title matches outrank any number of heading matches, which outrank any number in the body.
fn weight(field: Field, count: u16) -> u64 {
    match field {
        Field::Title => 1_000_000,
        Field::Heading => 1_000,
        Field::Body => u64::from(count.min(999)),
    }
}

/// The words of a text: runs of letters and digits.
fn words_of(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
}

/// How a word is kept in the index and compared: lowercase, at most [`MAX_WORD_CHARS`].
fn index_form(word: &str) -> String {
    word.chars()
        .flat_map(char::to_lowercase)
        .take(MAX_WORD_CHARS)
        .collect()
}

/// The distinct words of a query, in index form.
fn query_terms(query: &str) -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    for word in words_of(query) {
        let term = index_form(word);
        if !terms.contains(&term) {
            terms.push(term);
        }
        if terms.len() == MAX_QUERY_WORDS {
            break;
        }
    }
    terms
}

/// About [`SNIPPET_CHARS`] of `text` from shortly before the first word that matches a term
/// (or from the start, when only the title or headings matched), on word boundaries, with
/// every matching word marked.
fn snippet(text: &str, terms: &[String]) -> Vec<Fragment> {
    // Compared without allocating: the words before the first match can be most of a body,
    // and a search makes a snippet for each result it shows.
    let matches = |word: &str| {
        terms.iter().any(|t| {
            let mut lower = word.chars().flat_map(char::to_lowercase);
            t.chars().all(|c| lower.next() == Some(c))
        })
    };
    let first = word_spans(text)
        .find(|(_, w)| matches(w))
        .map_or(0, |(at, _)| at);
    // Start at the first word that begins at most SNIPPET_LEAD bytes before the match.
    let mut lead_from = first.saturating_sub(SNIPPET_LEAD);
    while !text.is_char_boundary(lead_from) {
        lead_from += 1;
    }
    let start = word_spans(&text[lead_from..first])
        .next()
        .map_or(first, |(at, _)| lead_from + at);
    let window: Vec<(usize, &str)> = word_spans(&text[start..])
        .map(|(at, w)| (start + at, w))
        .take_while(|(at, w)| at + w.len() - start <= SNIPPET_CHARS)
        .collect();
    let end = window.last().map_or(start, |(at, w)| at + w.len());
    let mut fragments: Vec<Fragment> = Vec::new();
    let mut push = |text: &str, matched: bool| {
        let text = text.replace('\n', " ");
        match fragments.last_mut() {
            Some(last) if last.matched == matched => last.text.push_str(&text),
            _ if text.is_empty() => {}
            _ => fragments.push(Fragment { text, matched }),
        }
    };
    if start > 0 {
        push("… ", false);
    }
    let mut at = start;
    for (w_at, word) in &window {
        push(&text[at..*w_at], false);
        push(word, matches(word));
        at = w_at + word.len();
    }
    if word_spans(&text[end..]).next().is_none() {
        // The window reaches the last word: the punctuation after it too.
        push(text[at..].trim_end(), false);
    } else {
        push(" …", false);
    }
    fragments
}

/// Each word of `text` with its byte offset.
fn word_spans(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut rest = text.char_indices().peekable();
    std::iter::from_fn(move || {
        while let Some(&(_, c)) = rest.peek() {
            if c.is_alphanumeric() {
                break;
            }
            rest.next();
        }
        let (start, _) = *rest.peek()?;
        let mut end = start;
        while let Some(&(i, c)) = rest.peek() {
            if !c.is_alphanumeric() {
                break;
            }
            end = i + c.len_utf8();
            rest.next();
        }
        Some((start, &text[start..end]))
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Config;

    fn runbook(title: &str, body: &str) -> Arc<Runbook> {
        let config = Config::parse(
            Path::new("flightdeck.toml"),
            "[[environment]]\nname = \"dev\"\ndocker = {}\n\n\
             [[service]]\nname = \"shop\"\ntargets.dev = { container = \"shop\" }\n",
        )
        .unwrap();
        let text = format!("+++\ntitle = \"{title}\"\nservices = [\"shop\"]\n+++\n{body}");
        Arc::new(
            super::super::parse(Path::new("x.md"), &format!("{title}.md"), &text, &config).unwrap(),
        )
    }

    fn titles(found: &Found) -> Vec<&str> {
        found
            .hits
            .iter()
            .map(|h| h.runbook.front.title.as_str())
            .collect()
    }

    fn search(index: &Index, query: &str) -> Found {
        index.search(query, 50, |_| true)
    }

    fn marked(hit: &Hit) -> String {
        hit.snippet
            .iter()
            .map(|f| {
                if f.matched {
                    format!("[{}]", f.text)
                } else {
                    f.text.clone()
                }
            })
            .collect()
    }

    #[test]
    fn title_outranks_headings_which_outrank_the_body_and_words_match_by_prefix() {
        let index = Index::new(vec![
            runbook(
                "Disk full",
                "Mentions restart restart restart in the body only.",
            ),
            runbook("Restarting the API", "Nothing else."),
            runbook("Queue stuck", "## Restart the worker\n\nThen wait."),
            runbook("Certificates", "Renew them."),
        ]);
        let hits = search(&index, "restar");
        assert_eq!(
            titles(&hits),
            ["Restarting the API", "Queue stuck", "Disk full"]
        );
        assert!(search(&index, "").hits.is_empty());
        assert!(search(&index, "  ,, ").hits.is_empty());
        assert!(search(&index, "nomatch").hits.is_empty());
    }

    #[test]
    fn every_query_word_must_match_and_case_does_not_matter() {
        let index = Index::new(vec![
            runbook("Orders slow", "Check the DATABASE pool."),
            runbook("Orders down", "Check the load balancer."),
        ]);
        assert_eq!(titles(&search(&index, "ORDERS data")), ["Orders slow"]);
        assert_eq!(search(&index, "orders").matched, 2);
        // The limit cuts the hits, not the count; the filter cuts both.
        let limited = index.search("orders", 1, |_| true);
        assert_eq!((limited.matched, limited.hits.len()), (2, 1));
        let kept = index.search("orders", 50, |r| r.front.title.ends_with("down"));
        assert_eq!((kept.matched, titles(&kept)), (1, vec!["Orders down"]));
    }

    #[test]
    fn a_snippet_marks_the_matched_words_around_the_first_match() {
        let filler = "word ".repeat(40);
        let index = Index::new(vec![runbook(
            "Payments",
            &format!("{filler}then restart the payments worker and Restarting again. {filler}"),
        )]);
        let hits = search(&index, "restart");
        let snippet = marked(&hits.hits[0]);
        assert!(snippet.starts_with("… word"), "{snippet}");
        assert!(
            snippet.contains("then [restart] the payments worker and [Restarting] again."),
            "{snippet}"
        );
        assert!(snippet.ends_with(" …"), "{snippet}");
        assert!(snippet.chars().count() < SNIPPET_CHARS + 10, "{snippet}");
    }

    #[test]
    fn a_title_only_match_shows_the_start_of_the_body() {
        let index = Index::new(vec![runbook("Restart", "First, look at the graphs.")]);
        let hits = search(&index, "restart");
        assert_eq!(marked(&hits.hits[0]), "First, look at the graphs.");
    }

    #[test]
    fn words_in_other_scripts_and_long_words_are_found() {
        let index = Index::new(vec![runbook(
            "Überlastung",
            &format!("Prüfen Sie den Speicher. {}", "a".repeat(100)),
        )]);
        assert_eq!(search(&index, "über").matched, 1);
        assert_eq!(search(&index, "SPEICH").matched, 1);
        // Both sides are cut to the same length, so a long word is found by its start.
        assert_eq!(search(&index, &"a".repeat(60)).matched, 1);
        assert_eq!(search(&index, &"a".repeat(30)).matched, 1);
        assert_eq!(search(&index, "ab").matched, 0);
    }
}

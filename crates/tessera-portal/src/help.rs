//! Get Help: the menu of topics behind the button in the lower-right corner of every page
//! (Purchase, Post-purchase support > Subscription management > Billing & orders, …),
//! and the help articles under its leaves.
//!
//! Articles are Markdown files with a short header (`title`, `topic`, `keywords`). The
//! first set is in the repository's `crates/tessera-portal/help/` and built into the
//! binary; the vendor adds or overrides articles with files in the data folder's
//! `help/` (`DATA/help/SLUG.md`; a file with a built-in article's name replaces it), read
//! at every request, so no rebuild or restart is needed. Markdown becomes HTML with
//! pulldown-cmark and is then cleaned with ammonia, so an article cannot carry a script.

use std::path::Path;

use thiserror::Error;

/// A topic of the Get Help menu: a leaf has articles, the others have sub-topics.
pub struct Topic {
    pub slug: &'static str,
    pub title: &'static str,
    pub children: &'static [Topic],
}

const fn leaf(slug: &'static str, title: &'static str) -> Topic {
    Topic {
        slug,
        title,
        children: &[],
    }
}

/// The menu, in the seeds' shape (Post-purchase support > Subscription management >
/// Billing & orders).
pub static TOPICS: &[Topic] = &[
    Topic {
        slug: "purchase",
        title: "Purchase",
        children: &[
            leaf("corporate-subscription", "Corporate subscription"),
            leaf("bank-transfer", "Bank transfer"),
            leaf("documents", "Documents"),
        ],
    },
    Topic {
        slug: "post-purchase",
        title: "Post-purchase support",
        children: &[Topic {
            slug: "subscription-management",
            title: "Subscription management",
            children: &[
                leaf("billing-orders", "Billing & orders"),
                leaf("renewals", "Renewals"),
                leaf("teams-seats", "Teams and seats"),
                leaf("activation-keys", "Activation keys"),
            ],
        }],
    },
    Topic {
        slug: "license-servers",
        title: "License servers",
        children: &[
            leaf("lan", "LAN license server"),
            leaf("web", "Web license server"),
            leaf("borrowing", "Borrowing"),
        ],
    },
    leaf("named-users", "Named users and sign-in"),
    leaf("tokens", "Tokens"),
    leaf("reports", "Reports"),
];

/// A leaf of the menu: its path (`post-purchase/subscription-management/renewals`) and
/// the titles on the way to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaf {
    pub path: String,
    pub trail: Vec<&'static str>,
}

impl Leaf {
    /// `Post-purchase support > Subscription management > Renewals`.
    pub fn title(&self) -> String {
        self.trail.join(" > ")
    }
}

/// Every leaf of the menu, in menu order.
pub fn leaves() -> Vec<Leaf> {
    fn walk(topics: &[Topic], path: &str, trail: &[&'static str], out: &mut Vec<Leaf>) {
        for t in topics {
            let p = if path.is_empty() {
                t.slug.to_owned()
            } else {
                format!("{path}/{}", t.slug)
            };
            let mut tr = trail.to_vec();
            tr.push(t.title);
            if t.children.is_empty() {
                out.push(Leaf { path: p, trail: tr });
            } else {
                walk(t.children, &p, &tr, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(TOPICS, "", &[], &mut out);
    out
}

/// The leaf at `path`, if there is one.
pub fn find_leaf(path: &str) -> Option<Leaf> {
    leaves().into_iter().find(|l| l.path == path)
}

/// The topic a page of the portal is about, to open the menu there and to fill in the
/// topic of "Contact a support agent".
pub fn topic_for_page(page: &str) -> Option<&'static str> {
    let path = page.split(['?', '#']).next().unwrap_or("");
    let starts = |prefix: &str| path == prefix || path.starts_with(&format!("{prefix}/"));
    Some(
        if starts("/buy") || starts("/cart") || starts("/reseller") {
            "purchase/corporate-subscription"
        } else if starts("/checkout") {
            "purchase/bank-transfer"
        } else if starts("/account/company") {
            "purchase/documents"
        } else if starts("/account/orders") || starts("/staff/orders") {
            "post-purchase/subscription-management/billing-orders"
        } else if starts("/account/subscriptions") {
            "post-purchase/subscription-management/renewals"
        } else if starts("/account/teams") || starts("/invitation") {
            "post-purchase/subscription-management/teams-seats"
        } else if starts("/account/licenses") {
            "named-users"
        } else if starts("/account/lan-usage") || starts("/staff/lan-usage") {
            "license-servers/lan"
        } else if starts("/w") {
            "license-servers/web"
        } else if starts("/account/reports") {
            "reports"
        } else if starts("/staff/tokens") {
            "tokens"
        } else {
            return None;
        },
    )
}

/// Where an article came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    BuiltIn,
    /// `DATA/help/SLUG.md`.
    DataFolder,
}

/// A help article, read and rendered.
#[derive(Debug, Clone)]
pub struct Article {
    /// Its file name without `.md`, and its address (`/help/articles/SLUG`).
    pub slug: String,
    pub title: String,
    /// The path of its leaf in the menu.
    pub topic: String,
    pub keywords: Vec<String>,
    pub markdown: String,
    /// Rendered and cleaned HTML.
    pub html: String,
    /// The first paragraph as plain text.
    pub summary: String,
    pub source: Source,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum HelpError {
    #[error("{file}: an article starts with a header between two `---` lines (title, topic)")]
    NoHeader { file: String },
    #[error("{file}: the header has no `{field}:` line")]
    MissingField { file: String, field: &'static str },
    #[error("{file}: `{topic}` is no topic of the Get Help menu (one of: {known})")]
    UnknownTopic {
        file: String,
        topic: String,
        known: String,
    },
    #[error(
        "{file}: an article's file name is lower-case letters, digits and dashes, ending in .md"
    )]
    BadName { file: String },
}

/// The articles built into the binary: (slug, text).
const BUILT_IN: &[(&str, &str)] = &[
    (
        "buy-a-corporate-subscription",
        include_str!("../help/buy-a-corporate-subscription.md"),
    ),
    (
        "pay-by-bank-transfer",
        include_str!("../help/pay-by-bank-transfer.md"),
    ),
    (
        "invoices-and-documents",
        include_str!("../help/invoices-and-documents.md"),
    ),
    (
        "orders-and-billing",
        include_str!("../help/orders-and-billing.md"),
    ),
    (
        "renew-a-subscription",
        include_str!("../help/renew-a-subscription.md"),
    ),
    (
        "turn-off-auto-renew",
        include_str!("../help/turn-off-auto-renew.md"),
    ),
    (
        "assign-seats-in-a-team",
        include_str!("../help/assign-seats-in-a-team.md"),
    ),
    (
        "install-an-activation-key",
        include_str!("../help/install-an-activation-key.md"),
    ),
    (
        "check-the-lan-license-server",
        include_str!("../help/check-the-lan-license-server.md"),
    ),
    (
        "use-the-web-license-server",
        include_str!("../help/use-the-web-license-server.md"),
    ),
    (
        "borrow-a-license",
        include_str!("../help/borrow-a-license.md"),
    ),
    (
        "sign-in-as-a-named-user",
        include_str!("../help/sign-in-as-a-named-user.md"),
    ),
    ("flex-tokens", include_str!("../help/flex-tokens.md")),
    ("usage-reports", include_str!("../help/usage-reports.md")),
];

/// Markdown to HTML, cleaned of anything but plain content (no scripts, no styles, no
/// event handlers, no `javascript:` links).
pub fn render(markdown: &str) -> String {
    use pulldown_cmark::{Options, Parser, html};
    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    options.insert(Options::ENABLE_STRIKETHROUGH);
    let mut out = String::new();
    html::push_html(&mut out, Parser::new_ext(markdown, options));
    ammonia::clean(&out)
}

fn plain_summary(markdown: &str) -> String {
    use pulldown_cmark::{Event, Parser, Tag, TagEnd};
    let mut text = String::new();
    let mut inside = false;
    for event in Parser::new(markdown) {
        match event {
            Event::Start(Tag::Paragraph) => inside = true,
            Event::End(TagEnd::Paragraph) if inside => break,
            Event::Text(t) | Event::Code(t) if inside => text.push_str(&t),
            Event::SoftBreak | Event::HardBreak if inside => text.push(' '),
            _ => {}
        }
    }
    text
}

/// Reads an article: the header between `---` lines, then Markdown.
pub fn parse(slug: &str, text: &str, source: Source) -> Result<Article, HelpError> {
    let file = format!("{slug}.md");
    let text = text.trim_start_matches('\u{feff}');
    let rest = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))
        .ok_or_else(|| HelpError::NoHeader { file: file.clone() })?;
    let end = rest
        .find("\n---")
        .ok_or_else(|| HelpError::NoHeader { file: file.clone() })?;
    let (header, body) = (&rest[..end], &rest[end + 4..]);
    let body = body.trim_start_matches(['\r', '\n']).to_owned();
    let field = |name: &'static str| {
        header.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == name).then(|| v.trim().to_owned())
        })
    };
    let title =
        field("title")
            .filter(|t| !t.is_empty())
            .ok_or_else(|| HelpError::MissingField {
                file: file.clone(),
                field: "title",
            })?;
    let topic = field("topic").ok_or_else(|| HelpError::MissingField {
        file: file.clone(),
        field: "topic",
    })?;
    if find_leaf(&topic).is_none() {
        return Err(HelpError::UnknownTopic {
            file,
            topic,
            known: leaves()
                .iter()
                .map(|l| l.path.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    let keywords = field("keywords")
        .map(|k| {
            k.split(',')
                .map(|w| w.trim().to_owned())
                .filter(|w| !w.is_empty())
                .collect()
        })
        .unwrap_or_default();
    Ok(Article {
        slug: slug.to_owned(),
        title,
        topic,
        keywords,
        html: render(&body),
        summary: plain_summary(&body),
        markdown: body,
        source,
    })
}

fn valid_slug(slug: &str) -> bool {
    !slug.is_empty()
        && slug.len() <= 80
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// The articles in `dir` (the data folder's `help/`), each read or refused. A folder
/// that does not exist has none.
pub fn read_folder(dir: &Path) -> Vec<Result<Article, HelpError>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let slug = name.trim_end_matches(".md");
            if !valid_slug(slug) {
                return Err(HelpError::BadName { file: name });
            }
            match std::fs::read_to_string(p) {
                Ok(text) => parse(slug, &text, Source::DataFolder),
                Err(_) => Err(HelpError::NoHeader { file: name }),
            }
        })
        .collect()
}

/// Every article: the built-in ones, replaced or joined by those in `dir` (an article
/// there that cannot be read is left out, and the log says why), by title.
pub fn articles(dir: &Path) -> Vec<Article> {
    let mut out: Vec<Article> = BUILT_IN
        .iter()
        .filter_map(|(slug, text)| match parse(slug, text, Source::BuiltIn) {
            Ok(a) => Some(a),
            Err(e) => {
                tracing::error!(error = %e, "a built-in help article is broken");
                None
            }
        })
        .collect();
    for read in read_folder(dir) {
        match read {
            Ok(a) => {
                out.retain(|b| b.slug != a.slug);
                out.push(a);
            }
            Err(e) => tracing::warn!(error = %e, "a help article of the data folder is left out"),
        }
    }
    out.sort_by(|a, b| a.title.cmp(&b.title));
    out
}

/// The articles that have every word of `query` in their title, keywords or text, the
/// best first (a word in the title or keywords counts more than one in the text).
pub fn search<'a>(articles: &'a [Article], query: &str) -> Vec<&'a Article> {
    let words: Vec<String> = query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    if words.is_empty() {
        return Vec::new();
    }
    let mut scored: Vec<(usize, &Article)> = articles
        .iter()
        .filter_map(|a| {
            let head = format!("{} {}", a.title, a.keywords.join(" ")).to_lowercase();
            let body = a.markdown.to_lowercase();
            let mut score = 0;
            for w in &words {
                if head.contains(w.as_str()) {
                    score += 10;
                } else if body.contains(w.as_str()) {
                    score += 1;
                } else {
                    return None;
                }
            }
            Some((score, a))
        })
        .collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.title.cmp(&b.1.title)));
    scored.into_iter().map(|(_, a)| a).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_article_reads_and_every_leaf_has_one() {
        let all = articles(Path::new("/nonexistent-help-folder"));
        assert_eq!(all.len(), BUILT_IN.len());
        for leaf in leaves() {
            assert!(
                all.iter().any(|a| a.topic == leaf.path),
                "no article under {}",
                leaf.path
            );
        }
    }

    #[test]
    fn rendering_drops_scripts_and_javascript_links() {
        let html = render(
            "Hi <script>alert(1)</script> [x](javascript:alert(1)) <img src=x onerror=alert(1)>",
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(!html.contains("onerror"), "{html}");
    }

    #[test]
    fn a_header_must_name_a_known_topic() {
        let e = parse(
            "x",
            "---\ntitle: X\ntopic: nowhere\n---\nText",
            Source::BuiltIn,
        );
        assert!(matches!(e, Err(HelpError::UnknownTopic { .. })), "{e:?}");
        let e = parse("x", "Text only", Source::BuiltIn);
        assert!(matches!(e, Err(HelpError::NoHeader { .. })), "{e:?}");
    }

    #[test]
    fn search_finds_renewal_first_by_its_title() {
        let all = articles(Path::new("/nonexistent-help-folder"));
        let found = search(&all, "renew");
        assert_eq!(
            found.first().map(|a| a.slug.as_str()),
            Some("renew-a-subscription")
        );
        assert!(search(&all, "zzzz-nothing").is_empty());
    }

    #[test]
    fn pages_map_to_their_topics() {
        assert_eq!(
            topic_for_page("/account/subscriptions?done=x"),
            Some("post-purchase/subscription-management/renewals")
        );
        assert_eq!(
            topic_for_page("/w/demo-office/"),
            Some("license-servers/web")
        );
        assert_eq!(topic_for_page("/"), None);
        for page in [
            "/buy",
            "/account/orders",
            "/account/teams/x",
            "/account/reports/seats",
        ] {
            let topic = topic_for_page(page).unwrap();
            assert!(find_leaf(topic).is_some(), "{page}: {topic}");
        }
    }
}

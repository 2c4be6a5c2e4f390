//! Get Help's pages: the menu (as a page at `/help`, and as the fragment the Get Help
//! button's dialog shows, `/help/menu`), a leaf's articles (`/help/topics/…`), and one
//! article (`/help/articles/SLUG`). Each ends with "Contact a support agent", whose form
//! is in `pages::support`.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::{Layout, local_path, page};
use crate::error::{PortalError, PortalResult};
use crate::help::{self, Article, TOPICS, Topic};
use crate::session::Visitor;
use crate::state::{Portal, PortalState};

#[derive(Deserialize, Default)]
pub struct HelpQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    q: String,
}

/// A topic of the menu as the page shows it.
pub struct TopicView {
    pub title: String,
    pub id: String,
    /// A leaf's page; none for a topic with sub-topics.
    pub href: Option<String>,
    /// Open, because the page the person came from is under it.
    pub open: bool,
    pub children: Vec<TopicView>,
}

/// An article in a list.
pub struct ArticleLink {
    pub title: String,
    pub href: String,
    pub summary: String,
    pub id: String,
}

/// What the menu shows.
pub struct Menu {
    pub from: String,
    pub query: String,
    pub searched: bool,
    pub results: Vec<ArticleLink>,
    pub topics: Vec<TopicView>,
    pub contact_href: String,
    pub signed_in: bool,
    pub is_staff: bool,
}

fn with_from(path: &str, from: &str) -> String {
    if from.is_empty() {
        path.to_owned()
    } else {
        let q = serde_urlencoded::to_string([("from", from)]).unwrap_or_default();
        format!("{path}?{q}")
    }
}

/// The contact form's address for a topic and a place.
pub fn contact_href(topic: Option<&str>, from: &str) -> String {
    let mut fields = Vec::new();
    if let Some(t) = topic {
        fields.push(("topic", t));
    }
    if !from.is_empty() {
        fields.push(("from", from));
    }
    if fields.is_empty() {
        "/support/new".into()
    } else {
        format!(
            "/support/new?{}",
            serde_urlencoded::to_string(fields).unwrap_or_default()
        )
    }
}

fn topic_views(topics: &[Topic], path: &str, suggested: &str, from: &str) -> Vec<TopicView> {
    topics
        .iter()
        .map(|t| {
            let p = if path.is_empty() {
                t.slug.to_owned()
            } else {
                format!("{path}/{}", t.slug)
            };
            TopicView {
                title: t.title.to_owned(),
                id: format!("help-topic-{}", p.replace('/', "-")),
                href: t
                    .children
                    .is_empty()
                    .then(|| with_from(&format!("/help/topics/{p}"), from)),
                open: suggested == p || suggested.starts_with(&format!("{p}/")),
                children: topic_views(t.children, &p, suggested, from),
            }
        })
        .collect()
}

fn link(a: &Article, from: &str) -> ArticleLink {
    ArticleLink {
        title: a.title.clone(),
        href: with_from(&format!("/help/articles/{}", a.slug), from),
        summary: a.summary.clone(),
        id: format!("help-article-{}", a.slug),
    }
}

/// Where the person was: the `from` field (a path of the portal), else the page that
/// linked here.
fn place(from: &str, headers: &HeaderMap) -> String {
    let given = if from.is_empty() {
        headers
            .get(header::REFERER)
            .and_then(|v| v.to_str().ok())
            .and_then(|r| {
                let after_scheme = r.split_once("://")?.1;
                after_scheme.find('/').map(|i| after_scheme[i..].to_owned())
            })
            .unwrap_or_default()
    } else {
        from.to_owned()
    };
    let path = local_path(Some(&given), "");
    // The help pages themselves are no place to come back to.
    if path.starts_with("/help") || path.starts_with("/support/new") {
        String::new()
    } else {
        path
    }
}

fn menu(state: &PortalState, visitor: &Visitor, q: &HelpQuery, from: String) -> Menu {
    let suggested = help::topic_for_page(&from).unwrap_or("");
    let query = q.q.trim().chars().take(200).collect::<String>();
    let articles = help::articles(&state.config.data_dir.join("help"));
    let results = help::search(&articles, &query)
        .into_iter()
        .map(|a| link(a, &from))
        .collect();
    let user = visitor.user();
    Menu {
        topics: topic_views(TOPICS, "", suggested, &from),
        contact_href: contact_href(Some(suggested).filter(|s| !s.is_empty()), &from),
        searched: !query.is_empty(),
        query,
        results,
        from,
        signed_in: user.is_some(),
        is_staff: user.is_some_and(|u| u.role == tessera_store::portal::Role::Staff),
    }
}

#[derive(Template)]
#[template(path = "help.html")]
struct HelpPage {
    layout: Layout,
    menu: Menu,
}

#[derive(Template)]
#[template(path = "help_menu.html")]
struct HelpMenuFragment {
    menu: Menu,
}

/// `GET /help`: the Get Help menu as a page (without scripts, or from a link).
pub async fn help_page(
    State(state): State<Portal>,
    visitor: Visitor,
    headers: HeaderMap,
    Query(q): Query<HelpQuery>,
) -> PortalResult<Response> {
    let from = place(&q.from, &headers);
    let menu = menu(&state, &visitor, &q, from);
    let layout = Layout::build(&state, &visitor, "Get Help", false).await?;
    page(StatusCode::OK, &HelpPage { layout, menu })
}

/// `GET /help/menu`: the menu alone, for the Get Help dialog.
pub async fn help_menu(
    State(state): State<Portal>,
    visitor: Visitor,
    headers: HeaderMap,
    Query(q): Query<HelpQuery>,
) -> PortalResult<Response> {
    let from = place(&q.from, &headers);
    let html = HelpMenuFragment {
        menu: menu(&state, &visitor, &q, from),
    }
    .render()?;
    Ok((
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::X_FRAME_OPTIONS, "DENY"),
        ],
        Html(html),
    )
        .into_response())
}

/// A rendered article on a page.
pub struct ArticleView {
    pub title: String,
    pub id: String,
    /// Cleaned HTML (see `help::render`).
    pub html: String,
    pub href: String,
}

#[derive(Template)]
#[template(path = "help_topic.html")]
struct TopicPage {
    layout: Layout,
    trail: String,
    articles: Vec<ArticleView>,
    contact_href: String,
    menu_href: String,
}

/// `GET /help/topics/{*topic}`: a leaf's articles, then Contact a support agent.
pub async fn topic_page(
    State(state): State<Portal>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(topic): Path<String>,
    Query(q): Query<HelpQuery>,
) -> PortalResult<Response> {
    let leaf = help::find_leaf(&topic).ok_or(PortalError::NotFound)?;
    let from = place(&q.from, &headers);
    let articles = help::articles(&state.config.data_dir.join("help"))
        .into_iter()
        .filter(|a| a.topic == leaf.path)
        .map(|a| ArticleView {
            title: a.title.clone(),
            id: format!("article-{}", a.slug),
            href: with_from(&format!("/help/articles/{}", a.slug), &from),
            html: a.html,
        })
        .collect();
    let title = leaf.trail.last().copied().unwrap_or("Get Help");
    let layout = Layout::build(&state, &visitor, title, false).await?;
    page(
        StatusCode::OK,
        &TopicPage {
            layout,
            trail: leaf.title(),
            articles,
            contact_href: contact_href(Some(&leaf.path), &from),
            menu_href: with_from("/help", &from),
        },
    )
}

#[derive(Template)]
#[template(path = "help_article.html")]
struct ArticlePage {
    layout: Layout,
    trail: String,
    topic_href: String,
    article: ArticleView,
    contact_href: String,
    menu_href: String,
}

/// `GET /help/articles/{slug}`: one article, then Contact a support agent.
pub async fn article_page(
    State(state): State<Portal>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(slug): Path<String>,
    Query(q): Query<HelpQuery>,
) -> PortalResult<Response> {
    let article = help::articles(&state.config.data_dir.join("help"))
        .into_iter()
        .find(|a| a.slug == slug)
        .ok_or(PortalError::NotFound)?;
    let from = place(&q.from, &headers);
    let trail = help::find_leaf(&article.topic)
        .map(|l| l.title())
        .unwrap_or_default();
    let layout = Layout::build(&state, &visitor, &article.title, false).await?;
    page(
        StatusCode::OK,
        &ArticlePage {
            layout,
            trail,
            topic_href: with_from(&format!("/help/topics/{}", article.topic), &from),
            contact_href: contact_href(Some(&article.topic), &from),
            menu_href: with_from("/help", &from),
            article: ArticleView {
                title: article.title.clone(),
                id: format!("article-{}", article.slug),
                href: String::new(),
                html: article.html,
            },
        },
    )
}

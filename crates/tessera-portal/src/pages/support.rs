//! Support requests' pages: "Contact a support agent" (`/support/new`, its topic filled
//! in from where the person was), the customer's *Support requests* (`/account/support`,
//! each with its conversation and a form to answer), and the back office's queue
//! (`/staff/support`: assign, reply, close). The forms are `multipart/form-data` for their
//! attachments; what they may hold is checked in `crate::support`, and a form refused
//! for its content is shown again with the reason, nothing stored.

use askama::Template;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tessera_store::portal::{
    NewSupportAttachment, NewSupportMessage, NewSupportRequest, SupportMessageRecord,
    SupportRequestRecord, SupportStatus, UserRecord,
};

use super::{Layout, local_path, page, see_other};
use crate::error::{PortalError, PortalResult};
use crate::help;
use crate::session::{SignedIn, Staff, Visitor};
use crate::state::{Portal, PortalState};
use crate::support::{
    self, MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS, MAX_MESSAGE_CHARS, about_value, size_text,
    status_text, topic_text,
};

/// A choice of a select.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// What the forms say about their limits.
pub struct Limits {
    pub files: usize,
    pub file_size: String,
    pub chars: usize,
    /// `chars` in words (`10,000`).
    pub chars_text: String,
}

fn limits() -> Limits {
    Limits {
        files: MAX_ATTACHMENTS,
        file_size: size_text(MAX_ATTACHMENT_BYTES as u64),
        chars: MAX_MESSAGE_CHARS,
        chars_text: support::count_text(MAX_MESSAGE_CHARS),
    }
}

/// A multipart form, read: its text fields and its files (name, content).
struct SentForm {
    fields: Vec<(String, String)>,
    files: Vec<(String, Vec<u8>)>,
}

impl SentForm {
    fn field(&self, name: &str) -> String {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    /// The files, checked (count, size, kind).
    fn attachments(&self) -> PortalResult<Vec<NewSupportAttachment>> {
        if self.files.len() > MAX_ATTACHMENTS {
            return Err(support::too_many_attachments());
        }
        self.files
            .iter()
            .map(|(name, data)| support::check_attachment(name, data.clone()))
            .collect()
    }
}

fn too_large() -> PortalError {
    PortalError::User {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        message: format!(
            "The attachments are too large: attach at most {MAX_ATTACHMENTS} files of at most {} each.",
            size_text(MAX_ATTACHMENT_BYTES as u64)
        ),
    }
}

/// Reads a support form. A file input left empty sends a part without a name and
/// content; it is no attachment. More files than allowed stop the reading (the form is
/// refused anyway).
async fn read_form(form: Result<Multipart, MultipartRejection>) -> PortalResult<SentForm> {
    let mut form = form.map_err(|_| {
        PortalError::invalid("Send the form from its page (it carries files, so it is multipart).")
    })?;
    let mut out = SentForm {
        fields: Vec::new(),
        files: Vec::new(),
    };
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large()),
            Err(_) => {
                return Err(PortalError::invalid(
                    "The form arrived incomplete; send it again.",
                ));
            }
        };
        let name = field.name().unwrap_or("").to_owned();
        let file_name = field.file_name().map(str::to_owned);
        let data = match field.bytes().await {
            Ok(d) => d,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large()),
            Err(_) => {
                return Err(PortalError::invalid(
                    "The form arrived incomplete; send it again.",
                ));
            }
        };
        match file_name {
            Some(file) => {
                if file.is_empty() && data.is_empty() {
                    continue;
                }
                out.files.push((file, data.to_vec()));
                if out.files.len() > MAX_ATTACHMENTS {
                    break;
                }
            }
            None => out
                .fields
                .push((name, String::from_utf8_lossy(&data).into_owned())),
        }
    }
    Ok(out)
}

fn topic_choices(selected: &str) -> Vec<Choice> {
    help::leaves()
        .into_iter()
        .map(|l| Choice {
            selected: l.path == selected,
            label: l.title(),
            value: l.path,
        })
        .collect()
}

#[derive(Template)]
#[template(path = "support_new.html")]
struct NewRequestPage {
    layout: Layout,
    topics: Vec<Choice>,
    topic_chosen: bool,
    abouts: Vec<Choice>,
    message: String,
    from: String,
    error: Option<String>,
    limits: Limits,
}

#[derive(Deserialize, Default)]
pub struct NewQuery {
    #[serde(default)]
    topic: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    about: String,
}

struct Draft<'a> {
    topic: &'a str,
    about: &'a str,
    message: &'a str,
    from: &'a str,
}

async fn new_request_form(
    state: &PortalState,
    user: &UserRecord,
    visitor: &Visitor,
    draft: Draft<'_>,
    error: Option<PortalError>,
) -> PortalResult<Response> {
    let abouts = support::about_choices(state, user)
        .await?
        .iter()
        .map(|a| Choice {
            value: about_value(a),
            label: a.label.clone(),
            selected: about_value(a) == draft.about,
        })
        .collect();
    let layout = Layout::build(state, visitor, "Contact a support agent", true).await?;
    let status = error
        .as_ref()
        .map(PortalError::status)
        .unwrap_or(StatusCode::OK);
    page(
        status,
        &NewRequestPage {
            layout,
            topics: topic_choices(draft.topic),
            topic_chosen: help::find_leaf(draft.topic).is_some(),
            abouts,
            message: draft.message.to_owned(),
            from: draft.from.to_owned(),
            error: error.map(|e| e.message()),
            limits: limits(),
        },
    )
}

/// `GET /support/new`: Contact a support agent, the topic filled in from the article or
/// page the person came from.
pub async fn new_request_page(
    State(state): State<Portal>,
    SignedIn(user, visitor): SignedIn,
    Query(q): Query<NewQuery>,
) -> PortalResult<Response> {
    let from = local_path(Some(&q.from), "");
    let topic = if help::find_leaf(&q.topic).is_some() {
        q.topic.clone()
    } else {
        help::topic_for_page(&from).unwrap_or("").to_owned()
    };
    new_request_form(
        &state,
        &user,
        &visitor,
        Draft {
            topic: &topic,
            about: &q.about,
            message: "",
            from: &from,
        },
        None,
    )
    .await
}

/// `POST /support/new`: checks everything, then stores the request and its files in one
/// transaction and sends the receipt and the note to staff.
pub async fn create_request(
    State(state): State<Portal>,
    SignedIn(user, visitor): SignedIn,
    form: Result<Multipart, MultipartRejection>,
) -> PortalResult<Response> {
    let sent = read_form(form).await?;
    let (topic, about, message, from) = (
        sent.field("topic"),
        sent.field("about"),
        sent.field("message"),
        sent.field("from"),
    );
    let checked = async {
        if help::find_leaf(&topic).is_none() {
            return Err(PortalError::invalid(
                "Choose the topic that best describes your question.",
            ));
        }
        let chosen = support::chosen_about(&state, &user, &about).await?;
        let body = support::check_message(&message)?;
        let files = sent.attachments()?;
        Ok((chosen, body, files))
    }
    .await;
    let (chosen, body, files) = match checked {
        Ok(c) => c,
        Err(e) if e.is_user_error() => {
            let draft = Draft {
                topic: &topic,
                about: &about,
                message: &message,
                from: &local_path(Some(&from), ""),
            };
            return new_request_form(&state, &user, &visitor, draft, Some(e)).await;
        }
        Err(e) => return Err(e),
    };
    let (request, message_id) = state
        .store
        .create_support_request(
            &NewSupportRequest {
                organization_id: &user.organization_id,
                user_id: &user.id,
                topic: &topic,
                about: chosen.as_ref(),
                body: &body,
                attachments: &files,
            },
            state.now(),
        )
        .await?;
    support::announce_now(&state, &request.number, &message_id).await;
    Ok(see_other(&format!(
        "/account/support/{}?sent=1",
        request.number
    )))
}

/// A request in a list.
pub struct RequestRow {
    pub number: String,
    pub href: String,
    pub topic: String,
    pub about: String,
    pub status: String,
    pub requester: String,
    pub organization: String,
    pub assignee: String,
    pub created: String,
    pub updated: String,
}

fn day_time(ms: i64) -> String {
    tessera_core::from_millis(ms)
        .format("%Y-%m-%d %H:%M UTC")
        .to_string()
}

fn row(r: &SupportRequestRecord, base: &str) -> RequestRow {
    RequestRow {
        number: r.number.clone(),
        href: format!("{base}/{}", r.number),
        topic: topic_text(&r.topic),
        about: r
            .about
            .as_ref()
            .map(|a| a.label.clone())
            .unwrap_or_default(),
        status: status_text(r.status).to_owned(),
        requester: r.requester_email.clone(),
        organization: r.organization_name.clone(),
        assignee: r.assignee_email.clone().unwrap_or_default(),
        created: day_time(r.created_at),
        updated: day_time(r.updated_at),
    }
}

#[derive(Template)]
#[template(path = "support_requests.html")]
struct RequestsPage {
    layout: Layout,
    requests: Vec<RequestRow>,
}

/// `GET /account/support`: the person's Support requests (their own, and those of their
/// organization about orders and subscriptions they see).
pub async fn requests_page(
    State(state): State<Portal>,
    SignedIn(user, visitor): SignedIn,
) -> PortalResult<Response> {
    let mut requests = Vec::new();
    for r in state
        .store
        .support_requests_of_organization(&user.organization_id)
        .await?
    {
        if support::may_see(&state, &user, &r).await? {
            requests.push(row(&r, "/account/support"));
        }
    }
    let layout = Layout::build(&state, &visitor, "Support requests", true).await?;
    page(StatusCode::OK, &RequestsPage { layout, requests })
}

/// A message as the conversation shows it.
pub struct MessageView {
    pub id: String,
    pub who: String,
    pub from_staff: bool,
    pub at: String,
    pub body: String,
    pub files: Vec<FileLink>,
}

pub struct FileLink {
    pub name: String,
    pub href: String,
    pub size: String,
}

fn message_views(messages: &[SupportMessageRecord], base: &str, staff: bool) -> Vec<MessageView> {
    messages
        .iter()
        .map(|m| MessageView {
            id: format!("message-{}", m.id),
            who: if m.from_staff && !staff {
                "Support agent".into()
            } else if m.from_staff {
                format!("{} (support agent)", m.author_email)
            } else {
                m.author_email.clone()
            },
            from_staff: m.from_staff,
            at: day_time(m.created_at),
            body: m.body.clone(),
            files: m
                .attachments
                .iter()
                .map(|a| FileLink {
                    name: a.filename.clone(),
                    href: format!("{base}/attachments/{}", a.id),
                    size: size_text(a.size),
                })
                .collect(),
        })
        .collect()
}

/// A request as its page shows it, to the customer or to staff: its facts, the
/// conversation, and the form to write (with what was typed and why it was refused).
pub struct Conversation {
    pub request: RequestRow,
    pub closed: bool,
    pub messages: Vec<MessageView>,
    pub message: String,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "support_request.html")]
struct RequestPage {
    layout: Layout,
    conversation: Conversation,
    limits: Limits,
}

#[derive(Deserialize, Default)]
pub struct SentQuery {
    #[serde(default)]
    sent: String,
}

/// A draft refused with its reason, to show the page again.
type Refused = (String, PortalError);

/// The layout, conversation and status of a request's page; `staff` for the back
/// office's (its links, and the agents' e-mails).
async fn conversation(
    state: &PortalState,
    visitor: &Visitor,
    request: &SupportRequestRecord,
    staff: bool,
    notice: Option<String>,
    refused: Option<Refused>,
) -> PortalResult<(StatusCode, Layout, Conversation)> {
    let base = if staff {
        "/staff/support"
    } else {
        "/account/support"
    };
    let messages = state.store.support_messages(&request.id).await?;
    let layout = Layout::build(
        state,
        visitor,
        &format!("Support request {}", request.number),
        true,
    )
    .await?
    .with_notice(notice);
    let status = refused
        .as_ref()
        .map(|(_, e)| e.status())
        .unwrap_or(StatusCode::OK);
    let (message, error) = match refused {
        Some((draft, e)) => (draft, Some(e.message())),
        None => (String::new(), None),
    };
    let conversation = Conversation {
        request: row(request, base),
        closed: request.status == SupportStatus::Closed,
        messages: message_views(&messages, &format!("{base}/{}", request.number), staff),
        message,
        error,
    };
    Ok((status, layout, conversation))
}

async fn request_view(
    state: &PortalState,
    visitor: &Visitor,
    request: &SupportRequestRecord,
    notice: Option<String>,
    refused: Option<Refused>,
) -> PortalResult<Response> {
    let (status, layout, conversation) =
        conversation(state, visitor, request, false, notice, refused).await?;
    page(
        status,
        &RequestPage {
            layout,
            conversation,
            limits: limits(),
        },
    )
}

/// Who writes on a request's page.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    /// The customer's answer: the request is Open (again) for staff.
    Customer,
    /// A support agent's reply: the request is Answered, waiting for the customer.
    Staff,
}

/// Stores what `user` wrote on a request's page (the form's message and files) and
/// sends its e-mails. A message or files that break a rule come back as `Err` with the
/// draft, nothing stored.
async fn write(
    state: &PortalState,
    user: &UserRecord,
    request: &SupportRequestRecord,
    side: Side,
    form: Result<Multipart, MultipartRejection>,
) -> PortalResult<Result<(), Refused>> {
    let sent = read_form(form).await?;
    let draft = sent.field("message");
    let checked = support::check_message(&draft).and_then(|body| Ok((body, sent.attachments()?)));
    let (body, files) = match checked {
        Ok(c) => c,
        Err(e) if e.is_user_error() => return Ok(Err((draft, e))),
        Err(e) => return Err(e),
    };
    let id = state
        .store
        .add_support_message(
            &NewSupportMessage {
                request_id: &request.id,
                author_user_id: &user.id,
                from_staff: side == Side::Staff,
                body: &body,
                attachments: &files,
            },
            match side {
                Side::Customer => SupportStatus::Open,
                Side::Staff => SupportStatus::Answered,
            },
            state.now(),
        )
        .await?;
    support::announce_now(state, &request.number, &id).await;
    Ok(Ok(()))
}

/// `GET /account/support/{number}`: the conversation, and the form to answer.
pub async fn request_page(
    State(state): State<Portal>,
    SignedIn(user, visitor): SignedIn,
    Path(number): Path<String>,
    Query(q): Query<SentQuery>,
) -> PortalResult<Response> {
    let request = support::visible_request(&state, &user, &number).await?;
    let notice = match q.sent.as_str() {
        "1" => Some(format!(
            "Your support request {} was sent. We will answer here and by e-mail to {}.",
            request.number, request.requester_email
        )),
        "answer" => Some("Your answer was sent to our support agent.".to_owned()),
        _ => None,
    };
    request_view(&state, &visitor, &request, notice, None).await
}

/// `POST /account/support/{number}/answer`: the customer writes again (a closed request
/// opens again).
pub async fn answer(
    State(state): State<Portal>,
    SignedIn(user, visitor): SignedIn,
    Path(number): Path<String>,
    form: Result<Multipart, MultipartRejection>,
) -> PortalResult<Response> {
    let request = support::visible_request(&state, &user, &number).await?;
    if let Err(refused) = write(&state, &user, &request, Side::Customer, form).await? {
        return request_view(&state, &visitor, &request, None, Some(refused)).await;
    }
    Ok(see_other(&format!(
        "/account/support/{}?sent=answer",
        request.number
    )))
}

/// A file name fit for a header: other characters than visible ASCII become `_`.
fn ascii_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .filter(|c| *c != '"' && *c != '\\')
        .collect()
}

async fn attachment_response(
    state: &PortalState,
    request: &SupportRequestRecord,
    id: &str,
) -> PortalResult<Response> {
    let file = state
        .store
        .support_attachment(&request.id, id)
        .await?
        .ok_or(PortalError::NotFound)?;
    Ok((
        [
            (header::CONTENT_TYPE, file.content_type),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", ascii_name(&file.filename)),
            ),
            (header::CACHE_CONTROL, "private, no-store".into()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".into()),
        ],
        file.content,
    )
        .into_response())
}

/// `GET /account/support/{number}/attachments/{id}`.
pub async fn attachment(
    State(state): State<Portal>,
    SignedIn(user, _): SignedIn,
    Path((number, id)): Path<(String, String)>,
) -> PortalResult<Response> {
    let request = support::visible_request(&state, &user, &number).await?;
    attachment_response(&state, &request, &id).await
}

// The back office.

#[derive(Template)]
#[template(path = "staff_support.html")]
struct QueuePage {
    layout: Layout,
    requests: Vec<RequestRow>,
    filters: Vec<Choice>,
}

#[derive(Deserialize, Default)]
pub struct QueueQuery {
    #[serde(default)]
    status: String,
}

/// `GET /staff/support`: the queue, the longest waiting first.
pub async fn queue_page(
    State(state): State<Portal>,
    Staff(_, visitor): Staff,
    Query(q): Query<QueueQuery>,
) -> PortalResult<Response> {
    let filter = if q.status.is_empty() {
        "waiting"
    } else {
        q.status.as_str()
    };
    let statuses: &[SupportStatus] = match filter {
        "answered" => &[SupportStatus::Answered],
        "closed" => &[SupportStatus::Closed],
        "all" => &[
            SupportStatus::Open,
            SupportStatus::Answered,
            SupportStatus::Closed,
        ],
        _ => &[SupportStatus::Open],
    };
    let requests = state
        .store
        .support_queue(statuses)
        .await?
        .iter()
        .map(|r| row(r, "/staff/support"))
        .collect();
    let filters = [
        ("waiting", "Waiting for us"),
        ("answered", "Answered, waiting for the customer"),
        ("closed", "Closed"),
        ("all", "All"),
    ]
    .into_iter()
    .map(|(v, l)| Choice {
        value: v.into(),
        label: l.into(),
        selected: v == filter,
    })
    .collect();
    let layout = Layout::build(&state, &visitor, "Support requests", true).await?;
    page(
        StatusCode::OK,
        &QueuePage {
            layout,
            requests,
            filters,
        },
    )
}

#[derive(Template)]
#[template(path = "staff_support_request.html")]
struct StaffRequestPage {
    layout: Layout,
    conversation: Conversation,
    staff: Vec<Choice>,
    limits: Limits,
}

async fn staff_request(state: &PortalState, number: &str) -> PortalResult<SupportRequestRecord> {
    state
        .store
        .support_request(number)
        .await?
        .ok_or(PortalError::NotFound)
}

async fn staff_view(
    state: &PortalState,
    visitor: &Visitor,
    request: &SupportRequestRecord,
    notice: Option<String>,
    refused: Option<Refused>,
) -> PortalResult<Response> {
    let mut staff = vec![Choice {
        value: String::new(),
        label: "Nobody".into(),
        selected: request.assignee_user_id.is_none(),
    }];
    staff.extend(
        state
            .store
            .staff_users()
            .await?
            .into_iter()
            .map(|(id, email)| Choice {
                selected: request.assignee_user_id.as_deref() == Some(id.as_str()),
                value: id,
                label: email,
            }),
    );
    let (status, layout, conversation) =
        conversation(state, visitor, request, true, notice, refused).await?;
    page(
        status,
        &StaffRequestPage {
            layout,
            conversation,
            staff,
            limits: limits(),
        },
    )
}

#[derive(Deserialize, Default)]
pub struct DoneQuery {
    #[serde(default)]
    done: String,
}

/// `GET /staff/support/{number}`.
pub async fn staff_request_page(
    State(state): State<Portal>,
    Staff(_, visitor): Staff,
    Path(number): Path<String>,
    Query(q): Query<DoneQuery>,
) -> PortalResult<Response> {
    let request = staff_request(&state, &number).await?;
    let notice = match q.done.as_str() {
        "reply" => Some("Your reply was sent to the customer.".to_owned()),
        "assign" => Some("The request's assignee is saved.".to_owned()),
        "close" => Some("The request is closed.".to_owned()),
        _ => None,
    };
    staff_view(&state, &visitor, &request, notice, None).await
}

/// `POST /staff/support/{number}/reply`: a reply to the customer (e-mailed and shown on
/// their page); the request becomes Answered.
pub async fn staff_reply(
    State(state): State<Portal>,
    Staff(user, visitor): Staff,
    Path(number): Path<String>,
    form: Result<Multipart, MultipartRejection>,
) -> PortalResult<Response> {
    let request = staff_request(&state, &number).await?;
    if let Err(refused) = write(&state, &user, &request, Side::Staff, form).await? {
        return staff_view(&state, &visitor, &request, None, Some(refused)).await;
    }
    Ok(see_other(&format!(
        "/staff/support/{}?done=reply",
        request.number
    )))
}

#[derive(Deserialize)]
pub struct AssignForm {
    #[serde(default)]
    assignee: String,
}

/// `POST /staff/support/{number}/assign`: to a member of staff, or to nobody.
pub async fn staff_assign(
    State(state): State<Portal>,
    Staff(_, _): Staff,
    Path(number): Path<String>,
    axum::Form(form): axum::Form<AssignForm>,
) -> PortalResult<Response> {
    let request = staff_request(&state, &number).await?;
    let assignee = form.assignee.trim();
    if !assignee.is_empty()
        && !state
            .store
            .staff_users()
            .await?
            .iter()
            .any(|(id, _)| id == assignee)
    {
        return Err(PortalError::invalid(
            "Choose a member of staff from the list, or Nobody.",
        ));
    }
    state
        .store
        .assign_support_request(
            &request.id,
            Some(assignee).filter(|a| !a.is_empty()),
            state.now(),
        )
        .await?;
    Ok(see_other(&format!(
        "/staff/support/{}?done=assign",
        request.number
    )))
}

/// `POST /staff/support/{number}/close`.
pub async fn staff_close(
    State(state): State<Portal>,
    Staff(_, _): Staff,
    Path(number): Path<String>,
) -> PortalResult<Response> {
    let request = staff_request(&state, &number).await?;
    state
        .store
        .set_support_status(&request.id, SupportStatus::Closed, state.now())
        .await?;
    Ok(see_other(&format!(
        "/staff/support/{}?done=close",
        request.number
    )))
}

/// `GET /staff/support/{number}/attachments/{id}`.
pub async fn staff_attachment(
    State(state): State<Portal>,
    Staff(_, _): Staff,
    Path((number, id)): Path<(String, String)>,
) -> PortalResult<Response> {
    let request = staff_request(&state, &number).await?;
    attachment_response(&state, &request, &id).await
}

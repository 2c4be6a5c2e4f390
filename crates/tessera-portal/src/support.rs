//! Support requests ("Contact a support agent" at the end of every Get Help leaf): the
//! checks on what a person sends (a message of 1 to 10,000 characters, at most 5 files of
//! at most 2 MB each, images or text only), who may see a request, and its e-mails.
//!
//! A request is about one of the organization's orders or named-user subscriptions, or
//! about nothing in particular. It is seen by the person who made it, by the vendor's
//! staff and, when it is about an order or subscription, by the organization's people
//! who see its orders (contract managers and primary admins, `teams::may_see_billing`).
//!
//! E-mails follow each message's commit, as orders' do: the receipt to the customer and
//! the note to staff for a new request, the reply to the customer, the customer's answer
//! to staff. A stop in between leaves the message unannounced, and the portal's recovery
//! task (`announce_pending`, every minute) sends them: at least once, never lost.

use tessera_store::portal::{
    NewSupportAttachment, Role, SupportAbout, SupportMessageRecord, SupportRequestRecord,
    SupportStatus, UserRecord,
};

use crate::error::{PortalError, PortalResult};
use crate::mail::{Attachment, OutgoingMail};
use crate::state::PortalState;

/// The longest message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 10_000;
/// The most files attached to one message.
pub const MAX_ATTACHMENTS: usize = 5;
/// The largest attached file.
pub const MAX_ATTACHMENT_BYTES: usize = 2 * 1024 * 1024;
/// The largest support form accepted (the files and the fields around them).
pub const MAX_FORM_BYTES: usize = MAX_ATTACHMENTS * MAX_ATTACHMENT_BYTES + 128 * 1024;

/// A request's status in the pages' words.
pub fn status_text(status: SupportStatus) -> &'static str {
    match status {
        SupportStatus::Open => "Open",
        SupportStatus::Answered => "Answered",
        SupportStatus::Closed => "Closed",
    }
}

/// The message, trimmed, or why it cannot be sent.
pub fn check_message(text: &str) -> PortalResult<String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(PortalError::invalid(
            "Write your message: what you did, what you expected and what happened.",
        ));
    }
    let chars = text.chars().count();
    if chars > MAX_MESSAGE_CHARS {
        return Err(PortalError::invalid(format!(
            "The message is {} characters long; it may be at most {}. Shorten it, or attach the long part as a text file.",
            count_text(chars),
            count_text(MAX_MESSAGE_CHARS)
        )));
    }
    Ok(text.to_owned())
}

/// A file's name as it is kept: without folders, control characters or quotes, at most
/// 100 characters.
pub fn clean_filename(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | ';'))
        .take(100)
        .collect();
    let cleaned = cleaned.trim().to_owned();
    if cleaned.is_empty() || cleaned.chars().all(|c| c == '.') {
        "attachment".into()
    } else {
        cleaned
    }
}

/// The type of an image by its first bytes.
fn image_type(data: &[u8]) -> Option<&'static str> {
    if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if data.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if data.starts_with(b"GIF87a") || data.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if data.len() >= 12 && &data[..4] == b"RIFF" && &data[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// Text: UTF-8 without NUL or other control characters than tab, line breaks and the
/// escape of terminal colours.
fn is_text(data: &[u8]) -> bool {
    std::str::from_utf8(data).is_ok_and(|s| {
        s.chars()
            .all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r' | '\u{1b}' | '\u{c}'))
    })
}

/// Checks one attached file by its content (never by its name or the browser's word):
/// a PNG, JPEG, GIF or WebP image, or text.
pub fn check_attachment(filename: &str, data: Vec<u8>) -> PortalResult<NewSupportAttachment> {
    let filename = clean_filename(filename);
    if data.is_empty() {
        return Err(PortalError::invalid(format!(
            "{filename} is empty. Attach a screenshot or a text file with something in it."
        )));
    }
    if data.len() > MAX_ATTACHMENT_BYTES {
        return Err(PortalError::invalid(format!(
            "{filename} is {}; each file may be at most {}.",
            size_text(data.len() as u64),
            size_text(MAX_ATTACHMENT_BYTES as u64)
        )));
    }
    let content_type = match image_type(&data) {
        Some(t) => t,
        None if is_text(&data) => "text/plain; charset=utf-8",
        None => {
            return Err(PortalError::invalid(format!(
                "{filename} is neither an image (PNG, JPEG, GIF, WebP) nor text. Attach screenshots, or text such as the output of tessera status."
            )));
        }
    };
    Ok(NewSupportAttachment {
        filename,
        content_type: content_type.to_owned(),
        content: data,
    })
}

/// A size in words: `512 bytes`, `1.5 KB`, `2 MB`.
pub fn size_text(bytes: u64) -> String {
    let unit = |value: f64, name: &str| {
        let text = format!("{value:.1}");
        format!("{} {name}", text.strip_suffix(".0").unwrap_or(&text))
    };
    if bytes < 1024 {
        format!("{bytes} bytes")
    } else if bytes < 1024 * 1024 {
        unit(bytes as f64 / 1024.0, "KB")
    } else {
        unit(bytes as f64 / (1024.0 * 1024.0), "MB")
    }
}

/// A count with thousands separated: `10,000`.
pub fn count_text(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The error for one file too many.
pub fn too_many_attachments() -> PortalError {
    PortalError::invalid(format!(
        "At most {MAX_ATTACHMENTS} files may be attached to one message. Leave some out, or put several screenshots in one."
    ))
}

/// What a person may ask about: the organization's orders and named-user subscriptions,
/// for those who see its orders (none for the others). Each is (value, label).
pub async fn about_choices(
    state: &PortalState,
    user: &UserRecord,
) -> PortalResult<Vec<SupportAbout>> {
    if user.role == Role::Staff || !crate::teams::may_see_billing(state, user).await? {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for sub in state
        .store
        .organization_subscriptions(&user.organization_id)
        .await?
    {
        out.push(SupportAbout {
            kind: "subscription".into(),
            id: sub.id.clone(),
            label: format!(
                "Subscription: {}, {} seat(s), {} – {}",
                sub.product_name, sub.seats, sub.start_date, sub.end_date
            ),
        });
    }
    for order in state
        .store
        .orders_of_organization(&user.organization_id)
        .await?
    {
        out.push(SupportAbout {
            kind: "order".into(),
            id: order.number.clone(),
            label: format!(
                "Order {}: {}, {} user(s), {} – {} ({})",
                order.number,
                order.product_name,
                order.seats,
                order.start_date,
                order.end_date,
                order.status.as_str()
            ),
        });
    }
    Ok(out)
}

/// The form's value for a choice (`order:ORD-…`, `subscription:ID`).
pub fn about_value(about: &SupportAbout) -> String {
    format!("{}:{}", about.kind, about.id)
}

/// The choice a form sent, which must be one of the person's own (empty: none).
pub async fn chosen_about(
    state: &PortalState,
    user: &UserRecord,
    value: &str,
) -> PortalResult<Option<SupportAbout>> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    about_choices(state, user)
        .await?
        .into_iter()
        .find(|a| about_value(a) == value)
        .map(Some)
        .ok_or_else(|| {
            PortalError::invalid(
                "Choose one of your organization's orders or subscriptions from the list, or none.",
            )
        })
}

/// Whether `user` may see `request`.
pub async fn may_see(
    state: &PortalState,
    user: &UserRecord,
    request: &SupportRequestRecord,
) -> PortalResult<bool> {
    if user.role == Role::Staff || request.user_id == user.id {
        return Ok(true);
    }
    if request.organization_id != user.organization_id || request.about.is_none() {
        return Ok(false);
    }
    crate::teams::may_see_billing(state, user).await
}

/// A request `user` may see, by its number; others are not found (whether they exist
/// is not told).
pub async fn visible_request(
    state: &PortalState,
    user: &UserRecord,
    number: &str,
) -> PortalResult<SupportRequestRecord> {
    match state.store.support_request(number).await? {
        Some(r) if may_see(state, user, &r).await? => Ok(r),
        _ => Err(PortalError::NotFound),
    }
}

/// The topic's words (`Post-purchase support > Subscription management > Renewals`).
pub fn topic_text(topic: &str) -> String {
    crate::help::find_leaf(topic)
        .map(|l| l.title())
        .unwrap_or_else(|| topic.to_owned())
}

async fn attachments_of(
    state: &PortalState,
    request: &SupportRequestRecord,
    message: &SupportMessageRecord,
) -> PortalResult<Vec<Attachment>> {
    let mut out = Vec::new();
    for a in &message.attachments {
        if let Some(file) = state.store.support_attachment(&request.id, &a.id).await? {
            out.push(Attachment {
                filename: file.filename,
                content_type: file.content_type,
                data: file.content,
            });
        }
    }
    Ok(out)
}

/// Stores a message's e-mails in the outbox and notes that they are there. Answers
/// whether this call announced it (`false`: another node or call already had).
pub async fn announce(state: &PortalState, number: &str, message_id: &str) -> PortalResult<bool> {
    let request = state
        .store
        .support_request(number)
        .await?
        .ok_or(PortalError::NotFound)?;
    let messages = state.store.support_messages(&request.id).await?;
    let Some(position) = messages.iter().position(|m| m.id == message_id) else {
        return Err(PortalError::NotFound);
    };
    let message = &messages[position];
    let customer_link = state.url(&format!("/account/support/{}", request.number));
    let staff_link = state.url(&format!("/staff/support/{}", request.number));
    let about = request
        .about
        .as_ref()
        .map(|a| format!("About: {}\n", a.label))
        .unwrap_or_default();
    let files = attachments_of(state, &request, message).await?;
    let staff_to = request
        .assignee_email
        .clone()
        .filter(|_| position > 0)
        .unwrap_or_else(|| state.config.staff_notification_email.clone());
    if position == 0 {
        state
            .mailer
            .send(OutgoingMail {
                to: vec![request.requester_email.clone()],
                subject: format!("Your support request {} was received", request.number),
                text: format!(
                    "We have your support request {number} and will answer it here and by e-mail.\n\nTopic: {topic}\n{about}\n{body}\n\nFollow it, or add to it: {customer_link}\n",
                    number = request.number,
                    topic = topic_text(&request.topic),
                    body = message.body,
                ),
                attachments: Vec::new(),
            })
            .await?;
        state
            .mailer
            .send(OutgoingMail {
                to: vec![staff_to],
                subject: format!(
                    "New support request {} from {}",
                    request.number, request.organization_name
                ),
                text: format!(
                    "{email} of {org} asks for help.\n\nTopic: {topic}\n{about}\n{body}\n\nAnswer it in the back office: {staff_link}\n",
                    email = request.requester_email,
                    org = request.organization_name,
                    topic = topic_text(&request.topic),
                    body = message.body,
                ),
                attachments: files,
            })
            .await?;
    } else if message.from_staff {
        state
            .mailer
            .send(OutgoingMail {
                to: vec![request.requester_email.clone()],
                subject: format!("Reply to your support request {}", request.number),
                text: format!(
                    "Our support agent replied to your support request {number}:\n\n{body}\n\nAnswer it, or read the whole conversation: {customer_link}\n",
                    number = request.number,
                    body = message.body,
                ),
                attachments: files,
            })
            .await?;
    } else {
        state
            .mailer
            .send(OutgoingMail {
                to: vec![staff_to],
                subject: format!(
                    "{} answered support request {}",
                    message.author_email, request.number
                ),
                text: format!(
                    "{email} of {org} wrote on support request {number}:\n\n{body}\n\nAnswer it in the back office: {staff_link}\n",
                    email = message.author_email,
                    org = request.organization_name,
                    number = request.number,
                    body = message.body,
                ),
                attachments: files,
            })
            .await?;
    }
    Ok(state
        .store
        .mark_support_message_announced(message_id, state.now())
        .await?)
}

/// Announces a message just committed; a failure leaves it to [`announce_pending`] (the
/// message stands, and the person is not shown an error for our mail).
pub async fn announce_now(state: &PortalState, number: &str, message_id: &str) {
    if let Err(e) = announce(state, number, message_id).await {
        tracing::warn!(request = number, error = %e, "a support message's e-mails wait for the recovery task");
    }
}

/// Announces messages that a stop left without their e-mails, made more than
/// `grace_ms` ago. Returns how many were announced.
pub async fn announce_pending(state: &PortalState, grace_ms: i64) -> PortalResult<usize> {
    let mut done = 0;
    for (message, number) in state
        .store
        .unannounced_support_messages(state.now() - grace_ms)
        .await?
    {
        if announce(state, &number, &message).await? {
            tracing::info!(request = %number, "announced a support message a stop had left unannounced");
            done += 1;
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachments_are_checked_by_content() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        assert_eq!(
            check_attachment("shot.png", png).unwrap().content_type,
            "image/png"
        );
        let status = b"POOL  SEATS\nautocad 1/5\n".to_vec();
        assert!(
            check_attachment("status.txt", status)
                .unwrap()
                .content_type
                .starts_with("text/plain")
        );
        let pdf = b"%PDF-1.7\n\x00\x01\x02binary".to_vec();
        let e = check_attachment("report.pdf", pdf).unwrap_err();
        assert!(e.message().contains("neither an image"), "{e}");
        let big = vec![b'a'; MAX_ATTACHMENT_BYTES + 1];
        assert!(check_attachment("big.txt", big).is_err());
        assert!(check_attachment("empty.txt", Vec::new()).is_err());
    }

    #[test]
    fn sizes_and_counts_read_as_words() {
        assert_eq!(size_text(512), "512 bytes");
        assert_eq!(size_text(1536), "1.5 KB");
        assert_eq!(size_text(MAX_ATTACHMENT_BYTES as u64), "2 MB");
        assert_eq!(count_text(10_000), "10,000");
        assert_eq!(count_text(999), "999");
        assert_eq!(count_text(1_234_567), "1,234,567");
    }

    #[test]
    fn file_names_lose_folders_and_quotes() {
        assert_eq!(clean_filename("C:\\Users\\a\\shot \"1\".png"), "shot 1.png");
        assert_eq!(clean_filename("../../etc/passwd"), "passwd");
        assert_eq!(clean_filename(".."), "attachment");
    }

    #[test]
    fn messages_are_neither_empty_nor_too_long() {
        assert!(check_message("  \n ").is_err());
        assert!(check_message(&"x".repeat(MAX_MESSAGE_CHARS + 1)).is_err());
        assert_eq!(check_message(" help \n").unwrap(), "help");
    }
}

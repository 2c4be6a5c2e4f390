//! Support requests: what a customer sends with "Contact a support agent" (a topic, an
//! order or subscription it is about, a message, attachments), numbered per year from the
//! counters in the same transaction as its row (`SR-2026-000001`), and the messages that
//! follow from the vendor's staff and the customer. Each message records when its e-mails
//! were stored in the outbox, so that a stop between the commit and the e-mails leaves it
//! to the portal's recovery task, as orders do.

use chrono::Datelike;
use sqlx::Row;
use tessera_core::Millis;

use super::Tx;
use super::orders::next_number;
use crate::{Store, StoreError};

/// Where a support request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SupportStatus {
    /// Waiting for the vendor's staff.
    Open,
    /// Staff replied; waiting for the customer.
    Answered,
    Closed,
}

impl SupportStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SupportStatus::Open => "open",
            SupportStatus::Answered => "answered",
            SupportStatus::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "open" => Some(SupportStatus::Open),
            "answered" => Some(SupportStatus::Answered),
            "closed" => Some(SupportStatus::Closed),
            _ => None,
        }
    }
}

/// What a request is about: one of the organization's orders (by number) or named-user
/// subscriptions (by id), with the words the pages show for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupportAbout {
    /// `order` or `subscription`.
    pub kind: String,
    pub id: String,
    pub label: String,
}

/// A file attached to a message.
#[derive(Debug, Clone)]
pub struct NewSupportAttachment {
    pub filename: String,
    pub content_type: String,
    pub content: Vec<u8>,
}

/// A reply from staff or an answer from the customer.
#[derive(Debug, Clone)]
pub struct NewSupportMessage<'a> {
    pub request_id: &'a str,
    pub author_user_id: &'a str,
    pub from_staff: bool,
    pub body: &'a str,
    pub attachments: &'a [NewSupportAttachment],
}

/// A new support request with its first message.
#[derive(Debug, Clone)]
pub struct NewSupportRequest<'a> {
    pub organization_id: &'a str,
    pub user_id: &'a str,
    pub topic: &'a str,
    pub about: Option<&'a SupportAbout>,
    pub body: &'a str,
    pub attachments: &'a [NewSupportAttachment],
}

#[derive(Debug, Clone)]
pub struct SupportRequestRecord {
    pub id: String,
    pub number: String,
    pub organization_id: String,
    pub organization_name: String,
    pub user_id: String,
    pub requester_email: String,
    pub topic: String,
    pub about: Option<SupportAbout>,
    pub status: SupportStatus,
    pub assignee_user_id: Option<String>,
    pub assignee_email: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// An attachment without its content.
#[derive(Debug, Clone)]
pub struct SupportAttachmentInfo {
    pub id: String,
    pub filename: String,
    pub content_type: String,
    pub size: u64,
}

#[derive(Debug, Clone)]
pub struct SupportMessageRecord {
    pub id: String,
    pub request_id: String,
    pub author_user_id: String,
    pub author_email: String,
    pub from_staff: bool,
    pub body: String,
    pub created_at: Millis,
    pub attachments: Vec<SupportAttachmentInfo>,
}

/// An attachment with its content.
#[derive(Debug, Clone)]
pub struct SupportAttachment {
    pub filename: String,
    pub content_type: String,
    pub content: Vec<u8>,
}

const REQUEST_SELECT: &str = "SELECT r.id, r.number, r.organization_id, o.name AS organization_name, \
     r.user_id, u.email AS requester_email, r.topic, r.about_kind, r.about_id, r.about_label, \
     r.status, r.assignee_user_id, a.email AS assignee_email, r.created_at, r.updated_at \
     FROM support_requests r JOIN users u ON u.id = r.user_id \
     JOIN organizations o ON o.id = r.organization_id \
     LEFT JOIN users a ON a.id = r.assignee_user_id";

fn request_from_row(row: &sqlx::any::AnyRow) -> Result<SupportRequestRecord, StoreError> {
    let status: String = row.try_get("status")?;
    let kind: Option<String> = row.try_get("about_kind")?;
    let about_id: Option<String> = row.try_get("about_id")?;
    Ok(SupportRequestRecord {
        id: row.try_get("id")?,
        number: row.try_get("number")?,
        organization_id: row.try_get("organization_id")?,
        organization_name: row.try_get("organization_name")?,
        user_id: row.try_get("user_id")?,
        requester_email: row.try_get("requester_email")?,
        topic: row.try_get("topic")?,
        about: match (kind, about_id) {
            (Some(kind), Some(id)) => Some(SupportAbout {
                kind,
                id,
                label: row.try_get("about_label")?,
            }),
            _ => None,
        },
        status: SupportStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("support request status {status}")))?,
        assignee_user_id: row.try_get("assignee_user_id")?,
        assignee_email: row.try_get("assignee_email")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

async fn insert_message(
    tx: &mut Tx<'_>,
    m: &NewSupportMessage<'_>,
    now: Millis,
) -> Result<String, StoreError> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO support_messages (id, request_id, author_user_id, from_staff, body, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&id)
    .bind(m.request_id)
    .bind(m.author_user_id)
    .bind(i64::from(m.from_staff))
    .bind(m.body)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    for a in m.attachments {
        sqlx::query(
            "INSERT INTO support_attachments (id, message_id, filename, content_type, content) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(new_id())
        .bind(&id)
        .bind(&a.filename)
        .bind(&a.content_type)
        .bind(a.content.clone())
        .execute(&mut **tx)
        .await?;
    }
    Ok(id)
}

impl Store {
    /// Stores a new support request, its first message and attachments in one
    /// transaction, numbered `SR-YEAR-NNNNNN` gaplessly per year; answers it with the
    /// message's id.
    pub async fn create_support_request(
        &self,
        new: &NewSupportRequest<'_>,
        now: Millis,
    ) -> Result<(SupportRequestRecord, String), StoreError> {
        let year = tessera_core::from_millis(now).year();
        let mut tx = self.portal_write_tx().await?;
        let n = next_number(&mut tx, &format!("support-{year}")).await?;
        let number = format!("SR-{year}-{n:06}");
        let id = new_id();
        sqlx::query(
            "INSERT INTO support_requests (id, number, organization_id, user_id, topic, about_kind, \
             about_id, about_label, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'open', $9, $9)",
        )
        .bind(&id)
        .bind(&number)
        .bind(new.organization_id)
        .bind(new.user_id)
        .bind(new.topic)
        .bind(new.about.map(|a| a.kind.clone()))
        .bind(new.about.map(|a| a.id.clone()))
        .bind(new.about.map(|a| a.label.clone()).unwrap_or_default())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let first = NewSupportMessage {
            request_id: &id,
            author_user_id: new.user_id,
            from_staff: false,
            body: new.body,
            attachments: new.attachments,
        };
        let message = insert_message(&mut tx, &first, now).await?;
        tx.commit().await?;
        let record = self
            .support_request(&number)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("support request {number} vanished")))?;
        Ok((record, message))
    }

    /// A support request by its number.
    pub async fn support_request(
        &self,
        number: &str,
    ) -> Result<Option<SupportRequestRecord>, StoreError> {
        let row = sqlx::query(&format!("{REQUEST_SELECT} WHERE r.number = $1"))
            .bind(number)
            .fetch_optional(&self.db)
            .await?;
        row.as_ref().map(request_from_row).transpose()
    }

    /// An organization's support requests, newest first.
    pub async fn support_requests_of_organization(
        &self,
        organization_id: &str,
    ) -> Result<Vec<SupportRequestRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "{REQUEST_SELECT} WHERE r.organization_id = $1 ORDER BY r.created_at DESC, r.number DESC"
        ))
        .bind(organization_id)
        .fetch_all(&self.db)
        .await?;
        rows.iter().map(request_from_row).collect()
    }

    /// The back office's queue: requests in `statuses`, the longest waiting first.
    pub async fn support_queue(
        &self,
        statuses: &[SupportStatus],
    ) -> Result<Vec<SupportRequestRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "{REQUEST_SELECT} ORDER BY r.updated_at, r.number LIMIT 1000"
        ))
        .fetch_all(&self.db)
        .await?;
        let mut out = Vec::new();
        for row in &rows {
            let r = request_from_row(row)?;
            if statuses.contains(&r.status) {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// A request's messages, oldest first, with their attachments (without content).
    pub async fn support_messages(
        &self,
        request_id: &str,
    ) -> Result<Vec<SupportMessageRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT m.id, m.request_id, m.author_user_id, u.email AS author_email, m.from_staff, \
             m.body, m.created_at FROM support_messages m JOIN users u ON u.id = m.author_user_id \
             WHERE m.request_id = $1 ORDER BY m.created_at, m.id",
        )
        .bind(request_id)
        .fetch_all(&self.db)
        .await?;
        let files = sqlx::query(
            "SELECT a.id, a.message_id, a.filename, a.content_type, \
             CAST(length(a.content) AS BIGINT) AS size FROM support_attachments a \
             JOIN support_messages m ON m.id = a.message_id WHERE m.request_id = $1 \
             ORDER BY a.filename, a.id",
        )
        .bind(request_id)
        .fetch_all(&self.db)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: String = row.try_get("id")?;
            let mut attachments = Vec::new();
            for f in &files {
                let message: String = f.try_get("message_id")?;
                if message == id {
                    let size: i64 = f.try_get("size")?;
                    attachments.push(SupportAttachmentInfo {
                        id: f.try_get("id")?,
                        filename: f.try_get("filename")?,
                        content_type: f.try_get("content_type")?,
                        size: u64::try_from(size).unwrap_or(0),
                    });
                }
            }
            let from_staff: i64 = row.try_get("from_staff")?;
            out.push(SupportMessageRecord {
                id,
                request_id: row.try_get("request_id")?,
                author_user_id: row.try_get("author_user_id")?,
                author_email: row.try_get("author_email")?,
                from_staff: from_staff != 0,
                body: row.try_get("body")?,
                created_at: row.try_get("created_at")?,
                attachments,
            });
        }
        Ok(out)
    }

    /// One attachment of a request, with its content.
    pub async fn support_attachment(
        &self,
        request_id: &str,
        attachment_id: &str,
    ) -> Result<Option<SupportAttachment>, StoreError> {
        let row = sqlx::query(
            "SELECT a.filename, a.content_type, a.content FROM support_attachments a \
             JOIN support_messages m ON m.id = a.message_id \
             WHERE a.id = $1 AND m.request_id = $2",
        )
        .bind(attachment_id)
        .bind(request_id)
        .fetch_optional(&self.db)
        .await?;
        row.map(|r| {
            Ok(SupportAttachment {
                filename: r.try_get("filename")?,
                content_type: r.try_get("content_type")?,
                content: r.try_get("content")?,
            })
        })
        .transpose()
    }

    /// A reply (from staff) or an answer (from the customer), with its attachments; the
    /// request becomes `status`. Answers the message's id.
    pub async fn add_support_message(
        &self,
        message: &NewSupportMessage<'_>,
        status: SupportStatus,
        now: Millis,
    ) -> Result<String, StoreError> {
        let mut tx = self.portal_write_tx().await?;
        let id = insert_message(&mut tx, message, now).await?;
        sqlx::query("UPDATE support_requests SET status = $1, updated_at = $2 WHERE id = $3")
            .bind(status.as_str())
            .bind(now)
            .bind(message.request_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Gives a request to a member of staff (or to nobody).
    pub async fn assign_support_request(
        &self,
        request_id: &str,
        assignee_user_id: Option<&str>,
        now: Millis,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE support_requests SET assignee_user_id = $1, updated_at = $2 WHERE id = $3",
        )
        .bind(assignee_user_id)
        .bind(now)
        .bind(request_id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Sets a request's status (closing it, for one).
    pub async fn set_support_status(
        &self,
        request_id: &str,
        status: SupportStatus,
        now: Millis,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE support_requests SET status = $1, updated_at = $2 WHERE id = $3")
            .bind(status.as_str())
            .bind(now)
            .bind(request_id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// The vendor's staff: (user id, e-mail), by e-mail.
    pub async fn staff_users(&self) -> Result<Vec<(String, String)>, StoreError> {
        let rows =
            sqlx::query("SELECT id, email FROM users WHERE role = 'staff' ORDER BY email_key")
                .fetch_all(&self.db)
                .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("email")?)))
            .collect()
    }

    /// Messages made before `before` whose e-mails were never stored: (message id,
    /// request number), oldest first.
    pub async fn unannounced_support_messages(
        &self,
        before: Millis,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT m.id, r.number FROM support_messages m \
             JOIN support_requests r ON r.id = m.request_id \
             WHERE m.announced_at IS NULL AND m.created_at < $1 \
             ORDER BY m.created_at, m.id LIMIT 100",
        )
        .bind(before)
        .fetch_all(&self.db)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("number")?)))
            .collect()
    }

    /// Notes that a message's e-mails are in the outbox; `false` when it already was
    /// (another node announced it).
    pub async fn mark_support_message_announced(
        &self,
        message_id: &str,
        now: Millis,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE support_messages SET announced_at = $1 WHERE id = $2 AND announced_at IS NULL",
        )
        .bind(now)
        .bind(message_id)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

//! E-mail: every message is a real RFC 5322 message. With an SMTP server configured
//! (`--smtp smtp://host:port`) it is delivered there; without one it is written as an
//! `.eml` file to the outbox folder, so nothing is lost.

use std::path::PathBuf;

use lettre::message::header::ContentType;
use lettre::message::{Attachment as LettreAttachment, Mailbox, MultiPart, SinglePart};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum MailError {
    #[error("not an e-mail address: {0}")]
    Address(String),
    #[error("the message could not be built: {0}")]
    Build(String),
    #[error("cannot write to the outbox {path}: {source}")]
    Outbox {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Where mail goes.
#[derive(Debug, Clone)]
pub struct MailConfig {
    /// `smtp://host:port` (plain, as for a local relay) or `smtps://…`; none: outbox only.
    pub smtp_url: Option<String>,
    /// Where `.eml` files go when there is no SMTP server.
    pub outbox_dir: PathBuf,
    /// The sender, e.g. `Tessera Shop <shop@vendor.example>`.
    pub from: String,
}

/// A file attached to a message.
#[derive(Debug, Clone)]
pub struct Attachment {
    pub filename: String,
    pub content_type: String,
    pub data: Vec<u8>,
}

/// A message to send.
#[derive(Debug, Clone)]
pub struct OutgoingMail {
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub attachments: Vec<Attachment>,
}

/// Sends mail; cheap to clone.
#[derive(Debug, Clone)]
pub struct Mailer {
    config: MailConfig,
}

impl Mailer {
    pub fn new(config: MailConfig) -> Self {
        Mailer { config }
    }

    pub fn config(&self) -> &MailConfig {
        &self.config
    }

    /// Builds the RFC 5322 message.
    pub fn build(&self, mail: &OutgoingMail) -> Result<lettre::Message, MailError> {
        let from: Mailbox = self
            .config
            .from
            .parse()
            .map_err(|_| MailError::Address(self.config.from.clone()))?;
        let mut builder = lettre::Message::builder()
            .from(from)
            .subject(mail.subject.clone());
        for to in &mail.to {
            let mailbox: Mailbox = to.parse().map_err(|_| MailError::Address(to.clone()))?;
            builder = builder.to(mailbox);
        }
        let mut body = MultiPart::mixed().singlepart(SinglePart::plain(mail.text.clone()));
        for a in &mail.attachments {
            let ct =
                ContentType::parse(&a.content_type).map_err(|e| MailError::Build(e.to_string()))?;
            body =
                body.singlepart(LettreAttachment::new(a.filename.clone()).body(a.data.clone(), ct));
        }
        builder
            .multipart(body)
            .map_err(|e| MailError::Build(e.to_string()))
    }

    /// Sends a message. Without SMTP it is written to the outbox as an `.eml` file.
    pub async fn send(&self, mail: OutgoingMail) -> Result<(), MailError> {
        let message = self.build(&mail)?;
        let dir = &self.config.outbox_dir;
        let io = |source| MailError::Outbox {
            path: dir.clone(),
            source,
        };
        tokio::fs::create_dir_all(dir).await.map_err(io)?;
        let name = format!(
            "{}-{}.eml",
            chrono::Utc::now().format("%Y%m%dT%H%M%S%.3f"),
            uuid::Uuid::new_v4().simple()
        );
        let tmp = dir.join(format!(".{name}.tmp"));
        tokio::fs::write(&tmp, message.formatted())
            .await
            .map_err(io)?;
        tokio::fs::rename(&tmp, dir.join(&name)).await.map_err(io)?;
        Ok(())
    }
}

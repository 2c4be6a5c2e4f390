//! E-mail: every message is a real RFC 5322 message, stored in the database's outbox
//! before `send` returns, and delivered afterwards by a background task. With an SMTP
//! server configured (`--smtp smtp://host:port`) it is delivered there; without one it is
//! written as an `.eml` file to the outbox folder. Either way nothing is lost: a failed
//! attempt is recorded and retried with a backoff (1 s, 2 s, 4 s, … at most 5 minutes),
//! forever, and what a crash left pending is delivered after the restart.
//!
//! Several portal processes may share one PostgreSQL database: each message is claimed
//! in the database before it is sent, so two processes do not send the same message.
//! Delivery is at least once: a process that dies after the SMTP server accepted a
//! message but before it recorded that leaves it to be sent again.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use lettre::address::Envelope;
use lettre::message::header::ContentType;
use lettre::message::{Attachment as LettreAttachment, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use tessera_core::Millis;
use tessera_server::metrics::LabeledCounter;
use tessera_store::{NewOutboxMessage, OutboxClaim, OutboxMessage, Store, StoreError};
use thiserror::Error;
use tokio::sync::{Notify, watch};

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
    #[error("the SMTP server setting is not usable: {0}")]
    SmtpConfig(String),
    #[error("the mail outbox: {0}")]
    Store(#[from] StoreError),
    #[error("{pending} message(s) still undelivered after waiting")]
    Timeout { pending: usize },
}

/// Where mail goes.
#[derive(Debug, Clone)]
pub struct MailConfig {
    /// `smtp://host:port` (plain, as for a local relay), `smtp://host:587?tls=starttls`
    /// (or `tls=required`/`tls=opportunistic`), or `smtps://host:465`; `user:pass@` before
    /// the host for AUTH. None: outbox folder only.
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

/// How long a deliverer holds a message it is sending before others may take it.
const CLAIM_MS: Millis = 120_000;
/// The most one delivery attempt may take (well inside the claim).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(90);
/// The SMTP client's timeout for each command.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);
/// How often an idle deliverer looks for messages stored by other processes.
const IDLE_POLL: Duration = Duration::from_secs(5);
/// The longest wait between two attempts at one message.
const MAX_BACKOFF_MS: Millis = 5 * 60 * 1000;
/// Messages taken from the outbox at a time.
const BATCH: u32 = 32;

/// The wait after a message's `attempts`-th failure: 1 s, 2 s, 4 s, … at most 5 minutes.
pub fn retry_delay_ms(failed_attempts_before: u32) -> Millis {
    let shift = failed_attempts_before.min(20);
    (1000_i64 << shift).min(MAX_BACKOFF_MS)
}

fn now_ms() -> Millis {
    tessera_core::to_millis(chrono::Utc::now())
}

/// Sends mail through the outbox; cheap to clone. The background deliverer stops when
/// the last clone is dropped (what it had not delivered stays in the outbox).
#[derive(Clone)]
pub struct Mailer {
    inner: Arc<Inner>,
}

struct Inner {
    config: MailConfig,
    store: Store,
    /// Messages by `outcome`: `queued`, `sent`, `failed` (an attempt that failed).
    counts: LabeledCounter,
    wake: Arc<Notify>,
    /// Dropped with the last `Mailer`, which tells the deliverer to stop.
    _stop: watch::Sender<()>,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// The SMTP transport for a URL; `tls=starttls` is accepted as `tls=required`.
fn smtp_transport(url: &str) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailError> {
    let url = url.replace("tls=starttls", "tls=required");
    let builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(&url)
        .map_err(|e| MailError::SmtpConfig(format!("{}: {e}", redact(&url))))?;
    Ok(builder.timeout(Some(SMTP_TIMEOUT)).build())
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

impl Mailer {
    /// Starts the mailer on the portal's store: checks the configuration (the sender, the
    /// SMTP URL, or that the outbox folder can be made) and starts the background
    /// deliverer, which at once delivers whatever is pending in the outbox. Must be
    /// called inside a Tokio runtime.
    pub async fn start(store: Store, config: MailConfig) -> Result<Mailer, MailError> {
        let _: Mailbox = config
            .from
            .parse()
            .map_err(|_| MailError::Address(config.from.clone()))?;
        let transport = config.smtp_url.as_deref().map(smtp_transport).transpose()?;
        if transport.is_none() {
            // A folder that cannot be made is a setting to fix now, not a retry later.
            tokio::fs::create_dir_all(&config.outbox_dir)
                .await
                .map_err(|source| MailError::Outbox {
                    path: config.outbox_dir.clone(),
                    source,
                })?;
        }
        let wake = Arc::new(Notify::new());
        let (stop, stopped) = watch::channel(());
        let counts = LabeledCounter::default();
        let deliverer = Deliverer {
            store: store.clone(),
            counts: counts.clone(),
            transport,
            outbox_dir: config.outbox_dir.clone(),
            wake: wake.clone(),
            stopped,
        };
        tokio::spawn(deliverer.supervise());
        Ok(Mailer {
            inner: Arc::new(Inner {
                config,
                store,
                counts,
                wake,
                _stop: stop,
            }),
        })
    }

    /// What this process queued, sent and failed to send, for `/metrics`.
    pub fn counts(&self) -> &LabeledCounter {
        &self.inner.counts
    }

    pub fn config(&self) -> &MailConfig {
        &self.inner.config
    }

    /// Builds the RFC 5322 message.
    pub fn build(&self, mail: &OutgoingMail) -> Result<lettre::Message, MailError> {
        let config = &self.inner.config;
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|_| MailError::Address(config.from.clone()))?;
        let mut builder = lettre::Message::builder()
            .from(from)
            .message_id(None)
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

    /// Builds the message and stores it in the outbox (one insert). Once this returns
    /// the message is durable and will be delivered by the background deliverer.
    pub async fn send(&self, mail: OutgoingMail) -> Result<(), MailError> {
        let message = self.build(&mail)?;
        let envelope = message.envelope();
        let sender = envelope
            .from()
            .map(ToString::to_string)
            .ok_or_else(|| MailError::Build("the message has no sender".into()))?;
        let recipients: Vec<String> = envelope.to().iter().map(ToString::to_string).collect();
        let bytes = message.formatted();
        let id = self
            .inner
            .store
            .outbox_insert(
                &NewOutboxMessage {
                    sender: &sender,
                    recipients: &recipients,
                    subject: &mail.subject,
                    message: &bytes,
                },
                now_ms(),
            )
            .await?;
        tracing::debug!(%id, subject = %mail.subject, "mail queued");
        self.inner.counts.inc(&[("outcome", "queued")]);
        self.inner.wake.notify_one();
        Ok(())
    }

    /// How many messages in the outbox are not delivered yet (from every process
    /// sharing the database).
    pub async fn pending(&self) -> Result<usize, MailError> {
        let n = self.inner.store.outbox_pending().await?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    /// Waits until no message is pending, for tests and shutdown. Returns how many were
    /// pending when called; `MailError::Timeout` when some are still undelivered after
    /// `timeout` (they stay in the outbox and will be delivered later).
    pub async fn flush(&self, timeout: Duration) -> Result<usize, MailError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let initial = self.pending().await?;
        self.inner.wake.notify_one();
        let mut pending = initial;
        loop {
            if pending == 0 {
                return Ok(initial);
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Err(MailError::Timeout { pending });
            }
            tokio::time::sleep((deadline - now).min(Duration::from_millis(50))).await;
            pending = self.pending().await?;
        }
    }
}

/// The background task that takes messages from the outbox and delivers them.
#[derive(Clone)]
struct Deliverer {
    store: Store,
    counts: LabeledCounter,
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    outbox_dir: PathBuf,
    wake: Arc<Notify>,
    stopped: watch::Receiver<()>,
}

impl Deliverer {
    fn stopping(&self) -> bool {
        self.stopped.has_changed().is_err()
    }

    /// Runs the deliverer, starting it again should it ever panic.
    async fn supervise(self) {
        loop {
            let run = tokio::spawn(self.clone().run()).await;
            match run {
                Ok(()) => return,
                Err(e) => {
                    tracing::error!("the mail deliverer failed: {e}; starting it again");
                    if self.stopping() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    async fn run(mut self) {
        loop {
            if self.stopping() {
                return;
            }
            let wait = match self.round().await {
                Ok(wait) => wait,
                Err(e) => {
                    tracing::warn!("mail outbox: {e}");
                    Duration::from_secs(1)
                }
            };
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = self.stopped.changed() => return,
            }
        }
    }

    /// Delivers every message that is due; returns how long to wait before the next.
    async fn round(&mut self) -> Result<Duration, StoreError> {
        loop {
            let ids = self.store.outbox_due(now_ms(), BATCH).await?;
            if ids.is_empty() {
                break;
            }
            let mut claimed_any = false;
            for id in ids {
                if self.stopping() {
                    return Ok(Duration::ZERO);
                }
                let now = now_ms();
                if let Some(claim) = self.store.outbox_claim(&id, now, now + CLAIM_MS).await? {
                    claimed_any = true;
                    self.deliver(claim).await?;
                }
            }
            if !claimed_any {
                break;
            }
        }
        let wait = match self.store.outbox_next_due().await? {
            None => IDLE_POLL,
            Some(at) => {
                let ms = u64::try_from(at.saturating_sub(now_ms())).unwrap_or(0);
                Duration::from_millis(ms).clamp(Duration::from_millis(10), IDLE_POLL)
            }
        };
        Ok(wait)
    }

    async fn deliver(&self, claim: OutboxClaim) -> Result<(), StoreError> {
        let message = &claim.message;
        let attempt = async {
            match &self.transport {
                Some(transport) => send_smtp(transport, message).await.map(|()| "smtp".into()),
                None => write_eml(&self.outbox_dir, message).await,
            }
        };
        let result = match tokio::time::timeout(ATTEMPT_TIMEOUT, attempt).await {
            Ok(result) => result,
            Err(_) => Err(format!("no answer within {} s", ATTEMPT_TIMEOUT.as_secs())),
        };
        match result {
            Ok(via) => {
                tracing::info!(id = %message.id, subject = %message.subject, %via, "mail delivered");
                self.counts.inc(&[("outcome", "sent")]);
                self.store
                    .outbox_delivered(&message.id, now_ms(), &via)
                    .await
            }
            Err(error) => {
                let delay = retry_delay_ms(message.attempts);
                tracing::warn!(
                    id = %message.id,
                    subject = %message.subject,
                    attempts = message.attempts + 1,
                    retry_in_ms = delay,
                    "mail not delivered: {error}"
                );
                self.counts.inc(&[("outcome", "failed")]);
                self.store
                    .outbox_failed(&claim, &error, now_ms() + delay)
                    .await
            }
        }
    }
}

async fn send_smtp(
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    message: &OutboxMessage,
) -> Result<(), String> {
    let from = message
        .sender
        .parse()
        .map_err(|e| format!("sender {}: {e}", message.sender))?;
    let to = message
        .recipients
        .iter()
        .map(|r| r.parse().map_err(|e| format!("recipient {r}: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let envelope = Envelope::new(Some(from), to).map_err(|e| e.to_string())?;
    transport
        .send_raw(&envelope, &message.message)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Writes the message as `<created>-<id>.eml` (a temporary file, synced, then renamed),
/// so the folder only ever holds whole messages and a second attempt at the same
/// message replaces the first. Returns the file's path.
async fn write_eml(dir: &Path, message: &OutboxMessage) -> Result<String, String> {
    let created = tessera_core::from_millis(message.created_at);
    let name = format!(
        "{}-{}.eml",
        created.format("%Y%m%dT%H%M%S%.3fZ"),
        message.id
    );
    let dir = dir.to_path_buf();
    let bytes = message.message.clone();
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let io = |e: std::io::Error| {
            MailError::Outbox {
                path: dir.clone(),
                source: e,
            }
            .to_string()
        };
        std::fs::create_dir_all(&dir).map_err(io)?;
        let tmp = dir.join(format!(".{name}.tmp"));
        let mut file = std::fs::File::create(&tmp).map_err(io)?;
        file.write_all(&bytes).map_err(io)?;
        file.sync_all().map_err(io)?;
        drop(file);
        let path = dir.join(&name);
        std::fs::rename(&tmp, &path).map_err(io)?;
        // The rename itself is made durable by syncing the folder (where that is possible).
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(path.to_string_lossy().into_owned())
    })
    .await
    .map_err(|e| format!("writing the .eml file failed: {e}"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_up_to_five_minutes() {
        let delays: Vec<Millis> = (0..12).map(retry_delay_ms).collect();
        assert_eq!(
            &delays[..9],
            &[
                1000, 2000, 4000, 8000, 16_000, 32_000, 64_000, 128_000, 256_000
            ]
        );
        assert!(delays[9..].iter().all(|d| *d == 300_000));
        assert_eq!(retry_delay_ms(u32::MAX), 300_000);
    }

    #[test]
    fn passwords_are_not_shown_in_messages() {
        assert_eq!(
            redact("smtps://shop:s3cret@mail.example:465"),
            "smtps://shop:***@mail.example:465"
        );
        assert_eq!(redact("smtp://localhost:25"), "smtp://localhost:25");
    }
}

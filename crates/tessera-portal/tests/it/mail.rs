//! Durable e-mail against a real SMTP listener written here with tokio, on SQLite and,
//! when reachable, PostgreSQL: delivery with attachments, an SMTP server that is down
//! at first, a restart with mail pending, two portal processes sharing one database,
//! and the outbox folder without SMTP.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mail_parser::{MessageParser, MimeHeaders};
use tessera_portal::mail::{Attachment, MailConfig, MailError, Mailer, OutgoingMail};
use tessera_store::Store;
use tessera_store::testing::TestDatabase;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

/// Keeps a test's database alive: a SQLite folder or a PostgreSQL database.
#[allow(dead_code)]
enum Keep {
    Dir(tempfile::TempDir),
    Pg(TestDatabase),
}

/// A database on every backend there is: SQLite always, PostgreSQL when reachable.
/// With each, the URL to open it again (as a second portal process would).
async fn stores() -> Vec<(Store, String, Keep)> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("portal.db");
    let sqlite = Store::open_sqlite(&path).await.unwrap();
    let url = format!("sqlite://{}", path.display());
    let mut out = vec![(sqlite, url, Keep::Dir(dir))];
    if let Some(db) = TestDatabase::create().await {
        let pg = Store::open_url(&db.url).await.unwrap();
        out.push((pg, db.url.clone(), Keep::Pg(db)));
    }
    out
}

/// One message as the SMTP server received it.
#[derive(Debug, Clone)]
struct Received {
    from: String,
    to: Vec<String>,
    data: Vec<u8>,
}

/// A minimal SMTP server: EHLO/HELO, MAIL FROM, RCPT TO, DATA, RSET, NOOP, QUIT.
struct SmtpServer {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SmtpServer {
    async fn start() -> SmtpServer {
        Self::serve(TcpListener::bind("127.0.0.1:0").await.unwrap())
    }

    fn serve(listener: TcpListener) -> SmtpServer {
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let store = received.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                let store = store.clone();
                tokio::spawn(async move {
                    let _ = session(socket, store).await;
                });
            }
        });
        SmtpServer {
            addr,
            received,
            task,
        }
    }

    fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

fn address_in(arg: &str) -> String {
    let start = arg.find('<').map(|i| i + 1).unwrap_or(0);
    let end = arg.rfind('>').unwrap_or(arg.len());
    arg[start..end.max(start)].to_owned()
}

async fn session(socket: TcpStream, store: Arc<Mutex<Vec<Received>>>) -> std::io::Result<()> {
    let (read, mut write) = socket.into_split();
    let mut read = BufReader::new(read);
    write.write_all(b"220 test.invalid ESMTP ready\r\n").await?;
    let mut from = String::new();
    let mut to = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if read.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&line).trim_end().to_owned();
        let upper = text.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-test.invalid greets you\r\n250 8BITMIME\r\n"
        } else if upper.starts_with("HELO") {
            b"250 test.invalid\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            from = address_in(&text[10..]);
            to.clear();
            b"250 2.1.0 OK\r\n"
        } else if upper.starts_with("RCPT TO:") {
            to.push(address_in(&text[8..]));
            b"250 2.1.5 OK\r\n"
        } else if upper == "DATA" {
            write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
            let mut data = Vec::new();
            loop {
                line.clear();
                if read.read_until(b'\n', &mut line).await? == 0 {
                    return Ok(());
                }
                if line == b".\r\n" || line == b".\n" {
                    break;
                }
                // Dot-unstuffing (RFC 5321 4.5.2).
                let content = if line.starts_with(b"..") {
                    &line[1..]
                } else {
                    &line[..]
                };
                data.extend_from_slice(content);
            }
            store.lock().unwrap().push(Received {
                from: from.clone(),
                to: std::mem::take(&mut to),
                data,
            });
            b"250 2.0.0 queued\r\n"
        } else if upper == "RSET" {
            from.clear();
            to.clear();
            b"250 OK\r\n"
        } else if upper == "NOOP" {
            b"250 OK\r\n"
        } else if upper == "QUIT" {
            write.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            b"502 5.5.2 not implemented\r\n"
        };
        write.write_all(reply).await?;
    }
}

/// A port bound but not listening: connections to it are refused until `listen`.
fn reserve_port() -> (TcpSocket, SocketAddr) {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = socket.local_addr().unwrap();
    (socket, addr)
}

fn config(smtp_url: Option<String>, outbox: &std::path::Path) -> MailConfig {
    MailConfig {
        smtp_url,
        outbox_dir: outbox.to_path_buf(),
        from: "Tessera Shop <shop@vendor.example>".into(),
    }
}

const PDF: &[u8] = b"%PDF-1.7\n% not a real invoice, just its bytes\n%%EOF\n";

fn invoice_mail(n: u32) -> OutgoingMail {
    OutgoingMail {
        to: vec![
            "Zofia Wójcik <zofia@firma.example>".into(),
            "ksiegowosc@firma.example".into(),
        ],
        subject: format!("Faktura FV/2025/{n:03} — zamówienie Nr {n}"),
        text: format!(
            "Dzień dobry,\n\nw załączniku faktura do zamówienia {n}.\n.\n..a line starting with dots\n"
        ),
        attachments: vec![Attachment {
            filename: format!("invoice-FV-2025-{n:03}.pdf"),
            content_type: "application/pdf".into(),
            data: PDF.to_vec(),
        }],
    }
}

fn check_invoice_message(raw: &[u8], n: u32) {
    let parsed = MessageParser::default()
        .parse(raw)
        .expect("a parseable RFC 5322 message");
    assert_eq!(
        parsed.subject(),
        Some(format!("Faktura FV/2025/{n:03} — zamówienie Nr {n}").as_str())
    );
    assert_eq!(
        parsed
            .from()
            .and_then(|a| a.first())
            .and_then(|a| a.address()),
        Some("shop@vendor.example")
    );
    let to: Vec<&str> = parsed
        .to()
        .map(|a| a.iter().filter_map(|a| a.address()).collect())
        .unwrap_or_default();
    assert_eq!(to, ["zofia@firma.example", "ksiegowosc@firma.example"]);
    assert!(parsed.message_id().is_some());
    let body = parsed.body_text(0).unwrap();
    assert!(body.contains("faktura do zamówienia"), "{body}");
    assert!(body.contains("\n..a line starting with dots"), "{body}");
    let attachments: Vec<_> = parsed.attachments().collect();
    assert_eq!(attachments.len(), 1);
    let pdf = attachments[0];
    assert_eq!(
        pdf.attachment_name(),
        Some(format!("invoice-FV-2025-{n:03}.pdf").as_str())
    );
    assert_eq!(
        pdf.content_type()
            .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or(""))),
        Some("application/pdf".into())
    );
    assert_eq!(pdf.contents(), PDF);
}

#[tokio::test]
async fn smtp_delivers_a_message_with_its_pdf_attachment() {
    for (store, _, _keep) in stores().await {
        let server = SmtpServer::start().await;
        let outbox = tempfile::tempdir().unwrap();
        let mailer = Mailer::start(store.clone(), config(Some(server.url()), outbox.path()))
            .await
            .unwrap();
        mailer.send(invoice_mail(1)).await.unwrap();
        mailer.flush(Duration::from_secs(20)).await.unwrap();
        assert_eq!(mailer.pending().await.unwrap(), 0);
        assert_eq!(mailer.pending().await.unwrap(), 0);

        let received = server.received();
        assert_eq!(received.len(), 1, "{:?} {received:?}", store.backend());
        assert_eq!(received[0].from, "shop@vendor.example");
        assert_eq!(
            received[0].to,
            ["zofia@firma.example", "ksiegowosc@firma.example"]
        );
        check_invoice_message(&received[0].data, 1);

        // The outbox keeps what was sent and how.
        let recent = store.outbox_recent(10).await.unwrap();
        assert_eq!(recent.len(), 1);
        assert_eq!(recent[0].delivered_via.as_deref(), Some("smtp"));
        assert_eq!(recent[0].attempts, 0);
        // Nothing is written to the outbox folder when SMTP is configured.
        assert_eq!(
            std::fs::read_dir(outbox.path())
                .map(|d| d.count())
                .unwrap_or(0),
            0
        );
    }
}

#[tokio::test]
async fn a_message_sent_while_the_smtp_server_is_down_is_delivered_once_it_is_up() {
    for (store, _, _keep) in stores().await {
        let (reserved, addr) = reserve_port();
        let outbox = tempfile::tempdir().unwrap();
        let mailer = Mailer::start(
            store.clone(),
            config(Some(format!("smtp://{addr}")), outbox.path()),
        )
        .await
        .unwrap();
        // `send` only stores the message: it succeeds with the server down.
        mailer.send(invoice_mail(2)).await.unwrap();
        assert_eq!(mailer.pending().await.unwrap(), 1);
        match mailer.flush(Duration::from_millis(1500)).await {
            Err(MailError::Timeout { pending: 1 }) => {}
            other => panic!("expected a timeout with one message pending, got {other:?}"),
        }
        let recent = store.outbox_recent(10).await.unwrap();
        assert!(recent[0].attempts >= 1, "{recent:?}");
        assert!(recent[0].last_error.is_some(), "{recent:?}");
        assert!(recent[0].delivered_at.is_none());
        // What /metrics shows: queued once, each failed attempt, nothing sent yet.
        let counts = mailer.counts();
        assert_eq!(counts.get(&[("outcome", "queued")]), 1);
        assert_eq!(counts.get(&[("outcome", "sent")]), 0);
        // (The deliverer may be trying again meanwhile: at least the attempts seen above.)
        assert!(counts.get(&[("outcome", "failed")]) >= u64::from(recent[0].attempts));

        let server = SmtpServer::serve(reserved.listen(64).unwrap());
        mailer.flush(Duration::from_secs(30)).await.unwrap();
        let received = server.received();
        assert_eq!(received.len(), 1);
        check_invoice_message(&received[0].data, 2);
        assert_eq!(counts.get(&[("outcome", "sent")]), 1);
        assert_eq!(counts.get(&[("outcome", "queued")]), 1);
    }
}

#[tokio::test]
async fn a_restart_delivers_what_was_pending() {
    for (store, _, _keep) in stores().await {
        let (reserved, addr) = reserve_port();
        let outbox = tempfile::tempdir().unwrap();
        let url = format!("smtp://{addr}");
        let first = Mailer::start(store.clone(), config(Some(url.clone()), outbox.path()))
            .await
            .unwrap();
        for n in 10..13 {
            first.send(invoice_mail(n)).await.unwrap();
        }
        assert!(first.flush(Duration::from_millis(300)).await.is_err());
        drop(first);
        assert_eq!(store.outbox_pending().await.unwrap(), 3);

        let server = SmtpServer::serve(reserved.listen(64).unwrap());
        let second = Mailer::start(store.clone(), config(Some(url), outbox.path()))
            .await
            .unwrap();
        second.flush(Duration::from_secs(30)).await.unwrap();
        assert_eq!(second.pending().await.unwrap(), 0);
        let mut received = server.received();
        assert_eq!(received.len(), 3);
        received.sort_by_key(|r| {
            MessageParser::default()
                .parse(&r.data)
                .and_then(|m| m.subject().map(str::to_owned))
        });
        for (r, n) in received.iter().zip(10..13) {
            check_invoice_message(&r.data, n);
        }
    }
}

#[tokio::test]
async fn two_portal_processes_on_one_database_send_each_message_once() {
    for (store, url, _keep) in stores().await {
        let server = SmtpServer::start().await;
        let outbox = tempfile::tempdir().unwrap();
        // A second process: its own connections to the same database.
        let other_store = Store::open_url(&url).await.unwrap();
        let a = Mailer::start(store.clone(), config(Some(server.url()), outbox.path()))
            .await
            .unwrap();
        let b = Mailer::start(other_store, config(Some(server.url()), outbox.path()))
            .await
            .unwrap();
        for n in 0..20 {
            let mailer = [&a, &b][n as usize % 2];
            mailer.send(invoice_mail(100 + n)).await.unwrap();
        }
        a.flush(Duration::from_secs(30)).await.unwrap();
        b.flush(Duration::from_secs(30)).await.unwrap();
        let received = server.received();
        let mut subjects: Vec<String> = received
            .iter()
            .map(|r| {
                MessageParser::default()
                    .parse(&r.data)
                    .and_then(|m| m.subject().map(str::to_owned))
                    .unwrap()
            })
            .collect();
        subjects.sort();
        subjects.dedup();
        assert_eq!(received.len(), 20, "{subjects:?}");
        assert_eq!(subjects.len(), 20);
    }
}

#[tokio::test]
async fn a_claim_left_by_a_dead_process_expires_and_the_message_is_delivered() {
    for (store, _, _keep) in stores().await {
        let server = SmtpServer::start().await;
        let outbox = tempfile::tempdir().unwrap();
        // Stored by a process that claimed it and died before sending it.
        let elsewhere = tempfile::tempdir().unwrap();
        let builder = Mailer::start(
            Store::open_sqlite(&elsewhere.path().join("b.db"))
                .await
                .unwrap(),
            config(None, elsewhere.path()),
        )
        .await
        .unwrap();
        let message = builder.build(&invoice_mail(7)).unwrap();
        let now = tessera_core::to_millis(chrono::Utc::now());
        let recipients = vec![
            "zofia@firma.example".to_owned(),
            "ksiegowosc@firma.example".to_owned(),
        ];
        let id = store
            .outbox_insert(
                &tessera_store::NewOutboxMessage {
                    sender: "shop@vendor.example",
                    recipients: &recipients,
                    subject: "claimed",
                    message: &message.formatted(),
                },
                now,
            )
            .await
            .unwrap();
        let claim = store.outbox_claim(&id, now, now + 1500).await.unwrap();
        assert!(claim.is_some());
        // While claimed nobody else may take it.
        assert!(
            store
                .outbox_claim(&id, now, now + 1500)
                .await
                .unwrap()
                .is_none()
        );
        let mailer = Mailer::start(store.clone(), config(Some(server.url()), outbox.path()))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(server.received().is_empty());
        mailer.flush(Duration::from_secs(20)).await.unwrap();
        let received = server.received();
        assert_eq!(received.len(), 1);
        check_invoice_message(&received[0].data, 7);
    }
}

#[tokio::test]
async fn without_smtp_messages_are_written_to_the_outbox_folder_as_eml_files() {
    for (store, _, _keep) in stores().await {
        let outbox = tempfile::tempdir().unwrap();
        let folder = outbox.path().join("outbox");
        let mailer = Mailer::start(store.clone(), config(None, &folder))
            .await
            .unwrap();
        mailer.send(invoice_mail(20)).await.unwrap();
        mailer.send(invoice_mail(21)).await.unwrap();
        mailer.flush(Duration::from_secs(20)).await.unwrap();
        assert_eq!(mailer.pending().await.unwrap(), 0);

        let mut files: Vec<_> = std::fs::read_dir(&folder)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert_eq!(files.len(), 2, "{files:?}");
        let mut subjects = Vec::new();
        for file in &files {
            assert_eq!(file.extension().and_then(|e| e.to_str()), Some("eml"));
            let raw = std::fs::read(file).unwrap();
            let parsed = MessageParser::default().parse(&raw).unwrap();
            subjects.push(parsed.subject().unwrap().to_owned());
            let n = if subjects.last().unwrap().contains("/020") {
                20
            } else {
                21
            };
            check_invoice_message(&raw, n);
        }
        subjects.sort();
        assert!(subjects[0].contains("FV/2025/020"));
        assert!(subjects[1].contains("FV/2025/021"));
        let recent = store.outbox_recent(10).await.unwrap();
        assert!(recent.iter().all(|m| {
            m.delivered_via
                .as_deref()
                .is_some_and(|p| p.ends_with(".eml") && std::path::Path::new(p).exists())
        }));
    }
}

#[tokio::test]
async fn bad_addresses_and_smtp_urls_are_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(&dir.path().join("p.db")).await.unwrap();
    let bad_url = Mailer::start(
        store.clone(),
        config(Some("ftp://mail.example".into()), dir.path()),
    )
    .await;
    assert!(
        matches!(bad_url, Err(MailError::SmtpConfig(_))),
        "{bad_url:?}"
    );
    // TLS settings are accepted (nothing is connected until a message is sent).
    for url in [
        "smtps://user:pass@mail.example",
        "smtp://mail.example:587?tls=starttls",
        "smtp://mail.example:587?tls=required",
    ] {
        Mailer::start(store.clone(), config(Some(url.into()), dir.path()))
            .await
            .unwrap();
    }
    let mailer = Mailer::start(store.clone(), config(None, dir.path()))
        .await
        .unwrap();
    let mut mail = invoice_mail(1);
    mail.to = vec!["not an address".into()];
    assert!(matches!(
        mailer.send(mail).await,
        Err(MailError::Address(_))
    ));
    assert_eq!(mailer.pending().await.unwrap(), 0);
}

#[tokio::test]
async fn an_outbox_folder_that_cannot_be_made_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(&dir.path().join("p.db")).await.unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a folder").unwrap();
    let started = Mailer::start(store, config(None, &file.join("outbox"))).await;
    assert!(
        matches!(started, Err(MailError::Outbox { .. })),
        "{started:?}"
    );
}

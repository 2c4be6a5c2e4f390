//! A minimal HTTP/1.1 client over one keep-alive TCP connection: one request at a time,
//! `Content-Length` bodies only. It does as little work per request as an HTTP client
//! can, so that on a small machine the load generator takes as little CPU as possible
//! from the server it measures, and it costs the same against every server.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long one request may take before it counts as failed.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// An answer: status and body.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Response {
    /// The body as text, shortened, for error reports.
    pub fn snippet(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let mut s: String = text.chars().take(200).collect();
        if text.chars().count() > 200 {
            s.push('…');
        }
        s
    }
}

/// One keep-alive connection to `addr`; reconnects by itself after the server closed it.
pub struct Conn {
    addr: SocketAddr,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
    req: Vec<u8>,
}

impl Conn {
    pub fn new(addr: SocketAddr) -> Self {
        Conn {
            addr,
            stream: None,
            buf: Vec::with_capacity(16 * 1024),
            req: Vec::with_capacity(4 * 1024),
        }
    }

    async fn stream(&mut self) -> io::Result<&mut TcpStream> {
        if self.stream.is_none() {
            let s = TcpStream::connect(self.addr).await?;
            s.set_nodelay(true)?;
            self.buf.clear();
            self.stream = Some(s);
        }
        Ok(self.stream.as_mut().expect("connected"))
    }

    /// Sends one request and reads its answer, within [`REQUEST_TIMEOUT`]. `bearer` is
    /// sent as `Authorization: Bearer`, in parts (a token whose shared footer is kept
    /// once); a JSON `body` with its content type.
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        bearer: &[&str],
        body: Option<&[u8]>,
    ) -> io::Result<Response> {
        match tokio::time::timeout(REQUEST_TIMEOUT, self.exchange(method, path, bearer, body)).await
        {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(e)) => {
                self.stream = None;
                Err(e)
            }
            Err(_) => {
                self.stream = None;
                Err(io::Error::new(io::ErrorKind::TimedOut, "request timed out"))
            }
        }
    }

    async fn exchange(
        &mut self,
        method: &str,
        path: &str,
        bearer: &[&str],
        body: Option<&[u8]>,
    ) -> io::Result<Response> {
        let mut req = std::mem::take(&mut self.req);
        req.clear();
        req.extend_from_slice(method.as_bytes());
        req.push(b' ');
        req.extend_from_slice(path.as_bytes());
        req.extend_from_slice(b" HTTP/1.1\r\nHost: ");
        req.extend_from_slice(self.addr.to_string().as_bytes());
        req.extend_from_slice(b"\r\n");
        if !bearer.is_empty() {
            req.extend_from_slice(b"Authorization: Bearer ");
            for part in bearer {
                req.extend_from_slice(part.as_bytes());
            }
            req.extend_from_slice(b"\r\n");
        }
        let body = body.unwrap_or_default();
        if !body.is_empty() {
            req.extend_from_slice(b"Content-Type: application/json\r\n");
        }
        req.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
        req.extend_from_slice(body);
        let result = self.send_and_read(&req).await;
        self.req = req;
        result
    }

    async fn send_and_read(&mut self, req: &[u8]) -> io::Result<Response> {
        // A kept-alive connection the server has since closed fails on write or on the
        // first read with nothing read: try once more on a new connection.
        let reused = self.stream.is_some();
        match self.try_send_and_read(req).await {
            Err(e) if reused && is_stale(&e) => {
                self.stream = None;
                self.try_send_and_read(req).await
            }
            other => other,
        }
    }

    async fn try_send_and_read(&mut self, req: &[u8]) -> io::Result<Response> {
        self.stream().await?.write_all(req).await?;
        let mut stream = self.stream.take().expect("connected");
        let result = read_response(&mut stream, &mut self.buf).await;
        if let Ok((_, keep)) = &result
            && *keep
        {
            self.stream = Some(stream);
        }
        result.map(|(resp, _)| resp)
    }
}

fn is_stale(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::UnexpectedEof
    )
}

/// Reads one answer; returns it and whether the connection may be used again.
async fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<(Response, bool)> {
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut parsed = httparse::Response::new(&mut headers);
        match parsed.parse(buf) {
            Ok(httparse::Status::Complete(head_len)) => {
                let status = parsed.code.unwrap_or(0);
                let mut length: Option<usize> = None;
                let mut keep = parsed.version == Some(1);
                for h in parsed.headers.iter() {
                    if h.name.eq_ignore_ascii_case("content-length") {
                        length = std::str::from_utf8(h.value)
                            .ok()
                            .and_then(|v| v.trim().parse().ok());
                    } else if h.name.eq_ignore_ascii_case("connection") {
                        keep = !h.value.eq_ignore_ascii_case(b"close");
                    } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                        return Err(io::Error::other("chunked answers are not supported"));
                    }
                }
                let length = match length {
                    Some(n) => n,
                    None if status == 204 || status == 304 || (100..200).contains(&status) => 0,
                    None => return Err(io::Error::other("an answer without Content-Length")),
                };
                while buf.len() < head_len + length {
                    read_more(stream, buf).await?;
                }
                let body = buf[head_len..head_len + length].to_vec();
                buf.drain(..head_len + length);
                return Ok((Response { status, body }, keep));
            }
            Ok(httparse::Status::Partial) => read_more(stream, buf).await?,
            Err(e) => return Err(io::Error::other(format!("bad HTTP answer: {e}"))),
        }
    }
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<()> {
    let start = buf.len();
    buf.resize(start + 16 * 1024, 0);
    let n = stream.read(&mut buf[start..]).await;
    let n = match n {
        Ok(n) => n,
        Err(e) => {
            buf.truncate(start);
            return Err(e);
        }
    };
    buf.truncate(start + n);
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the server closed the connection",
        ));
    }
    Ok(())
}

//! A minimal HTTP/1.x server for `/metrics` and `/healthz`: one thread, one `poll(2)` loop,
//! non-blocking sockets, no per-connection threads.
//!
//! Why hand-written (std + libc, ~250 lines) rather than a crate: the agent needs GET on two paths
//! with `Connection: close`, and hard guarantees that slow or malformed clients cannot hurt it.
//! Here every limit is explicit:
//!
//! * at most [`Limits::max_connections`] open connections; when full, the connection that has
//!   waited longest is dropped to admit the new one (a slowloris flood cannot lock scrapes out);
//! * the request head (request line + headers) must arrive within [`Limits::read_timeout`] and
//!   fit in [`Limits::max_head_bytes`] (else `431`, or the connection is closed);
//! * the response must be taken by the client within [`Limits::write_timeout`];
//! * only `GET`/`HEAD`; a body is never read; every response closes the connection.
//!
//! A scrape is answered synchronously in the loop (it takes milliseconds), so memory is bounded
//! by the connection table and one response.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// Limits of the server.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Open connections at most.
    pub max_connections: usize,
    /// Bytes of request line plus headers at most.
    pub max_head_bytes: usize,
    /// Time for a client to send its request head.
    pub read_timeout: Duration,
    /// Time for a client to take the whole response.
    pub write_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 64,
            max_head_bytes: 8192,
            read_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(10),
        }
    }
}

/// A parsed request: what the handler needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET` or `HEAD` (others are refused before the handler).
    pub method: String,
    /// Path without the query string.
    pub path: String,
    /// The `Accept` header, if any.
    pub accept: Option<String>,
}

/// A response.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Content-Type.
    pub content_type: &'static str,
    /// Body (not sent for HEAD).
    pub body: Vec<u8>,
}

impl Response {
    /// A plain-text response.
    pub fn text(status: u16, body: &str) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.as_bytes().to_vec(),
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// What was wrong with a refused request, and what to send instead.
fn error_body(status: u16, limits: Limits) -> String {
    match status {
        405 => "method not allowed: only GET and HEAD are served (try GET /metrics)\n".into(),
        431 => format!(
            "request head too large: send at most {} bytes of request line and headers\n",
            limits.max_head_bytes
        ),
        505 => "HTTP version not supported: use HTTP/1.0 or HTTP/1.1\n".into(),
        _ => "malformed request: send an HTTP/1.x request such as 'GET /metrics HTTP/1.1'\n".into(),
    }
}

fn serialize(resp: &Response, head_only: bool, extra: &str) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\n{extra}\r\n",
        resp.status,
        reason(resp.status),
        resp.content_type,
        resp.body.len()
    )
    .into_bytes();
    if !head_only {
        out.extend_from_slice(&resp.body);
    }
    out
}

/// Outcome of parsing a request head.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// Need more bytes.
    Incomplete,
    /// A request to hand to the handler.
    Ok(Request),
    /// An error to answer with this status.
    Err(u16),
}

/// Parses the request head in `buf` (bytes received so far).
pub fn parse_head(buf: &[u8], max: usize) -> Parsed {
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
        .or_else(|| buf.windows(2).position(|w| w == b"\n\n").map(|i| i + 2));
    let Some(end) = end else {
        return if buf.len() >= max {
            Parsed::Err(431)
        } else {
            Parsed::Incomplete
        };
    };
    if end > max {
        return Parsed::Err(431);
    }
    let Ok(head) = std::str::from_utf8(&buf[..end]) else {
        return Parsed::Err(400);
    };
    let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let line = lines.next().unwrap_or("");
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Parsed::Err(400);
    };
    if !version.starts_with("HTTP/1.") {
        return Parsed::Err(if version.starts_with("HTTP/") {
            505
        } else {
            400
        });
    }
    if method.is_empty() || !method.bytes().all(|c| c.is_ascii_uppercase()) {
        return Parsed::Err(400);
    }
    if !target.starts_with('/') {
        return Parsed::Err(400);
    }
    let mut accept = None;
    for l in lines {
        if l.is_empty() {
            break;
        }
        let Some((k, v)) = l.split_once(':') else {
            return Parsed::Err(400);
        };
        if k.is_empty() || k.bytes().any(|c| c.is_ascii_whitespace()) {
            return Parsed::Err(400);
        }
        if k.eq_ignore_ascii_case("accept") {
            let v = v.trim();
            accept = Some(match accept {
                Some(prev) => format!("{prev},{v}"),
                None => v.to_string(),
            });
        }
    }
    if method != "GET" && method != "HEAD" {
        return Parsed::Err(405);
    }
    let path = target.split(['?', '#']).next().unwrap_or("/").to_string();
    Parsed::Ok(Request {
        method: method.to_string(),
        path,
        accept,
    })
}

enum State {
    Reading(Vec<u8>),
    Writing(Vec<u8>, usize),
}

struct Conn {
    stream: TcpStream,
    state: State,
    deadline: Instant,
    opened: Instant,
}

/// Counters of what the server did, for tests and logs.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    /// Connections accepted.
    pub accepted: u64,
    /// Connections dropped to make room.
    pub evicted: u64,
    /// Connections closed for exceeding a timeout.
    pub timed_out: u64,
    /// Requests answered (any status).
    pub answered: u64,
}

/// Serves on `listener` until `stop()` returns true, answering requests with `handler`.
pub fn serve(
    listener: TcpListener,
    limits: Limits,
    mut handler: impl FnMut(&Request) -> Response,
    stop: impl Fn() -> bool,
) -> io::Result<Stats> {
    listener.set_nonblocking(true)?;
    let mut conns: Vec<Conn> = Vec::new();
    let mut stats = Stats::default();
    let mut pfds: Vec<libc::pollfd> = Vec::new();
    while !stop() {
        let now = Instant::now();
        let timeout = conns
            .iter()
            .map(|c| c.deadline.saturating_duration_since(now))
            .min()
            .unwrap_or(Duration::from_millis(500))
            .min(Duration::from_millis(500));
        pfds.clear();
        pfds.push(libc::pollfd {
            fd: listener.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        });
        for c in &conns {
            pfds.push(libc::pollfd {
                fd: c.stream.as_raw_fd(),
                events: match c.state {
                    State::Reading(_) => libc::POLLIN,
                    State::Writing(..) => libc::POLLOUT,
                },
                revents: 0,
            });
        }
        // SAFETY: pfds is a valid array of pollfd of the given length.
        let n = unsafe {
            libc::poll(
                pfds.as_mut_ptr(),
                pfds.len() as libc::nfds_t,
                timeout.as_millis().min(500) as libc::c_int + 1,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        // Existing connections first (indexes match pfds[1..]).
        let mut closed = vec![false; conns.len()];
        for (i, c) in conns.iter_mut().enumerate() {
            let rev = pfds[i + 1].revents;
            if rev == 0 {
                continue;
            }
            closed[i] = !step(c, limits, &mut handler, &mut stats);
        }
        let now = Instant::now();
        let mut i = 0;
        conns.retain(|c| {
            let keep = !closed[i] && c.deadline > now;
            if !closed[i] && c.deadline <= now {
                stats.timed_out += 1;
                if let State::Reading(_) = c.state {
                    // Best effort; the socket is non-blocking and closed right after.
                    let _ = (&c.stream).write(&serialize(
                        &Response::text(
                            408,
                            "request timeout: send the whole request head at once\n",
                        ),
                        false,
                        "",
                    ));
                }
            }
            i += 1;
            keep
        });
        if pfds[0].revents != 0 {
            loop {
                match listener.accept() {
                    Ok((stream, _)) => {
                        if stream.set_nonblocking(true).is_err() {
                            continue;
                        }
                        let _ = stream.set_nodelay(true);
                        stats.accepted += 1;
                        if conns.len() >= limits.max_connections.max(1) {
                            // Drop the connection that has been open longest.
                            if let Some((j, _)) =
                                conns.iter().enumerate().min_by_key(|(_, c)| c.opened)
                            {
                                conns.swap_remove(j);
                                stats.evicted += 1;
                            }
                        }
                        let now = Instant::now();
                        conns.push(Conn {
                            stream,
                            state: State::Reading(Vec::with_capacity(1024)),
                            deadline: now + limits.read_timeout,
                            opened: now,
                        });
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    // ECONNABORTED, EMFILE...: keep serving; poll will report again.
                    Err(_) => break,
                }
            }
        }
    }
    Ok(stats)
}

/// Advances one connection; false when it is finished and must be closed.
fn step(
    c: &mut Conn,
    limits: Limits,
    handler: &mut impl FnMut(&Request) -> Response,
    stats: &mut Stats,
) -> bool {
    match &mut c.state {
        State::Reading(buf) => {
            let mut chunk = [0u8; 4096];
            loop {
                let room = limits.max_head_bytes + 1 - buf.len().min(limits.max_head_bytes);
                match c.stream.read(&mut chunk[..room.min(4096)]) {
                    Ok(0) => return false,
                    Ok(n) => {
                        buf.extend_from_slice(&chunk[..n]);
                        if buf.len() > limits.max_head_bytes {
                            break;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => return false,
                }
            }
            let (resp, head_only) = match parse_head(buf, limits.max_head_bytes) {
                Parsed::Incomplete => return true,
                Parsed::Err(status) => (Response::text(status, &error_body(status, limits)), false),
                Parsed::Ok(req) => (handler(&req), req.method == "HEAD"),
            };
            stats.answered += 1;
            let extra = if resp.status == 405 {
                "Allow: GET, HEAD\r\n"
            } else {
                ""
            };
            let out = serialize(&resp, head_only, extra);
            c.state = State::Writing(out, 0);
            c.deadline = Instant::now() + limits.write_timeout;
            // Try to write at once: most responses fit in the socket buffer.
            step(c, limits, handler, stats)
        }
        State::Writing(out, pos) => {
            while *pos < out.len() {
                match c.stream.write(&out[*pos..]) {
                    Ok(0) => return false,
                    Ok(n) => *pos += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => return false,
                }
            }
            let _ = c.stream.shutdown(std::net::Shutdown::Write);
            false
        }
    }
}

/// Binds `addr` with `SO_REUSEADDR` (std's default on Unix).
pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    TcpListener::bind(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads() {
        let ok = |s: &str| match parse_head(s.as_bytes(), 8192) {
            Parsed::Ok(r) => r,
            other => panic!("{s:?}: {other:?}"),
        };
        let r = ok(
            "GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nAccept: application/openmetrics-text\r\n\r\n",
        );
        assert_eq!(r.path, "/metrics");
        assert_eq!(r.accept.as_deref(), Some("application/openmetrics-text"));
        assert_eq!(ok("HEAD / HTTP/1.0\n\n").method, "HEAD");
        assert_eq!(
            parse_head(b"GET /metrics HTTP/1.1\r\nHost: a\r\n", 8192),
            Parsed::Incomplete
        );
        assert_eq!(
            parse_head(b"POST / HTTP/1.1\r\n\r\n", 8192),
            Parsed::Err(405)
        );
        assert_eq!(
            parse_head(b"\x16\x03\x01\x02\x00\r\n\r\n", 8192),
            Parsed::Err(400)
        );
        assert_eq!(parse_head(b"GET /\r\n\r\n", 8192), Parsed::Err(400));
        assert_eq!(
            parse_head(b"GET / HTTP/2.0\r\n\r\n", 8192),
            Parsed::Err(505)
        );
        assert_eq!(
            parse_head(b"GET / HTTP/1.1\r\nno colon\r\n\r\n", 8192),
            Parsed::Err(400)
        );
        assert_eq!(parse_head(&[b'a'; 100], 64), Parsed::Err(431));
        let big = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(100));
        assert_eq!(parse_head(big.as_bytes(), 64), Parsed::Err(431));
    }
}

//! `zombies serve` over real TCP: each kind of invalid request head gets its exact status, a head
//! cut short by the client gets `400`, an incomplete head is closed after the read timeout with
//! `408`, and a storm of random-byte requests is answered, every one, with an HTTP status.

mod serve_support;
use serve_support::{parse_response, Agent};

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Sends `req` (then half-closes when `close` is set) and returns the raw answer.
fn exchange(addr: SocketAddr, req: &[u8], close: bool) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    // The server may answer and close before all of a large request is written.
    let _ = s.write_all(req);
    if close {
        let _ = s.shutdown(Shutdown::Write);
    }
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    raw
}

fn status_of(addr: SocketAddr, req: &[u8]) -> u16 {
    let raw = exchange(addr, req, false);
    assert!(
        !raw.is_empty(),
        "no answer to {:?}",
        String::from_utf8_lossy(req)
    );
    parse_response(&raw).status
}

#[test]
fn malformed_request_is_400() {
    let a = Agent::start(&[]);
    assert_eq!(status_of(a.addr, b"GET /metrics\r\n\r\n"), 400);
    assert_eq!(
        status_of(a.addr, b"GET / HTTP/1.1\r\nno colon\r\n\r\n"),
        400
    );
    // Refused at the first bytes that cannot start a request, without waiting for a blank line.
    let raw = exchange(a.addr, b"\x16\x03\x01\x00\xa5\x01\x00", false);
    let r = parse_response(&raw);
    assert_eq!(r.status, 400);
    assert!(r.body.contains("malformed request"), "{}", r.body);
}

#[test]
fn cut_short_head_is_400() {
    let a = Agent::start(&[]);
    let raw = exchange(a.addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\n", true);
    let r = parse_response(&raw);
    assert_eq!(r.status, 400);
    assert!(r.body.contains("incomplete request head"), "{}", r.body);
}

#[test]
fn other_method_is_405_with_allow() {
    let a = Agent::start(&[]);
    let raw = exchange(a.addr, b"DELETE /metrics HTTP/1.1\r\n\r\n", false);
    let r = parse_response(&raw);
    assert_eq!(r.status, 405);
    assert_eq!(r.header("Allow"), Some("GET, HEAD"));
}

#[test]
fn long_target_is_414() {
    let a = Agent::start(&[]);
    let req = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(3000));
    assert_eq!(status_of(a.addr, req.as_bytes()), 414);
    // Known as soon as the target passes the limit, before the line ends.
    let req = format!("GET /{}", "a".repeat(3000));
    assert_eq!(status_of(a.addr, req.as_bytes()), 414);
}

#[test]
fn large_head_is_431() {
    let a = Agent::start(&[]);
    let req = format!("GET / HTTP/1.1\r\nX-Big: {}\r\n\r\n", "a".repeat(9000));
    assert_eq!(status_of(a.addr, req.as_bytes()), 431);
    let many: String = (0..100).map(|i| format!("X-{i}: v\r\n")).collect();
    let req = format!("GET / HTTP/1.1\r\n{many}\r\n");
    assert_eq!(status_of(a.addr, req.as_bytes()), 431);
}

#[test]
fn other_version_is_505() {
    let a = Agent::start(&[]);
    assert_eq!(status_of(a.addr, b"GET /metrics HTTP/2.0\r\n\r\n"), 505);
    assert_eq!(status_of(a.addr, b"GET /metrics HTTP/9.9\r\n\r\n"), 505);
}

#[test]
fn incomplete_head_is_closed_after_the_read_timeout() {
    let a = Agent::start(&["--read-timeout", "1"]);
    let started = Instant::now();
    let mut s = TcpStream::connect(a.addr).unwrap();
    // Only bounds a server that never closes.
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)
        .expect("the agent closes an incomplete head after its read timeout");
    let took = started.elapsed();
    assert_eq!(parse_response(&raw).status, 408);
    // Not before the documented timeout (load can only make it later).
    assert!(took >= Duration::from_millis(1000), "closed after {took:?}");
    assert_eq!(a.get("/healthz", None).status, 200);
}

#[test]
fn every_random_byte_request_gets_an_http_status() {
    let a = Agent::start(&[]);
    // xorshift64*, fixed seed: the same 300 requests on every run.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    let mut by_status = std::collections::BTreeMap::new();
    for i in 0..300 {
        let len = 1 + (next() % 300) as usize;
        let mut req: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        // A third start like a request, so the parser gets past the first bytes.
        if i % 3 == 0 {
            let mut r = b"GET /".to_vec();
            r.append(&mut req);
            req = r;
        }
        let raw = exchange(a.addr, &req, true);
        assert!(
            !raw.is_empty(),
            "request {i} ({req:?}) got no answer at all"
        );
        let st = parse_response(&raw).status;
        assert!(
            matches!(st, 200 | 404 | 400 | 405 | 414 | 431 | 505),
            "request {i}: status {st}"
        );
        *by_status.entry(st).or_insert(0u32) += 1;
    }
    eprintln!("random requests by status: {by_status:?}");
    assert_eq!(a.get("/healthz", None).status, 200);
}

//! Path, Host and framing attacks against delegated prefixes, table-driven, with raw bytes on
//! the wire. The configuration is translated from real resources: ops' VirtualService
//! `gloo-system.app` (`app.example`) delegates `/echo` to the echo team's RouteTable and
//! `/foxtrot` to foxtrot's; `gloo-system.admin` serves `admin.example`. Each upstream logs
//! what it received, so every forwarded row says which upstream got which path and Host.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use common::*;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use lockgate_api::{Document, Snapshot};
use lockgate_compiled::CompiledConfig;
use lockgate_proxy::{EscapedSlashes, Limits};
use lockgate_translate::{PolicyState, translate};

/// What an upstream received: `upstream path host`, one line per complete request.
type Log = Arc<Mutex<Vec<String>>>;

async fn logging_upstream(name: &'static str, log: Log) -> SocketAddr {
    backend(move |req: Request<Incoming>| {
        let log = log.clone();
        async move {
            let path = req.uri().to_string();
            let host = req
                .headers()
                .get_all("host")
                .iter()
                .map(|h| h.to_str().unwrap_or("?").to_string())
                .collect::<Vec<_>>()
                .join(",");
            // Logged only once the whole body arrived: a request cut short never counts.
            if req.into_body().collect().await.is_err() {
                return full(StatusCode::BAD_REQUEST, "incomplete body");
            }
            log.lock().unwrap().push(format!("{name} {path} {host}"));
            full(StatusCode::OK, format!("{name} {path}"))
        }
    })
    .await
}

fn resources(echo: SocketAddr, foxtrot: SocketAddr, admin: SocketAddr) -> String {
    let upstream = |name: &str, addr: SocketAddr| {
        format!(
            "apiVersion: gloo.solo.io/v1\nkind: Upstream\nmetadata: {{name: {name}, namespace: gloo-system}}\nspec: {{static: {{hosts: [{{addr: '{}', port: {}}}]}}}}\n---\n",
            addr.ip(),
            addr.port()
        )
    };
    let table = |team: &str| {
        format!(
            "apiVersion: gateway.solo.io/v1\nkind: RouteTable\nmetadata: {{name: {team}-routes, namespace: {team}}}\nspec:\n  routes:\n    - matchers: [{{prefix: /{team}}}]\n      routeAction: {{single: {{upstream: {{name: {team}, namespace: gloo-system}}}}}}\n---\n"
        )
    };
    format!(
        "{}{}{}{}{}{}",
        upstream("echo", echo),
        upstream("foxtrot", foxtrot),
        upstream("admin", admin),
        table("echo"),
        table("foxtrot"),
        r#"apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {name: app, namespace: gloo-system}
spec:
  virtualHost:
    domains: [app.example]
    routes:
      - matchers: [{prefix: /echo}]
        delegateAction: {selector: {namespaces: [echo]}}
      - matchers: [{prefix: /foxtrot}]
        delegateAction: {selector: {namespaces: [foxtrot]}}
---
apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {name: admin, namespace: gloo-system}
spec:
  virtualHost:
    domains: [admin.example]
    routes:
      - matchers: [{prefix: /}]
        routeAction: {single: {upstream: {name: admin, namespace: gloo-system}}}
"#
    )
}

fn compile(yaml: &str) -> CompiledConfig {
    let mut snapshot = Snapshot::default();
    for doc in lockgate_api::decode_documents(yaml) {
        match doc.unwrap_or_else(|e| panic!("{e}")) {
            Document::Resource(r) => snapshot.insert(r),
            Document::Skipped(s) => panic!("{s}"),
        }
    }
    let outcome = translate(&snapshot, &PolicyState::default());
    assert_eq!(outcome.config.route_count(), 3, "{:?}", outcome.reports);
    (*outcome.config).clone()
}

struct Site {
    gateway: Gateway,
    log: Log,
}

async fn site(escaped_slashes: EscapedSlashes) -> Site {
    let log = Log::default();
    let echo = logging_upstream("echo", log.clone()).await;
    let foxtrot = logging_upstream("foxtrot", log.clone()).await;
    let admin = logging_upstream("admin", log.clone()).await;
    let config = compile(&resources(echo, foxtrot, admin));
    let gateway = Gateway::start_with(config, Limits::default(), escaped_slashes).await;
    Site { gateway, log }
}

impl Site {
    fn take_log(&self) -> Vec<String> {
        std::mem::take(&mut *self.log.lock().unwrap())
    }
}

/// `GET target` with these header lines, closing after the response.
fn get_raw(target: &str, headers: &str) -> Vec<u8> {
    format!("GET {target} HTTP/1.1\r\n{headers}Connection: close\r\n\r\n").into_bytes()
}

const APP: &str = "Host: app.example\r\n";

/// (what, request bytes, status, what the upstreams logged).
type Row = (&'static str, Vec<u8>, u16, Vec<&'static str>);

fn path_rows() -> Vec<Row> {
    let get = |target: &str| get_raw(target, APP);
    vec![
        (
            "plain",
            get("/echo/x"),
            200,
            vec!["echo /echo/x app.example"],
        ),
        (
            "dot segments",
            get("/foxtrot/../echo"),
            200,
            vec!["echo /echo app.example"],
        ),
        (
            "dots out of echo",
            get("/echo/../foxtrot/x"),
            200,
            vec!["foxtrot /foxtrot/x app.example"],
        ),
        (
            "%2e%2e",
            get("/foxtrot/%2e%2e/echo"),
            200,
            vec!["echo /echo app.example"],
        ),
        (
            "%2E.",
            get("/foxtrot/%2E./echo"),
            200,
            vec!["echo /echo app.example"],
        ),
        (
            ".%2e",
            get("/foxtrot/.%2e/echo"),
            200,
            vec!["echo /echo app.example"],
        ),
        (
            "above the root",
            get("/../../echo"),
            200,
            vec!["echo /echo app.example"],
        ),
        (
            "double slash",
            get("//echo"),
            200,
            vec!["echo /echo app.example"],
        ),
        (
            "escaped prefix letter",
            get("/%65cho/x"),
            200,
            vec!["echo /echo/x app.example"],
        ),
        (
            "overlong dots are data",
            get("/foxtrot/%c0%ae%c0%ae/echo"),
            200,
            vec!["foxtrot /foxtrot/%C0%AE%C0%AE/echo app.example"],
        ),
        (
            "double-escaped dots are data",
            get("/foxtrot/%252e%252e/echo"),
            200,
            vec!["foxtrot /foxtrot/%252e%252e/echo app.example"],
        ),
        ("%2F", get("/foxtrot%2F..%2Fecho"), 400, vec![]),
        ("%2f", get("/foxtrot/%2e%2e%2fecho"), 400, vec![]),
        ("%5C", get("/foxtrot%5C..%5Cecho"), 400, vec![]),
        ("backslash", get("/foxtrot\\..\\echo"), 400, vec![]),
        ("leading %2F", get("/%2Fecho"), 400, vec![]),
        ("case of the prefix", get("/ECHO"), 404, vec![]),
        ("invalid escape", get("/echo/%zz"), 400, vec![]),
    ]
}

fn host_rows() -> Vec<Row> {
    vec![
        (
            "absolute-form wins over Host",
            get_raw("http://admin.example/x", APP),
            200,
            vec!["admin /x admin.example"],
        ),
        (
            "absolute-form to a delegated prefix",
            get_raw("http://app.example/echo", "Host: admin.example\r\n"),
            200,
            vec!["echo /echo app.example"],
        ),
        (
            "absolute-form is normalised too",
            get_raw("http://app.example/foxtrot/%2e%2e/echo", "Host: x\r\n"),
            200,
            vec!["echo /echo app.example"],
        ),
        (
            "absolute-form with user information",
            get_raw("http://app.example@admin.example/", APP),
            400,
            vec![],
        ),
        (
            "two Host headers",
            get_raw("/echo", "Host: app.example\r\nHost: admin.example\r\n"),
            400,
            vec![],
        ),
        ("no Host", get_raw("/echo", ""), 400, vec![]),
        (
            "no Host, absolute-form",
            get_raw("http://app.example/echo", ""),
            400,
            vec![],
        ),
        (
            "Host a b",
            get_raw("/echo", "Host: app.example admin.example\r\n"),
            400,
            vec![],
        ),
        (
            "Host a@b",
            get_raw("/echo", "Host: app.example@admin.example\r\n"),
            400,
            vec![],
        ),
        (
            "Host a/../b",
            get_raw("/echo", "Host: admin.example/../app.example\r\n"),
            400,
            vec![],
        ),
        ("empty Host", get_raw("/echo", "Host: \r\n"), 400, vec![]),
        (
            "bad port",
            get_raw("/echo", "Host: app.example:99999\r\n"),
            400,
            vec![],
        ),
        (
            "non-numeric port",
            get_raw("/echo", "Host: app.example:8o\r\n"),
            400,
            vec![],
        ),
        (
            "control character",
            get_raw("/echo", "Host: app\x01.example\r\n"),
            400,
            vec![],
        ),
        (
            "tab",
            get_raw("/echo", "Host: app\t.example\r\n"),
            400,
            vec![],
        ),
        (
            "escape in Host",
            get_raw("/echo", "Host: app%2Eexample\r\n"),
            400,
            vec![],
        ),
        (
            "HTTP/1.0 without Host reaches no named domain",
            b"GET /echo HTTP/1.0\r\n\r\n".to_vec(),
            404,
            vec![],
        ),
        (
            "a port is allowed",
            get_raw("/echo", "Host: app.example:80\r\n"),
            200,
            vec!["echo /echo app.example:80"],
        ),
    ]
}

fn framing_rows() -> Vec<Row> {
    let smuggled = "GET /foxtrot/smuggled HTTP/1.1\r\nHost: app.example\r\n\r\n";
    vec![
        (
            // hyper reads the chunked encoding alone, drops Content-Length and closes the
            // connection after the response: the request behind it is never read.
            "Content-Length and Transfer-Encoding",
            format!(
                "POST /echo/x HTTP/1.1\r\n{APP}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{smuggled}"
            )
            .into_bytes(),
            200,
            vec!["echo /echo/x app.example"],
        ),
        (
            "Transfer-Encoding and Content-Length",
            format!(
                "POST /echo/x HTTP/1.1\r\n{APP}Transfer-Encoding: chunked\r\nContent-Length: 60\r\n\r\n0\r\n\r\n{smuggled}"
            )
            .into_bytes(),
            200,
            vec!["echo /echo/x app.example"],
        ),
        (
            "two different Content-Lengths",
            format!("POST /echo/x HTTP/1.1\r\n{APP}Content-Length: 1\r\nContent-Length: 2\r\n\r\nab")
                .into_bytes(),
            400,
            vec![],
        ),
        (
            "a transfer coding other than chunked",
            format!("POST /echo/x HTTP/1.1\r\n{APP}Transfer-Encoding: gzip\r\n\r\n").into_bytes(),
            400,
            vec![],
        ),
        (
            "malformed chunk size",
            format!("POST /echo/x HTTP/1.1\r\n{APP}Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n")
                .into_bytes(),
            400,
            vec![],
        ),
        (
            "overflowing chunk size",
            format!(
                "POST /echo/x HTTP/1.1\r\n{APP}Transfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\nx\r\n"
            )
            .into_bytes(),
            400,
            vec![],
        ),
        (
            "a well-formed chunked body",
            format!(
                "POST /echo/x HTTP/1.1\r\n{APP}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
            )
            .into_bytes(),
            200,
            vec!["echo /echo/x app.example"],
        ),
        (
            "a request head over 60 KiB",
            get_raw("/echo", &format!("{APP}X-Big: {}\r\n", "a".repeat(61 * 1024))),
            431,
            vec![],
        ),
        (
            "a request head beyond hyper's buffer",
            get_raw("/echo", &format!("{APP}X-Big: {}\r\n", "a".repeat(300 * 1024))),
            431,
            vec![],
        ),
        (
            "a request head under 60 KiB",
            get_raw("/echo", &format!("{APP}X-Big: {}\r\n", "a".repeat(50 * 1024))),
            200,
            vec!["echo /echo app.example"],
        ),
    ]
}

async fn run_rows(site: &Site, rows: Vec<Row>) {
    let mut failures = Vec::new();
    for (what, request, status, logged) in rows {
        let response = raw(site.gateway.addr, &request).await;
        let got = (status_of(&response), site.take_log());
        let want = (status, logged.iter().map(|s| s.to_string()).collect());
        if got != want {
            failures.push(format!("{what}: got {got:?}, want {want:?}\n{response}"));
        }
        if status == 200 && response.matches("HTTP/1.1 ").count() != 1 {
            failures.push(format!("{what}: more than one response\n{response}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn path_attacks() {
    run_rows(&site(EscapedSlashes::Reject).await, path_rows()).await;
}

#[tokio::test]
async fn host_attacks() {
    run_rows(&site(EscapedSlashes::Reject).await, host_rows()).await;
}

#[tokio::test]
async fn framing_attacks() {
    run_rows(&site(EscapedSlashes::Reject).await, framing_rows()).await;
}

#[tokio::test]
async fn escaped_slashes_can_be_kept_or_unescaped_and_the_upstream_gets_what_matched() {
    let keep = site(EscapedSlashes::Keep).await;
    run_rows(
        &keep,
        vec![
            (
                "%2F kept: data inside the foxtrot prefix",
                get_raw("/foxtrot%2F..%2Fecho", APP),
                200,
                vec!["foxtrot /foxtrot%2F..%2Fecho app.example"],
            ),
            (
                "%5c kept",
                get_raw("/foxtrot%5c..%5cecho", APP),
                200,
                vec!["foxtrot /foxtrot%5C..%5Cecho app.example"],
            ),
        ],
    )
    .await;
    let unescape = site(EscapedSlashes::Unescape).await;
    run_rows(
        &unescape,
        vec![
            (
                "%2F unescaped, then dot segments",
                get_raw("/foxtrot%2F..%2Fecho", APP),
                200,
                vec!["echo /echo app.example"],
            ),
            (
                "%5C unescaped",
                get_raw("/foxtrot%5C..%5Cecho/x", APP),
                200,
                vec!["echo /echo/x app.example"],
            ),
            (
                "%2f inside a prefix",
                get_raw("/echo%2fx", APP),
                200,
                vec!["echo /echo/x app.example"],
            ),
        ],
    )
    .await;
}

/// (what, URI with the `:authority`, `host` headers, status, what the upstreams logged).
type H2Row = (
    &'static str,
    &'static str,
    &'static [&'static str],
    u16,
    &'static [&'static str],
);

/// An h2c request with `:authority` from `uri` and these `host` headers.
async fn h2(addr: SocketAddr, uri: &str, hosts: &[&str]) -> u16 {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    let mut request = Request::get(uri);
    for host in hosts {
        request = request.header("host", *host);
    }
    let request = request.body(Empty::<Bytes>::new()).unwrap();
    let response = sender.send_request(request).await.unwrap();
    response.status().as_u16()
}

#[tokio::test]
async fn h2_authority_games() {
    let site = site(EscapedSlashes::Reject).await;
    let addr = site.gateway.addr;
    let rows: &[H2Row] = &[
        (
            "authority alone",
            "http://app.example/echo",
            &[],
            200,
            &["echo /echo app.example"],
        ),
        (
            "authority and an equal host",
            "http://app.example/echo",
            &["APP.example"],
            200,
            &["echo /echo app.example"],
        ),
        (
            "authority routes",
            "http://admin.example/x",
            &[],
            200,
            &["admin /x admin.example"],
        ),
        (
            "host disagrees",
            "http://app.example/echo",
            &["admin.example"],
            400,
            &[],
        ),
        (
            "host disagrees the other way",
            "http://admin.example/x",
            &["app.example"],
            400,
            &[],
        ),
        (
            "two hosts",
            "http://app.example/echo",
            &["app.example", "app.example"],
            400,
            &[],
        ),
        (
            "invalid host",
            "http://app.example/echo",
            &["app.example/../x"],
            400,
            &[],
        ),
        (
            "authority with a port",
            "http://app.example:8080/echo",
            &[],
            200,
            &["echo /echo app.example:8080"],
        ),
        (
            "dot segments",
            "http://app.example/foxtrot/%2e%2e/echo",
            &[],
            200,
            &["echo /echo app.example"],
        ),
        (
            "escaped slash",
            "http://app.example/foxtrot%2f..%2fecho",
            &[],
            400,
            &[],
        ),
    ];
    let mut failures = Vec::new();
    for (what, uri, hosts, status, logged) in rows {
        let got = (h2(addr, uri, hosts).await, site.take_log());
        let want = (
            *status,
            logged.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        );
        if got != want {
            failures.push(format!("{what}: got {got:?}, want {want:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

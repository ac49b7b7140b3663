//! A tiny HTTP server answering a fixed text, in the manner of `hashicorp/http-echo`.
//!
//! The seed scenario deploys `http-echo -text=version:echo-v1` behind the gateway; lockgate runs
//! without Kubernetes, so `lockgate echo` stands in for it, and tests use it as a real backend.
//! Like http-echo it answers every request with `200` and the text followed by a newline, and
//! `GET /health` with `{"status":"ok"}`. It speaks HTTP/1.1 with keep-alive and h2c (prior
//! knowledge), so it can sit behind any proxy configuration.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! println!("listening on {}", listener.local_addr()?);
//! lockgate_echo::serve(listener, "version:echo-v1".to_string()).await
//! # }
//! ```

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Method, Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

/// Answers every request on `listener` with `200` and `text` followed by `"\n"`, until the task
/// is dropped. Errors of single connections are logged and never stop the server, nor do accept
/// errors (running out of file descriptors passes; the server backs off and accepts again).
pub async fn serve(listener: TcpListener, text: String) -> std::io::Result<()> {
    let body = Bytes::from(format!("{text}\n"));
    let answers = Arc::new(Answers { body });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new());
    builder.http2().timer(TokioTimer::new());
    let builder = Arc::new(builder);
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) if is_per_connection(&error) => {
                tracing::debug!(%error, "accept failed");
                continue;
            }
            Err(error) => {
                // Out of file descriptors or memory: back off instead of spinning; it passes.
                tracing::warn!(%error, "accept failed, backing off");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let answers = answers.clone();
        let builder = builder.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let answer = answers.answer(&req);
                async move { Ok::<_, Infallible>(answer) }
            });
            if let Err(error) = builder
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%peer, %error, "echo connection ended with an error");
            }
        });
    }
}

struct Answers {
    body: Bytes,
}

impl Answers {
    fn answer(&self, req: &Request<Incoming>) -> Response<Full<Bytes>> {
        if req.method() == Method::GET && req.uri().path() == "/health" {
            let mut response =
                Response::new(Full::new(Bytes::from_static(b"{\"status\":\"ok\"}\n")));
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            return response;
        }
        let mut response = Response::new(Full::new(self.body.clone()));
        response.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        response
    }
}

fn is_per_connection(error: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        error.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted | WouldBlock
    )
}

#[cfg(test)]
mod tests;

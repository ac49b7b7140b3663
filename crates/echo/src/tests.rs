use super::*;

use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;

async fn start(text: &str) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(listener, text.to_string()));
    addr
}

async fn get(
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, Empty<Bytes>>,
    url: String,
) -> (u16, http::Version, String) {
    let response = client.get(url.parse().unwrap()).await.unwrap();
    let status = response.status().as_u16();
    let version = response.version();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, version, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn answers_text_and_newline_on_any_path_over_keep_alive() {
    let addr = start("version:echo-v1").await;
    let client = Client::builder(TokioExecutor::new()).build_http();
    for path in ["/", "/echo", "/foxtrot/x?y=1"] {
        let (status, _, body) = get(&client, format!("http://{addr}{path}")).await;
        assert_eq!((status, body.as_str()), (200, "version:echo-v1\n"));
    }
}

#[tokio::test]
async fn answers_health_like_http_echo() {
    let addr = start("t").await;
    let client = Client::builder(TokioExecutor::new()).build_http();
    let (status, _, body) = get(&client, format!("http://{addr}/health")).await;
    assert_eq!((status, body.as_str()), (200, "{\"status\":\"ok\"}\n"));
}

#[tokio::test]
async fn speaks_h2c_with_prior_knowledge() {
    let addr = start("over h2").await;
    let client = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http();
    let (status, version, body) = get(&client, format!("http://{addr}/")).await;
    assert_eq!(
        (status, version, body.as_str()),
        (200, http::Version::HTTP_2, "over h2\n")
    );
}

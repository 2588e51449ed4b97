//! `https://` and `wss://`: `tether` reaches the real relay through a TLS
//! front (a test proxy with a self-signed certificate). Without
//! `--insecure-skip-tls-verify` the certificate is refused with a clear
//! message; with it, the session streams as usual.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::sync::Arc;
use tests::relay::RelayProcess;
use tests::test_cert::{CERT_PEM, KEY_PEM};
use tests::wait::DEADLINE;
use tests::wrapper::TetherCommand;

/// Terminates TLS on an ephemeral loopback port and forwards each
/// connection to `backend` (the relay), both ways.
async fn tls_front(backend: std::net::SocketAddr) -> std::net::SocketAddr {
    let cert = CertificateDer::from_pem_slice(CERT_PEM.as_bytes()).expect("test certificate");
    let key = PrivateKeyDer::from_pem_slice(KEY_PEM.as_bytes()).expect("test key");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut plain) = tokio::net::TcpStream::connect(backend).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_and_wss_work_with_the_explicit_opt_in() {
    let relay = RelayProcess::start();
    let front = tls_front(relay.addr()).await;
    let key = relay.api_key();
    let home = tempfile::tempdir().unwrap();
    // The API URL alone: the relay URL is derived as wss://localhost:PORT/agent.
    let api_url = format!("https://localhost:{}", front.port());

    let mut refused = TetherCommand::new(home.path())
        .env("TETHER_API_URL", &api_url)
        .env("TETHER_API_KEY", &key)
        .args(["--command", "true"])
        .null_stdin()
        .spawn();
    assert_eq!(refused.wait(DEADLINE).code(), Some(2));
    let err = refused.stderr.text();
    assert!(err.contains("--insecure-skip-tls-verify"), "{err}");

    let mut tether = TetherCommand::new(home.path())
        .env("TETHER_API_URL", &api_url)
        .env("TETHER_API_KEY", &key)
        .args(["--insecure-skip-tls-verify", "--command", "sh", "--", "-c"])
        .args(["stty -echo; echo over-tls; read x"])
        .spawn();
    let id = tether.session_id(DEADLINE);
    let text = tether.stderr.text();
    assert!(text.contains(&format!("{api_url}/s/{id}")), "{text}");

    // The viewer reads the relay directly: the bytes went through wss.
    let mut viewer = relay.connect_viewer(&id, &key, None).await;
    let join = viewer.read_history().await;
    viewer.wait_for_output(&join, b"over-tls").await;
    tether.write_stdin(b"\n");
    assert_eq!(tether.wait(DEADLINE).code(), Some(0));
    let err = tether.stderr.text();
    assert!(!err.contains("relay link"), "the link stayed up: {err}");
}

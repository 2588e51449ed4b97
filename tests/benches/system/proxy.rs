//! [`CountingProxy`]: a TCP forwarder in front of the relay that counts the
//! bytes it carries towards the browser — page, assets, WebSocket, headers
//! included: what a phone receives over the wire.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// Forwards every connection to `upstream`, counting the bytes sent back.
pub(crate) struct CountingProxy {
    addr: SocketAddr,
    down: Arc<AtomicU64>,
    accept: tokio::task::JoinHandle<()>,
}

impl CountingProxy {
    /// Listens on a fresh loopback port (a new origin: the browser's first
    /// visit) and forwards to `upstream`.
    pub(crate) async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy port");
        let addr = listener.local_addr().expect("proxy address");
        let down = Arc::new(AtomicU64::new(0));
        let counter = down.clone();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let counter = counter.clone();
                tokio::spawn(async move {
                    if let Ok(relay) = TcpStream::connect(upstream).await {
                        forward(client, relay, counter).await;
                    }
                });
            }
        });
        Self { addr, down, accept }
    }

    /// `http://127.0.0.1:PORT`
    pub(crate) fn http_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Bytes sent towards the browser so far.
    pub(crate) fn bytes_down(&self) -> u64 {
        self.down.load(Ordering::Relaxed)
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn forward(client: TcpStream, relay: TcpStream, down: Arc<AtomicU64>) {
    let _ = client.set_nodelay(true);
    let _ = relay.set_nodelay(true);
    let (mut client_read, mut client_write) = client.into_split();
    let (mut relay_read, mut relay_write) = relay.into_split();
    let up = async move {
        let _ = tokio::io::copy(&mut client_read, &mut relay_write).await;
        let _ = relay_write.shutdown().await;
    };
    let back = async move {
        let mut buf = vec![0u8; 64 << 10];
        loop {
            match relay_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    down.fetch_add(n as u64, Ordering::Relaxed);
                    if client_write.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            }
        }
        let _ = client_write.shutdown().await;
    };
    tokio::join!(up, back);
}

//! The same server started in-process (as `main.rs` does), for tests that
//! want it at hand: here, a key created through the server itself.

use relay_dev::{Config, Server};
use tests::relay::{http, AgentClient, ViewerClient};

#[tokio::test]
async fn an_in_process_server_relays_and_shuts_down() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::bind(Config::for_tests(dir.path().into()))
        .await
        .unwrap();
    let key = server.create_api_key("ann").await.unwrap();
    let addr = server.local_addr();
    let stop = server.shutdown_handle();
    let running = tokio::spawn(server.run());

    let (status, created) = http(
        "POST",
        &format!("http://{addr}/api/v1/agent-instances"),
        Some(&key),
        Some(&serde_json::json!({"agent_type": "amp"})),
    )
    .await;
    assert_eq!(status, 201);
    let id = created["id"].as_str().unwrap();
    let mut agent = AgentClient::connect(&format!("ws://{addr}"), id, &key)
        .await
        .unwrap();
    agent.send_output(b"in-process").await;
    agent.wait_ack(10).await;
    let mut viewer = ViewerClient::connect(&format!("ws://{addr}"), id, &key, None)
        .await
        .unwrap();
    assert_eq!(viewer.read_history().await.output, b"in-process");

    stop.shutdown();
    assert_eq!(viewer.socket.closed().await.map(|c| c.0), Some(1001));
    running.await.unwrap().unwrap();
}

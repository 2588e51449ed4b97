//! Test helpers for the relay: start the real `tether-relay` binary
//! ([`RelayProcess`], in `process`), and talk to it as an agent
//! ([`AgentClient`]), a viewer ([`ViewerClient`]) or a REST client
//! ([`http`], [`fetch`] and the typed calls on [`RelayProcess`]).
//!
//! ```no_run
//! # async fn story() {
//! use tests::relay::{AgentClient, RelayProcess, ViewerClient};
//! let relay = RelayProcess::start();
//! let key = relay.api_key();
//! let session = relay.register_session(&key, "claude");
//! let mut agent = AgentClient::connect(&relay.ws_url(), &session, &key).await.unwrap();
//! agent.send_output(b"hello").await;
//! let mut viewer = ViewerClient::connect(&relay.ws_url(), &session, &key, None).await.unwrap();
//! let join = viewer.read_history().await;
//! assert_eq!(join.output, b"hello");
//! # }
//! ```
//!
//! Every wait has a deadline ([`DEADLINE`](crate::wait::DEADLINE)); a test
//! fails instead of hanging. The relay child process is killed when the
//! [`RelayProcess`] is dropped, also when the test panics.

mod clients;
mod fixture;
mod nodes;
mod process;
mod rest;
mod ws;

pub use clients::{contains, AgentClient, Join, ViewerClient};
pub use fixture::{SessionFixture, REVOCATION_REACHES_LINKS};
pub use nodes::RelayNodes;
pub use process::{use_binaries_from, workspace_binary, RelayProcess};
pub use rest::{fetch, fetch_blocking, http, Reply};
pub use ws::{ws_connect, Connect, Event, FrameSocket, WsStream};

//! Tether's wire format, shared by the wrapper, the relay and the browser viewer.
//!
//! Every WebSocket binary message carries one or more [`Frame`]s:
//!
//! ```text
//! +---------+------------------------+--------------------+
//! | type u8 | length u32 big-endian  | payload (length)   |
//! +---------+------------------------+--------------------+
//! ```
//!
//! Types 0–3 ([`FrameType::Output`], [`FrameType::Input`], [`FrameType::Resize`],
//! [`FrameType::Metadata`]) are byte-for-byte the Omnara relay's format; types 4 and
//! above are Tether's extensions, sent only to peers that announced
//! [`PROTOCOL_NAME`]. See `PROTOCOL.md` beside this crate for the full exchange.
//!
//! Beside the frames: [`Size`], the one terminal size type, [`api`], the
//! REST API's bodies and answers, and [`asciicast`], recordings. This crate does no I/O and builds for
//! `wasm32-unknown-unknown`; only the optional `config` feature (for the two
//! native binaries) adds `config`, the reader and writer of
//! `~/.tether/config.json`.
//!
//! ```
//! use protocol::{Decoder, Frame, Size};
//!
//! let mut wire = Vec::new();
//! Frame::Resize(Size::new(24, 80)).encode(&mut wire);
//! protocol::encode_output(b"hi", &mut wire);
//!
//! let mut decoder = Decoder::default();
//! decoder.push(&wire);
//! assert_eq!(decoder.next_frame().unwrap(), Some(Frame::Resize(Size::new(24, 80))));
//! assert_eq!(decoder.next_frame().unwrap(), Some(Frame::Output(b"hi".to_vec())));
//! assert_eq!(decoder.next_frame().unwrap(), None);
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod api;
pub mod asciicast;
pub mod attention;
#[cfg(feature = "config")]
pub mod config;
mod control;
mod decode;
#[cfg(feature = "deflate")]
pub mod deflate;
mod encode;
mod frame;

pub use attention::{Attention, AttentionState};
pub use control::{Control, HistoryPolicy, Metadata, Role};
pub use decode::{decode_message, DecodeError, Decoder};
pub use encode::{encode_header, encode_output};
pub use frame::{Frame, FrameType, Size, Snapshot, HEADER_LEN};

/// Default cap on one frame's payload: 1 MiB.
pub const DEFAULT_MAX_PAYLOAD: usize = 1 << 20;

/// Name a Tether peer announces to get the full protocol (extension frames,
/// acknowledgements, pings). Sent as the `protocol` query parameter of the
/// WebSocket URL, e.g. `/agent?session_id=…&protocol=tether.v1`. A peer that
/// does not announce it is treated as a legacy Omnara client.
pub const PROTOCOL_NAME: &str = "tether.v1";

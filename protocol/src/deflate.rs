//! The DEFLATED envelope (type 7): a whole message of frames, compressed
//! with raw DEFLATE (RFC 1951), for viewers that ask for it.
//!
//! A viewer that adds [`QUERY`] (`compress=deflate`) to its WebSocket URL,
//! next to `protocol=tether.v1`, may receive messages that are exactly one
//! frame of type [`DEFLATED`]: its payload inflates to the frames the relay
//! would otherwise have sent as that message. Nothing else changes: the
//! frames inside are ordinary frames (never another envelope), offsets count
//! OUTPUT bytes as before, and a message may also arrive plain (a small one,
//! or one that did not get smaller). A viewer that does not ask, and every
//! legacy peer, only ever gets plain messages; a peer that does not know
//! type 7 would skip it as an unknown frame.
//!
//! Each envelope is compressed on its own (no shared window between
//! messages), so the relay keeps no compressor per viewer.
//!
//! ```
//! use protocol::deflate::{inflate, Deflater, MAX_INFLATED};
//! use protocol::Frame;
//!
//! let mut plain = Vec::new();
//! Frame::Output(b"hello hello hello hello hello hello\r\n".repeat(40)).encode(&mut plain);
//! let envelope = Deflater::default().deflate(&plain).expect("repetitive text shrinks");
//! assert_eq!(envelope[0], protocol::deflate::DEFLATED);
//! assert!(envelope.len() < plain.len() / 10);
//! assert_eq!(inflate(&envelope, MAX_INFLATED).unwrap(), plain);
//! ```

use miniz_oxide::deflate::core::{
    compress, create_comp_flags_from_zip_params, CompressorOxide, TDEFLFlush, TDEFLStatus,
};

use crate::HEADER_LEN;

/// Type tag of the DEFLATED envelope.
pub const DEFLATED: u8 = 7;

/// The query parameter a viewer adds to ask for DEFLATED envelopes.
pub const QUERY: &str = "compress=deflate";

/// Most bytes one envelope inflates to; a sender sends larger messages plain.
pub const MAX_INFLATED: usize = 8 << 20;

/// Messages shorter than this are sent plain: too small to gain much.
pub const MIN_DEFLATE: usize = 512;

/// Why an envelope could not be inflated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InflateError {
    /// The message is not exactly one DEFLATED frame.
    #[error("not a DEFLATED envelope (type 7 with its whole payload)")]
    NotAnEnvelope,
    /// The payload is not valid raw DEFLATE, or inflates past the limit.
    #[error("DEFLATED payload does not inflate within {max} bytes: {reason}")]
    Corrupt {
        /// The limit in force.
        max: usize,
        /// What the inflater said.
        reason: String,
    },
}

/// Whether `message` is a DEFLATED envelope (to inflate before decoding).
pub fn is_deflated(message: &[u8]) -> bool {
    message.first() == Some(&DEFLATED)
}

/// The frames inside a DEFLATED envelope, at most `max` bytes of them.
pub fn inflate(message: &[u8], max: usize) -> Result<Vec<u8>, InflateError> {
    let (header, payload) = message
        .split_at_checked(HEADER_LEN)
        .ok_or(InflateError::NotAnEnvelope)?;
    let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
    if header[0] != DEFLATED || len != payload.len() {
        return Err(InflateError::NotAnEnvelope);
    }
    miniz_oxide::inflate::decompress_to_vec_with_limit(payload, max).map_err(|e| {
        InflateError::Corrupt {
            max,
            reason: e.to_string(),
        }
    })
}

/// Compresses messages into DEFLATED envelopes. It holds the compressor's
/// tables (about 300 KiB) and reuses them from one message to the next:
/// keep one per thread, not one per link.
pub struct Deflater {
    compressor: Box<CompressorOxide>,
}

impl std::fmt::Debug for Deflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deflater").finish_non_exhaustive()
    }
}

impl Default for Deflater {
    /// A deflater at level [`Deflater::LEVEL`].
    fn default() -> Self {
        Self::new(Self::LEVEL)
    }
}

impl Deflater {
    /// The relay's level: fast (greedy matching), and on terminal output
    /// within a few percent of the default level's size.
    pub const LEVEL: u8 = 1;

    /// A deflater at `level` (0–10, as zlib's).
    pub fn new(level: u8) -> Self {
        let flags = create_comp_flags_from_zip_params(level.into(), -15, 0);
        Self {
            compressor: Box::new(CompressorOxide::new(flags)),
        }
    }

    /// `message` (whole frames) as a DEFLATED envelope, or `None` when it is
    /// better sent plain: shorter than [`MIN_DEFLATE`], longer than
    /// [`MAX_INFLATED`], or not made smaller.
    pub fn deflate(&mut self, message: &[u8]) -> Option<Vec<u8>> {
        if !(MIN_DEFLATE..=MAX_INFLATED).contains(&message.len()) {
            return None;
        }
        self.compressor.reset();
        // Room for the header and a little less than the input: output that
        // does not fit is no gain, and the message goes plain.
        let mut out = vec![0u8; message.len()];
        let (status, _, written) = compress(
            &mut self.compressor,
            message,
            &mut out[HEADER_LEN..],
            TDEFLFlush::Finish,
        );
        if status != TDEFLStatus::Done {
            return None;
        }
        out.truncate(HEADER_LEN + written);
        out[0] = DEFLATED;
        out[1..HEADER_LEN].copy_from_slice(&u32::try_from(written).ok()?.to_be_bytes());
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Frame;

    fn message(text: &[u8]) -> Vec<u8> {
        let mut plain = Vec::new();
        Frame::Output(text.to_vec()).encode(&mut plain);
        plain
    }

    #[test]
    fn round_trips_and_reuses_the_compressor() {
        let mut deflater = Deflater::default();
        for n in [60, 500, 20_000] {
            let plain = message(&b"\x1b[32mok\x1b[0m test passed\r\n".repeat(n));
            let envelope = deflater.deflate(&plain).expect("shrinks");
            assert!(is_deflated(&envelope));
            assert_eq!(inflate(&envelope, MAX_INFLATED).unwrap(), plain);
        }
    }

    #[test]
    fn small_or_incompressible_messages_stay_plain() {
        let mut deflater = Deflater::default();
        assert_eq!(deflater.deflate(&message(b"$ ")), None);
        // A xorshift stream: no redundancy for DEFLATE to find.
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        assert_eq!(deflater.deflate(&message(&noise)), None);
    }

    #[test]
    fn refuses_what_is_not_an_envelope_or_inflates_too_far() {
        let plain = message(&[b'x'; 10_000]);
        assert_eq!(
            inflate(&plain, MAX_INFLATED),
            Err(InflateError::NotAnEnvelope)
        );
        assert_eq!(
            inflate(&[DEFLATED, 0], MAX_INFLATED),
            Err(InflateError::NotAnEnvelope)
        );
        let envelope = Deflater::default().deflate(&plain).unwrap();
        assert!(matches!(
            inflate(&envelope, 1000),
            Err(InflateError::Corrupt { .. })
        ));
        let mut broken = envelope.clone();
        broken.truncate(envelope.len() - 3);
        let len = (broken.len() - HEADER_LEN) as u32;
        broken[1..5].copy_from_slice(&len.to_be_bytes());
        assert!(inflate(&broken, MAX_INFLATED).is_err());
    }
}

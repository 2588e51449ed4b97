//! RFC 8291 message encryption for Web Push, `aes128gcm` content coding
//! (RFC 8188), one record: an ephemeral P-256 key per message, ECDH with the
//! browser's key, HKDF-SHA-256 keyed by the subscription's auth secret, AES-128-GCM.

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM};
use ring::agreement::{agree_ephemeral, EphemeralPrivateKey, UnparsedPublicKey, ECDH_P256};
use ring::hkdf::{KeyType, Salt, HKDF_SHA256};
use ring::rand::{SecureRandom, SystemRandom};

/// The record size announced in the header (one record holds the message).
const RECORD_SIZE: u32 = 4096;
/// Largest plaintext that fits one record (with its delimiter and tag).
pub(crate) const MAX_PLAINTEXT: usize = RECORD_SIZE as usize - 17;

/// Why a message could not be encrypted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum EncryptError {
    /// The subscription's `p256dh` is not a P-256 public key, or `auth` is not 16 bytes.
    #[error("the subscription's keys are malformed")]
    BadKeys,
    /// The message is larger than one record.
    #[error("the message is too large for one push")]
    TooLarge,
}

struct Len(usize);

impl KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

fn hkdf(salt: &[u8], ikm: &[u8], info: &[&[u8]], out: &mut [u8]) -> Result<(), EncryptError> {
    Salt::new(HKDF_SHA256, salt)
        .extract(ikm)
        .expand(info, Len(out.len()))
        .and_then(|okm| okm.fill(out))
        .map_err(|_| EncryptError::BadKeys)
}

/// Encrypts `plaintext` for the browser key `ua_public` (65 bytes,
/// uncompressed) and auth secret `auth` (16 bytes): the request body.
pub(crate) fn encrypt(
    ua_public: &[u8],
    auth: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, EncryptError> {
    if ua_public.len() != 65 || ua_public[0] != 4 || auth.len() != 16 {
        return Err(EncryptError::BadKeys);
    }
    if plaintext.len() > MAX_PLAINTEXT {
        return Err(EncryptError::TooLarge);
    }
    let rng = SystemRandom::new();
    let private =
        EphemeralPrivateKey::generate(&ECDH_P256, &rng).map_err(|_| EncryptError::BadKeys)?;
    let as_public = private
        .compute_public_key()
        .map_err(|_| EncryptError::BadKeys)?
        .as_ref()
        .to_vec();
    let peer = UnparsedPublicKey::new(&ECDH_P256, ua_public);
    let ecdh_secret = agree_ephemeral(private, &peer, |secret| secret.to_vec())
        .map_err(|_| EncryptError::BadKeys)?;
    let mut salt = [0u8; 16];
    rng.fill(&mut salt).map_err(|_| EncryptError::BadKeys)?;
    seal(&ecdh_secret, ua_public, &as_public, auth, &salt, plaintext)
}

/// The deterministic part of [`encrypt`], given the ECDH secret, both
/// public keys and the salt (RFC 8291 section 3.4, RFC 8188 section 2).
pub(crate) fn seal(
    ecdh_secret: &[u8],
    ua_public: &[u8],
    as_public: &[u8],
    auth: &[u8],
    salt: &[u8; 16],
    plaintext: &[u8],
) -> Result<Vec<u8>, EncryptError> {
    let mut ikm = [0u8; 32];
    hkdf(
        auth,
        ecdh_secret,
        &[b"WebPush: info\0", ua_public, as_public],
        &mut ikm,
    )?;
    let mut cek = [0u8; 16];
    hkdf(salt, &ikm, &[b"Content-Encoding: aes128gcm\0"], &mut cek)?;
    let mut nonce = [0u8; 12];
    hkdf(salt, &ikm, &[b"Content-Encoding: nonce\0"], &mut nonce)?;
    let key =
        LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &cek).map_err(|_| EncryptError::BadKeys)?);
    let mut record = Vec::with_capacity(plaintext.len() + 17);
    record.extend_from_slice(plaintext);
    // The last (only) record's padding delimiter.
    record.push(2);
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::empty(),
        &mut record,
    )
    .map_err(|_| EncryptError::TooLarge)?;
    let mut body = Vec::with_capacity(16 + 4 + 1 + as_public.len() + record.len());
    body.extend_from_slice(salt);
    body.extend_from_slice(&RECORD_SIZE.to_be_bytes());
    body.push(as_public.len() as u8);
    body.extend_from_slice(as_public);
    body.extend_from_slice(&record);
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;

    fn b64(text: &str) -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(text).expect("base64url")
    }

    /// RFC 8291 Appendix A: the published keys, salt and plaintext give
    /// exactly the published message body. ring takes no fixed ECDH private
    /// key, so the vector's own "shared ECDH secret" goes in through `seal`
    /// (everything after the key agreement).
    #[test]
    fn seal_matches_the_rfc_8291_appendix_a_vector() {
        let ua_public = b64(
            "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
        );
        let as_public = b64(
            "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8",
        );
        let auth = b64("BTBZMqHH6r4Tts7J_aSIgg");
        let salt: [u8; 16] = b64("DGv6ra1nlYgDCS1FRnbzlw").try_into().unwrap();
        let ecdh_secret = b64("kyrL1jIIOHEzg3sM2ZWRHDRB62YACZhhSlknJ672kSs");
        let expected = b64(concat!(
            "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27ml",
            "mlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPT",
            "pK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN",
        ));
        let body = seal(
            &ecdh_secret,
            &ua_public,
            &as_public,
            &auth,
            &salt,
            b"When I grow up, I want to be a watermelon",
        )
        .unwrap();
        assert_eq!(
            URL_SAFE_NO_PAD.encode(&body),
            URL_SAFE_NO_PAD.encode(&expected)
        );
    }

    #[test]
    fn the_header_names_the_salt_record_size_and_sender_key() {
        let ua = {
            let rng = SystemRandom::new();
            let key = EphemeralPrivateKey::generate(&ECDH_P256, &rng).unwrap();
            key.compute_public_key().unwrap().as_ref().to_vec()
        };
        let body = encrypt(&ua, &[7; 16], b"hello").unwrap();
        assert_eq!(&body[16..20], &4096u32.to_be_bytes());
        assert_eq!(body[20], 65);
        assert_eq!(body[21], 4, "an uncompressed P-256 key");
        assert_eq!(body.len(), 16 + 4 + 1 + 65 + 5 + 1 + 16);
        assert_eq!(
            encrypt(&ua[..64], &[7; 16], b"x"),
            Err(EncryptError::BadKeys)
        );
        assert_eq!(
            encrypt(&ua, &[7; 16], &vec![0; MAX_PLAINTEXT + 1]),
            Err(EncryptError::TooLarge)
        );
    }
}

//! How much one request may put in the store: a message's content, a
//! session's name and agent type; and how many rows one list answers.

use axum::http::StatusCode;

use super::error::ApiError;

/// Longest message content, in bytes.
pub(super) const MAX_CONTENT_BYTES: usize = 64 << 10;

/// Longest session name or agent type, in characters.
pub(super) const MAX_NAME_CHARS: usize = 256;

/// Most rows one list answers.
pub(super) const MAX_PAGE: usize = 1000;

/// A message's content within [`MAX_CONTENT_BYTES`], or 413.
pub(super) fn check_content(content: &str) -> Result<(), ApiError> {
    if content.len() > MAX_CONTENT_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("content is longer than {MAX_CONTENT_BYTES} bytes"),
        ));
    }
    Ok(())
}

/// A name-like `field` within [`MAX_NAME_CHARS`], or 400.
pub(super) fn check_name(field: &str, value: Option<&str>) -> Result<(), ApiError> {
    if value.is_some_and(|v| v.chars().count() > MAX_NAME_CHARS) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("{field} is longer than {MAX_NAME_CHARS} characters"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_and_names_have_limits() {
        assert!(check_content(&"x".repeat(MAX_CONTENT_BYTES)).is_ok());
        assert!(check_content(&"x".repeat(MAX_CONTENT_BYTES + 1)).is_err());
        // Characters, not bytes: 256 two-byte characters are fine.
        assert!(check_name("name", Some(&"é".repeat(MAX_NAME_CHARS))).is_ok());
        assert!(check_name("name", Some(&"é".repeat(MAX_NAME_CHARS + 1))).is_err());
        assert!(check_name("name", None).is_ok());
    }
}

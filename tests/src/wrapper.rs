//! Test helpers: wrapper (filled in by its issue).

//! Helpers for Tether's end-to-end tests: start the real binaries, talk to them.

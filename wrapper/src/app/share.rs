//! `tether share`: make a share link to a session and print it (with a QR
//! code on `--qr`), list the session's links, or revoke one.
//!
//! The session is the one named, else `TETHER_SESSION_ID` (set in the
//! environment of every agent tether runs), else the user's most recent live
//! session. The link goes to stdout alone, so `$(tether share)` is the link;
//! what it grants and until when goes to stderr.

use super::{qr_code, Endpoints, Fatal};
use crate::api::{self, ApiClient, ApiError};
use crate::cli::share::ShareArgs;
use crate::printable::{notice, printable, server_text};
use protocol::api::ShareInfo;
use protocol::config::{self, Config};
use protocol::Role;

/// Runs `tether share` and returns the exit code.
pub fn run(args: ShareArgs) -> Result<i32, Fatal> {
    let home = config::tether_home().map_err(Fatal::setup)?;
    let config = Config::load(&home).map_err(Fatal::setup)?;
    let endpoints = Endpoints::resolve(&args.relay, &config);
    let key = args.relay.key(&config).ok_or_else(|| {
        Fatal::setup(format!(
            "no relay configured: no API key in --api-key, TETHER_API_KEY or {}. \
                 Start `tether-relay` (it saves one there) or run `tether --auth`.",
            home.join(config::CONFIG_FILE).display()
        ))
    })?;
    let api = ApiClient::new(
        &endpoints.api_url,
        &key,
        args.relay.insecure_skip_tls_verify,
    );
    if let Some(share_id) = &args.revoke {
        api.revoke_share(share_id).map_err(Fatal::setup)?;
        println!("tether: revoked share link {}", printable(share_id));
        return Ok(0);
    }
    let session = pick_session(&args, &api)?;
    if args.list {
        let shares = api
            .list_shares(&session)
            .map_err(|e| refusal(e, &session))?;
        print_list(&session, &shares);
        return Ok(0);
    }
    let role = if args.read_write {
        Role::ReadWrite
    } else {
        Role::ReadOnly
    };
    let share = api
        .create_share(&session, role, args.ttl)
        .map_err(|e| refusal(e, &session))?;
    // Whole (a link cut short is no link), but with control characters escaped.
    println!("{}", printable(&share.url));
    notice(&format!(
        "{} link to session {session}, until {} (id {}; revoke with `tether share --revoke {}`)",
        role_name(share.role),
        server_text(&share.expires_at),
        server_text(&share.id),
        server_text(&share.id),
    ));
    if share.role == Role::ReadWrite {
        notice("whoever holds this link can type into the agent, and so run commands as you");
    }
    if args.qr {
        if let Some(code) = qr_code(&share.url) {
            eprintln!("{code}");
        }
    }
    Ok(0)
}

/// The session to share: named, else `TETHER_SESSION_ID`, else the most
/// recent live one.
fn pick_session(args: &ShareArgs, api: &ApiClient) -> Result<String, Fatal> {
    if let Some(id) = &args.session {
        return Ok(id.clone());
    }
    if let Some(text) = std::env::var_os("TETHER_SESSION_ID") {
        let text = text.to_string_lossy();
        return api::session_id(&text).ok_or_else(|| {
            Fatal::setup(format!(
                "TETHER_SESSION_ID is not a session id ({}): give SESSION_ID",
                printable(&text)
            ))
        });
    }
    let sessions = api.list_sessions().map_err(Fatal::setup)?;
    let live = api::most_recent_live(&sessions).ok_or_else(|| {
        Fatal::setup("no live session to share: start one with `tether`, or give SESSION_ID")
    })?;
    api::session_id(&live.id)
        .ok_or_else(|| Fatal::setup("the relay listed a session whose id is not a UUID"))
}

/// What a refusal about `session` tells the person.
fn refusal(error: ApiError, session: &str) -> Fatal {
    match error {
        ApiError::UnknownSession(_) => Fatal::setup(format!(
            "unknown session {session}: no session of yours has this id (the dashboard lists them)"
        )),
        other => Fatal::setup(other),
    }
}

/// `--list`: one line per working link.
fn print_list(session: &str, shares: &[ShareInfo]) {
    if shares.is_empty() {
        println!("no working share links for session {session}");
        return;
    }
    println!("{:<18} {:<10} {:<22} viewers", "id", "role", "expires");
    for share in shares {
        println!(
            "{:<18} {:<10} {:<22} {}",
            server_text(&share.id),
            role_name(share.role),
            server_text(&share.expires_at),
            share.viewer_count
        );
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::ReadOnly => "read-only",
        Role::ReadWrite => "read-write",
    }
}

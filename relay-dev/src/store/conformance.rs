//! The store tests, run against both implementations: [`SqliteStore`] in
//! memory and [`PgStore`] on a real PostgreSQL server (a fresh database per
//! case), so that whichever a relay uses behaves the same.

use protocol::Role;
use tests::services::postgres::PostgresServer;
use uuid::Uuid;

use super::{
    KeyRecord, MessageRecord, PgStore, PushSubscriptionRecord, SessionRecord, ShareRecord,
    SqliteStore, Store,
};

/// A case: its name, and the check it makes on a fresh, empty store.
type Case = (&'static str, fn(&dyn Store));

/// Every case.
const CASES: &[Case] = &[
    (
        "keys_are_saved_listed_and_revoked",
        keys_are_saved_listed_and_revoked,
    ),
    (
        "sessions_are_saved_and_replaced",
        sessions_are_saved_and_replaced,
    ),
    (
        "the_log_keeps_its_latest_messages_and_pages_back",
        the_log_keeps_its_latest_messages_and_pages_back,
    ),
    (
        "sessions_come_a_page_at_a_time_newest_first",
        sessions_come_a_page_at_a_time_newest_first,
    ),
    (
        "grants_are_listed_until_revoked_by_id_or_with_their_key",
        grants_are_listed_until_revoked_by_id_or_with_their_key,
    ),
    ("each_wait_is_alerted_once", each_wait_is_alerted_once),
    (
        "push_subscriptions_are_kept_per_user_and_endpoint",
        push_subscriptions_are_kept_per_user_and_endpoint,
    ),
];

fn run_cases(mut open: impl FnMut(usize) -> Box<dyn Store>) {
    for (i, (name, case)) in CASES.iter().enumerate() {
        eprintln!("case {name}");
        case(&*open(i));
    }
}

#[test]
fn sqlite_keeps_the_store_contract() {
    run_cases(|_| Box::new(SqliteStore::in_memory().unwrap()));
}

#[test]
fn postgres_keeps_the_store_contract() {
    let Some(server) = PostgresServer::start() else {
        return;
    };
    run_cases(|i| {
        let url = server.create_database(&format!("case_{i}"));
        Box::new(PgStore::connect(&url, 2).unwrap())
    });
}

fn key(id: &str, created_at: u64) -> KeyRecord {
    KeyRecord {
        id: id.into(),
        user: "ann".into(),
        hash: "h".into(),
        created_at,
        revoked: false,
    }
}

fn session(user: &str, created_at: u64) -> SessionRecord {
    SessionRecord {
        id: Uuid::new_v4(),
        user: user.into(),
        agent_type: "codex".into(),
        name: Some("fix".into()),
        created_at,
        last_activity: created_at,
        ended_at: None,
        exit_status: None,
    }
}

fn keys_are_saved_listed_and_revoked(store: &dyn Store) {
    store.insert_key(&key("k2", 2)).unwrap();
    store.insert_key(&key("k1", 1)).unwrap();
    assert_eq!(store.key("k1").unwrap(), Some(key("k1", 1)));
    assert_eq!(store.key("nope").unwrap(), None);
    assert!(store.insert_key(&key("k1", 3)).is_err(), "ids are unique");
    let ids: Vec<String> = store.keys().unwrap().into_iter().map(|k| k.id).collect();
    assert_eq!(ids, ["k1", "k2"], "oldest first");
    assert!(store.revoked_key_ids().unwrap().is_empty());
    assert!(store.revoke_key("k1").unwrap());
    assert!(!store.revoke_key("nope").unwrap());
    assert!(store.key("k1").unwrap().unwrap().revoked);
    assert_eq!(store.revoked_key_ids().unwrap(), ["k1".to_string()].into());
}

fn sessions_are_saved_and_replaced(store: &dyn Store) {
    let mut s = session("ann", 5);
    store.put_session(&s).unwrap();
    assert_eq!(store.session(s.id).unwrap(), Some(s.clone()));
    assert_eq!(store.session(Uuid::new_v4()).unwrap(), None);
    s.name = None;
    s.last_activity = 9;
    s.ended_at = Some(10);
    s.exit_status = Some(-1);
    store.put_session(&s).unwrap();
    assert_eq!(store.session(s.id).unwrap(), Some(s.clone()));
    let later = session("ann", 6);
    store.put_session(&later).unwrap();
    store.put_session(&session("bob", 7)).unwrap();
    assert_eq!(store.sessions_of("ann").unwrap(), vec![later, s]);
    assert!(store.sessions_of("cat").unwrap().is_empty());
}

fn post(store: &dyn Store, session_id: Uuid, content: &str) -> Uuid {
    let id = Uuid::new_v4();
    store
        .add_message(&MessageRecord {
            id,
            session_id,
            content: content.into(),
            sender: "agent".into(),
            requires_user_input: content.ends_with('?'),
            created_at: 1,
        })
        .unwrap();
    id
}

fn contents(list: Vec<MessageRecord>) -> Vec<String> {
    list.into_iter().map(|m| m.content).collect()
}

fn the_log_keeps_its_latest_messages_and_pages_back(store: &dyn Store) {
    let (session, other) = (Uuid::new_v4(), Uuid::new_v4());
    let ids: Vec<Uuid> = (0..6)
        .map(|i| post(store, session, &format!("m{i}")))
        .collect();
    post(store, other, "elsewhere?");
    assert_eq!(store.trim_messages(session, 4).unwrap(), 2);
    assert_eq!(store.trim_messages(session, 4).unwrap(), 0);
    assert_eq!(
        contents(store.messages(session, 10).unwrap()),
        ["m2", "m3", "m4", "m5"]
    );
    assert_eq!(
        contents(store.messages_before(session, 2, Some(ids[4])).unwrap()),
        ["m2", "m3"]
    );
    assert_eq!(
        contents(store.messages_before(session, 1, None).unwrap()),
        ["m5"]
    );
    assert!(store
        .messages_before(session, 2, Some(Uuid::new_v4()))
        .unwrap()
        .is_empty());
    let elsewhere = store.messages(other, 10).unwrap();
    assert_eq!(elsewhere.len(), 1);
    assert_eq!(
        (elsewhere[0].session_id, elsewhere[0].requires_user_input),
        (other, true)
    );
    // New messages keep their order after a trim.
    post(store, session, "m6");
    assert_eq!(store.trim_messages(session, 4).unwrap(), 1);
    assert_eq!(contents(store.messages(session, 2).unwrap()), ["m5", "m6"]);
}

fn sessions_come_a_page_at_a_time_newest_first(store: &dyn Store) {
    let ids: Vec<Uuid> = (0..5)
        .map(|i| {
            let s = session("ann", i);
            store.put_session(&s).unwrap();
            s.id
        })
        .collect();
    let page = |limit, offset| -> Vec<Uuid> {
        let list = store.sessions_page("ann", limit, offset).unwrap();
        list.into_iter().map(|s| s.id).collect()
    };
    assert_eq!(page(2, 0), [ids[4], ids[3]]);
    assert_eq!(page(2, 4), [ids[0]]);
    assert!(page(2, 5).is_empty());
    assert!(store.sessions_page("bob", 10, 0).unwrap().is_empty());
}

fn share(id: &str, session_id: Uuid, key_id: &str, expires_at: u64) -> ShareRecord {
    ShareRecord {
        id: id.into(),
        session_id,
        role: Role::ReadWrite,
        key_id: key_id.into(),
        created_at: 10,
        expires_at,
        revoked: false,
    }
}

fn grants_are_listed_until_revoked_by_id_or_with_their_key(store: &dyn Store) {
    for id in ["k1", "k2"] {
        store.insert_key(&key(id, 1)).unwrap();
    }
    let session = Uuid::new_v4();
    store.insert_share(&share("a", session, "k1", 100)).unwrap();
    let mut read_only = share("b", session, "k2", 100);
    read_only.role = Role::ReadOnly;
    store.insert_share(&read_only).unwrap();
    store
        .insert_share(&share("old", session, "k1", 50))
        .unwrap();
    assert_eq!(
        store.share("a").unwrap(),
        Some(share("a", session, "k1", 100))
    );
    assert_eq!(store.share("b").unwrap(), Some(read_only));
    let ids = |now| -> Vec<String> {
        let active = store.active_shares(session, now).unwrap();
        active.into_iter().map(|s| s.id).collect()
    };
    assert_eq!(ids(60), ["a", "b"], "expired grants are not listed");
    assert!(store.active_shares(Uuid::new_v4(), 60).unwrap().is_empty());

    assert!(store.revoke_share("a").unwrap());
    assert!(!store.revoke_share("nope").unwrap());
    store.revoke_key("k2").unwrap();
    assert!(ids(60).is_empty());
    let revoked = store.revoked_share_ids(60).unwrap();
    assert_eq!(revoked, ["a".to_string(), "b".to_string()].into());
    assert!(
        store.revoked_share_ids(100).unwrap().is_empty(),
        "expired: no longer watched"
    );

    // Minting forgets what expired by then.
    let mut late = share("late", session, "k1", 300);
    late.created_at = 120;
    store.insert_share(&late).unwrap();
    assert_eq!(store.share("a").unwrap(), None);
    assert!(store.share("late").unwrap().is_some());
}

fn each_wait_is_alerted_once(store: &dyn Store) {
    let (session, other) = (Uuid::new_v4(), Uuid::new_v4());
    assert!(store.claim_alert(session, 10).unwrap());
    assert!(
        !store.claim_alert(session, 10).unwrap(),
        "the same wait again"
    );
    assert!(!store.claim_alert(session, 5).unwrap(), "an earlier wait");
    assert!(store.claim_alert(session, 20).unwrap(), "a later wait");
    assert!(store.claim_alert(other, 5).unwrap(), "another session's");
}

fn subscription(id: &str, user: &str, endpoint: &str, created_at: u64) -> PushSubscriptionRecord {
    PushSubscriptionRecord {
        id: id.into(),
        user: user.into(),
        endpoint: endpoint.into(),
        p256dh: "BP".into(),
        auth: "au".into(),
        created_at,
    }
}

fn push_subscriptions_are_kept_per_user_and_endpoint(store: &dyn Store) {
    store
        .put_push_subscription(&subscription("a", "ann", "https://p/1", 1))
        .unwrap();
    store
        .put_push_subscription(&subscription("b", "ann", "https://p/2", 2))
        .unwrap();
    store
        .put_push_subscription(&subscription("c", "bob", "https://p/1", 3))
        .unwrap();
    // The same endpoint again replaces the user's old one.
    store
        .put_push_subscription(&subscription("d", "ann", "https://p/1", 4))
        .unwrap();
    let ids = |user| -> Vec<String> {
        store
            .push_subscriptions_of(user)
            .unwrap()
            .into_iter()
            .map(|s| s.id)
            .collect()
    };
    assert_eq!(ids("ann"), ["b", "d"]);
    assert!(
        !store.delete_push_subscription("bob", "b").unwrap(),
        "not bob's"
    );
    assert!(store.delete_push_subscription("ann", "b").unwrap());
    assert_eq!(ids("ann"), ["d"]);
    assert_eq!(ids("bob"), ["c"]);
}

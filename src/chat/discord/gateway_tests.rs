//! Unit tests of the gateway message mapping (who and where a message is from).

use super::*;

const BOT: u64 = 999;

fn msg() -> Incoming {
    Incoming {
        id: 500,
        author_id: 7,
        guild_id: Some(1),
        channel_id: 20,
        mentions_bot: true,
        content: format!("<@{BOT}> read on prod-db for 1h"),
        ..Default::default()
    }
}

#[test]
fn a_mention_in_a_channel_becomes_a_request_in_a_thread_started_from_it() {
    let e = to_event(&msg(), BOT, None).unwrap();
    assert_eq!(
        (e.actor.workspace.as_str(), e.actor.user_id.as_str()),
        ("1", "7")
    );
    assert_eq!(
        (e.scope.channel.as_str(), e.scope.thread.as_deref()),
        ("20", Some("500"))
    );
    assert!(
        matches!(e.kind, EventKind::Message { ref text, .. } if text == "read on prod-db for 1h")
    );
}

#[test]
fn a_message_in_a_thread_maps_to_the_parent_channel_and_the_thread() {
    let m = Incoming {
        channel_id: 30,
        thread_parent: Some(20),
        ..msg()
    };
    let e = to_event(&m, BOT, None).unwrap();
    assert_eq!(
        (e.scope.channel.as_str(), e.scope.thread.as_deref()),
        ("20", Some("30"))
    );
}

#[test]
fn bots_and_unmentioned_channel_chatter_are_ignored() {
    assert!(
        to_event(
            &Incoming {
                author_is_bot: true,
                ..msg()
            },
            BOT,
            None
        )
        .is_none()
    );
    assert!(
        to_event(
            &Incoming {
                author_id: BOT,
                ..msg()
            },
            BOT,
            None
        )
        .is_none()
    );
    assert!(
        to_event(
            &Incoming {
                mentions_bot: false,
                ..msg()
            },
            BOT,
            None
        )
        .is_none()
    );
}

#[test]
fn a_dm_uses_the_home_guild_as_workspace_and_needs_one() {
    let dm = Incoming {
        guild_id: None,
        mentions_bot: false,
        channel_id: 77,
        content: "status".into(),
        ..msg()
    };
    assert!(to_event(&dm, BOT, None).is_none());
    let e = to_event(&dm, BOT, Some("1")).unwrap();
    assert_eq!(
        (
            e.actor.workspace.as_str(),
            e.scope.kind.as_str(),
            e.scope.channel.as_str()
        ),
        ("1", "dm", "77")
    );
}

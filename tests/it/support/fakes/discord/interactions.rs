//! Interaction payloads shaped like Discord's, and real Ed25519 signatures over them.

use ed25519_dalek::{Signer, SigningKey};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};

pub const APP_ID: &str = "5000";
pub const GUILD: &str = "42000";
pub const CHANNEL: &str = "500";
pub const ALICE: &str = "1001";
pub const DANA: &str = "1002";
pub const CAROL: &str = "1003";
pub const BOT: &str = "4999";

static NEXT: AtomicU64 = AtomicU64::new(1_000_000);

pub fn next_id() -> String {
    NEXT.fetch_add(1, Ordering::SeqCst).to_string()
}

pub struct Keys(SigningKey);

impl Keys {
    pub fn generate() -> Self {
        let bytes: [u8; 32] = rand::random();
        Self(SigningKey::from_bytes(&bytes))
    }

    pub fn public_hex(&self) -> String {
        hex::encode(self.0.verifying_key().to_bytes())
    }

    /// `X-Signature-Ed25519` over `timestamp + body`, as Discord computes it.
    pub fn sign(&self, timestamp: &str, body: &[u8]) -> String {
        hex::encode(
            self.0
                .sign(&[timestamp.as_bytes(), body].concat())
                .to_bytes(),
        )
    }
}

fn user(id: &str) -> Value {
    json!({ "id": id, "username": format!("user{id}"), "discriminator": "0", "global_name": null, "avatar": null })
}

/// Where an interaction comes from: a guild channel, or a DM with the bot.
#[derive(Clone)]
pub enum From {
    Guild { user: &'static str, channel: String },
    Dm { user: &'static str },
}

impl From {
    pub fn guild(user: &'static str) -> Self {
        From::Guild {
            user,
            channel: CHANNEL.into(),
        }
    }

    fn apply(&self, v: &mut Value) {
        match self {
            From::Guild { user: u, channel } => {
                v["guild_id"] = json!(GUILD);
                v["guild_locale"] = json!("en-US");
                v["channel_id"] = json!(channel);
                v["channel"] = json!({ "id": channel, "type": 0 });
                v["member"] = json!({ "user": user(u), "roles": [], "joined_at": "2026-01-01T00:00:00.000000+00:00", "deaf": false, "mute": false, "flags": 0 });
            }
            From::Dm { user: u } => {
                let ch = super::dm_channel(u);
                v["channel_id"] = json!(ch);
                v["channel"] = json!({ "id": ch, "type": 1 });
                v["user"] = user(u);
            }
        }
    }
}

fn base(kind: u8, from: &From, data: Value) -> Value {
    let mut v = json!({
        "id": next_id(),
        "application_id": APP_ID,
        "type": kind,
        "data": data,
        "token": format!("tok-{}", next_id()),
        "version": 1,
        "locale": "en-US",
        "entitlements": [],
        "authorizing_integration_owners": {},
        "attachment_size_limit": 10_485_760
    });
    from.apply(&mut v);
    v
}

pub fn ping() -> Value {
    json!({ "id": next_id(), "application_id": APP_ID, "type": 1, "token": "tok-ping", "version": 1 })
}

/// `/access <sub> name:value …`
pub fn slash(from: &From, sub: &str, args: &[(&str, &str)]) -> Value {
    let options: Vec<Value> = args
        .iter()
        .map(|(n, v)| json!({ "name": n, "type": 3, "value": v }))
        .collect();
    base(
        2,
        from,
        json!({ "id": "6000", "name": "access", "type": 1, "options": [{ "name": sub, "type": 1, "options": options }] }),
    )
}

/// A button press on a message Warden posted.
pub fn click(from: &From, custom_id: &str, message_channel: &str, message_id: &str) -> Value {
    let mut v = base(
        3,
        from,
        json!({ "custom_id": custom_id, "component_type": 2 }),
    );
    v["message"] = json!({
        "id": message_id, "channel_id": message_channel, "author": user(BOT), "content": "",
        "timestamp": "2026-01-01T00:00:00.000000+00:00", "edited_timestamp": null, "tts": false,
        "mention_everyone": false, "mentions": [], "mention_roles": [], "attachments": [], "embeds": [],
        "pinned": false, "type": 0
    });
    v
}

/// A submitted modal with text inputs.
pub fn modal(from: &From, custom_id: &str, inputs: &[(&str, &str)]) -> Value {
    let rows: Vec<Value> = inputs.iter().map(|(id, value)| json!({ "type": 1, "components": [{ "type": 4, "custom_id": id, "value": value }] })).collect();
    base(
        5,
        from,
        json!({ "custom_id": custom_id, "components": rows }),
    )
}

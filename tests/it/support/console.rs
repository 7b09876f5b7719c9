//! Drives an engine as console users would: a message in the channel, a reply in a request's
//! thread, a button click; and reads back what the requests became.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use warden::chat::console::ConsoleChat;
use warden::chat::{CardAction, ChatEvent, EventKind};
use warden::domain::{Request, RequestId, RequestState};
use warden::store::{RequestFilter, Store};
use warden::workflow::{Engine, Handled};

/// The console channel everything is said in.
pub const CHANNEL: &str = "access-requests";

/// Event ids unique in the process, so no event is mistaken for a redelivery of another.
#[derive(Default)]
pub struct EventIds(AtomicUsize);

impl EventIds {
    pub fn next(&self) -> String {
        format!(
            "ev-{}-{}",
            uuid::Uuid::new_v4().simple(),
            self.0.fetch_add(1, Ordering::SeqCst)
        )
    }
}

/// Whatever holds an engine and hands out event ids gets the console user's moves.
pub trait Drive {
    fn engine(&self) -> &Arc<Engine>;
    fn ids(&self) -> &EventIds;

    /// What the engine has said so far, for assertion messages.
    fn transcript(&self) -> String {
        String::new()
    }

    fn store(&self) -> &Store {
        self.engine().store()
    }

    async fn handle(&self, event: ChatEvent) -> Handled {
        self.engine().handle(event).await.expect("event handled")
    }

    /// A new message in the channel.
    async fn say(&self, user: &str, text: &str) -> Handled {
        let id = self.ids().next();
        self.handle(message(&id, user, ConsoleChat::scope(CHANNEL), text))
            .await
    }

    /// A reply in a request's own thread.
    async fn reply(&self, user: &str, request: &str, text: &str) -> Handled {
        let id = self.ids().next();
        let mut scope = ConsoleChat::scope(CHANNEL);
        scope.thread = Some(request.to_string());
        self.handle(message(&id, user, scope, text)).await
    }

    fn click_event(
        &self,
        user: &str,
        action: CardAction,
        request: &str,
        reason: Option<&str>,
    ) -> ChatEvent {
        ChatEvent {
            id: self.ids().next(),
            actor: ConsoleChat::user(user),
            scope: ConsoleChat::scope(CHANNEL),
            kind: EventKind::Action {
                action,
                request_id: RequestId::parse(request).expect("request id"),
                reason: reason.map(str::to_string),
                items: vec![],
            },
        }
    }

    async fn click(&self, user: &str, action: CardAction, request: &str) -> Handled {
        self.click_with(user, action, request, None).await
    }

    async fn click_with(
        &self,
        user: &str,
        action: CardAction,
        request: &str,
        reason: Option<&str>,
    ) -> Handled {
        self.handle(self.click_event(user, action, request, reason))
            .await
    }

    /// Asks and submits: returns the request id.
    async fn request(&self, user: &str, text: &str) -> String {
        self.say(user, text).await;
        let id = self.latest(user).await;
        assert_eq!(
            self.state(&id).await,
            RequestState::AwaitingConfirmation,
            "{text}: {}",
            self.transcript()
        );
        self.click(user, CardAction::Submit, &id).await;
        id
    }

    /// The id of a person's newest request.
    async fn latest(&self, person: &str) -> String {
        let rows = self
            .store()
            .list_requests(&RequestFilter {
                requester_id: Some(person.into()),
                limit: 1,
                ..Default::default()
            })
            .await
            .expect("list requests");
        rows.into_iter()
            .next()
            .map(|r| r.id.to_string())
            .unwrap_or_else(|| panic!("{person} has no request"))
    }

    async fn row(&self, id: &str) -> Request {
        self.store()
            .get_request(id)
            .await
            .expect("read request")
            .expect("request exists")
    }

    async fn state(&self, id: &str) -> RequestState {
        self.row(id).await.state
    }
}

fn message(id: &str, user: &str, scope: warden::chat::Scope, text: &str) -> ChatEvent {
    ChatEvent {
        id: id.to_string(),
        actor: ConsoleChat::user(user),
        scope,
        kind: EventKind::Message {
            text: text.into(),
            message_id: id.to_string(),
        },
    }
}

//! `warden demo`: a scripted walk through the whole workflow on the console, with no config,
//! a temporary SQLite file, the shipped policy and the example catalog and directory.

use crate::app::Wiring;
use crate::chat::console::ConsoleChat;
use crate::chat::{CardAction, ChatEvent, ChatPort, EventKind};
use crate::clock::ManualClock;
use crate::config::Settings;
use crate::directory::file::FileDirectory;
use crate::domain::{Catalog, RequestId};
use crate::workflow::Engine;
use std::io::BufRead;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

const CHANNEL: &str = "access-requests";

/// Drives an engine as console users would.
pub struct Demo {
    pub engine: Arc<Engine>,
    pub console: Arc<ConsoleChat>,
    pub clock: Arc<ManualClock>,
    seq: AtomicU64,
    echo: bool,
}

impl Demo {
    /// An engine on a SQLite file with embedded defaults and a manual clock.
    pub async fn start(db_url: &str, echo: bool) -> anyhow::Result<Self> {
        let mut wiring = Wiring::from_settings(&Self::settings(db_url, 4)).await?;
        wiring.agents = Arc::new(super::demo_agent::example_agents(&wiring.catalog)?);
        Ok(Self::from_wiring(wiring, echo))
    }

    /// The same engine with its own people and catalog instead of the examples (`warden bench`).
    pub async fn with_data(
        db_url: &str,
        max_connections: u32,
        directory: FileDirectory,
        catalog: Catalog,
    ) -> anyhow::Result<Self> {
        let mut wiring = Wiring::from_settings(&Self::settings(db_url, max_connections)).await?;
        wiring.directory = Arc::new(directory);
        wiring.catalog = Arc::new(catalog);
        Ok(Self::from_wiring(wiring, false))
    }

    pub(super) fn settings(db_url: &str, max_connections: u32) -> Settings {
        let mut s = Settings::default();
        s.database.url = db_url.to_string();
        s.database.max_connections = max_connections;
        s.workflow.security_channel = Some("console:security".into());
        s
    }

    pub(super) fn from_wiring(wiring: Wiring, echo: bool) -> Self {
        let console = Arc::new(ConsoleChat::new(echo));
        let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
        let engine =
            Arc::new(wiring.into_engine(vec![console.clone() as Arc<dyn ChatPort>], clock.clone()));
        Self {
            engine,
            console,
            clock,
            seq: AtomicU64::new(1),
            echo,
        }
    }

    fn next_id(&self) -> String {
        format!("demo-{}", self.seq.fetch_add(1, Ordering::Relaxed))
    }

    /// A user types a message in the requests channel.
    pub async fn say(&self, user: &str, text: &str) -> anyhow::Result<()> {
        if self.echo {
            println!("\n{user}: {text}");
        }
        let id = self.next_id();
        let event = ChatEvent {
            id: id.clone(),
            actor: ConsoleChat::user(user),
            scope: ConsoleChat::scope(CHANNEL),
            kind: EventKind::Message {
                text: text.into(),
                message_id: id,
            },
        };
        self.engine.handle(event).await.map(|_| ())
    }

    /// A user replies in a request's thread.
    pub async fn reply(&self, user: &str, request: &str, text: &str) -> anyhow::Result<()> {
        if self.echo {
            println!("\n{user} (in {request}'s thread): {text}");
        }
        let id = self.next_id();
        let mut scope = ConsoleChat::scope(CHANNEL);
        scope.thread = Some(request.to_string());
        let event = ChatEvent {
            id: id.clone(),
            actor: ConsoleChat::user(user),
            scope,
            kind: EventKind::Message {
                text: text.into(),
                message_id: id,
            },
        };
        self.engine.handle(event).await.map(|_| ())
    }

    /// A user presses a button on a request's card.
    pub async fn click(
        &self,
        user: &str,
        action: CardAction,
        request: &str,
        reason: Option<&str>,
    ) -> anyhow::Result<()> {
        if self.echo {
            println!(
                "\n{user} presses [{}] on {request}{}",
                action.as_str(),
                reason.map(|r| format!(" — \"{r}\"")).unwrap_or_default()
            );
        }
        let id = RequestId::parse(request)
            .ok_or_else(|| anyhow::anyhow!("'{request}' is not a request id"))?;
        let event = ChatEvent {
            id: self.next_id(),
            actor: ConsoleChat::user(user),
            scope: ConsoleChat::scope(CHANNEL),
            kind: EventKind::Action {
                action,
                request_id: id,
                reason: reason.map(str::to_string),
                items: vec![],
            },
        };
        self.engine.handle(event).await.map(|_| ())
    }

    /// The newest request of a directory person.
    pub async fn latest(&self, person: &str) -> anyhow::Result<String> {
        self.engine
            .store()
            .latest_of(person)
            .await?
            .map(|r| r.id.to_string())
            .ok_or_else(|| anyhow::anyhow!("{person} has no request"))
    }

    /// Moves time forward and runs whatever became due.
    pub async fn wait(&self, hours: i64, minutes: i64) -> anyhow::Result<usize> {
        if self.echo {
            println!("\n⏱  {hours}h{minutes:02}m pass…");
        }
        self.clock
            .advance(chrono::Duration::hours(hours) + chrono::Duration::minutes(minutes));
        self.engine.run_due_jobs().await
    }
}

fn heading(text: &str) {
    println!("\n━━━ {text} ━━━");
}

/// The scripted scenario; returns the id of the request whose log is printed.
pub async fn script(d: &Demo) -> anyhow::Result<String> {
    heading("1. A low-risk request, granted at once");
    d.say(
        "alice",
        "need edit on the wiki for 2h to fix the onboarding page",
    )
    .await?;
    let wiki = d.latest("alice").await?;
    d.click("alice", CardAction::Submit, &wiki, None).await?;

    heading("2. A high-risk request that needs the manager");
    d.say("alice", "need read on the prod billing db for 2h, INC-4411")
        .await?;
    let prod = d.latest("alice").await?;
    d.click("alice", CardAction::Submit, &prod, None).await?;
    d.click("alice", CardAction::Approve, &prod, None).await?;
    d.click("dana", CardAction::Approve, &prod, None).await?;

    heading("3. A request the policy denies");
    d.say(
        "bob",
        "/access request prod-db write for 1h because quick hotfix",
    )
    .await?;
    let denied = d.latest("bob").await?;
    d.click("bob", CardAction::Submit, &denied, None).await?;

    heading("4. A quorum: critical access for someone without a manager needs two owners");
    d.say(
        "frank",
        "admin on the prod cluster for 1h, upgrading the ingress controller, CHG-311",
    )
    .await?;
    let quorum = d.latest("frank").await?;
    d.click("frank", CardAction::Submit, &quorum, None).await?;
    d.click("frank", CardAction::Approve, &quorum, None).await?;
    d.click("carol", CardAction::Approve, &quorum, None).await?;
    d.click("carol", CardAction::Approve, &quorum, None).await?;
    d.click("erin", CardAction::Approve, &quorum, None).await?;

    heading("5. An extension, checked by policy again");
    d.say(
        "alice",
        &format!("extend {wiki} by 1h, the page needs another pass"),
    )
    .await?;

    heading("6. Break-glass: on-call self-activates, security is told, an owner reviews");
    d.say(
        "gina",
        "break-glass prod-db read because SEV1 billing outage, INC-9001",
    )
    .await?;
    let glass = d.latest("gina").await?;
    d.click("gina", CardAction::Submit, &glass, None).await?;
    d.click("gina", CardAction::Review, &glass, None).await?;
    d.click(
        "carol",
        CardAction::Review,
        &glass,
        Some("checked the session log, fine"),
    )
    .await?;

    heading("7. Time passes: access expires and is revoked");
    d.wait(2, 1).await?;

    heading("8. Done early: the requester ends the wiki access");
    d.say("alice", &format!("I'm done, revoke {wiki}")).await?;

    heading("9. An agent: a CI job asks for read for a migration, its owner approves, it releases");
    super::demo_agent::scenario(d).await?;
    Ok(prod)
}

pub async fn run(interactive: bool, keep: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    if let Some(path) = keep {
        // A new file only: the demo must never write into a database someone uses.
        anyhow::ensure!(
            !path.exists(),
            "{} already exists; --keep wants a new file",
            path.display()
        );
        let result = run_on(&format!("sqlite://{}", path.display()), interactive).await;
        println!("\nThe demo's database is kept at {}.", path.display());
        return result;
    }
    let path =
        std::env::temp_dir().join(format!("warden-demo-{}.db", uuid::Uuid::new_v4().simple()));
    let url = format!("sqlite://{}", path.display());
    let result = run_on(&url, interactive).await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    result
}

async fn run_on(url: &str, interactive: bool) -> anyhow::Result<ExitCode> {
    let d = Demo::start(url, true).await?;
    println!(
        "Warden demo — console adapter, temporary SQLite, shipped Rego policy, example catalog."
    );
    println!(
        "People: alice (engineer, manager dana), bob (contractor), dana (manager), carol (DB owner), erin (security),"
    );
    println!("        gina (on-call engineer), frank (admin, no manager).");
    if interactive {
        interactive_loop(&d).await?;
    } else {
        let shown = script(&d).await?;
        heading(&format!("Context log of request {shown}"));
        let req = d
            .engine
            .store()
            .get_request(&shown)
            .await?
            .ok_or_else(|| anyhow::anyhow!("request vanished"))?;
        print!(
            "{}",
            super::audit::render_request(d.engine.store(), &req).await?
        );
    }
    d.engine.store().close().await;
    Ok(ExitCode::SUCCESS)
}

const HELP: &str = "Type as the current user, or: `as <user>`, `submit|cancel|approve|revoke <id>`, `deny <id> [reason]`, \
`reply <id> <text>`, `wait <hours>`, `log <id>`, `status`, `quit`.";

async fn interactive_loop(d: &Demo) -> anyhow::Result<()> {
    println!("{HELP}");
    let mut user = "alice".to_string();
    let stdin = std::io::stdin();
    loop {
        print!("\n{user}> ");
        use std::io::Write;
        std::io::stdout().flush()?;
        let mut line = String::new();
        if stdin.lock().read_line(&mut line)? == 0 {
            return Ok(());
        }
        let line = line.trim();
        let (cmd, rest) = line.split_once(' ').unwrap_or((line, ""));
        let outcome = match cmd {
            "" => Ok(()),
            "quit" | "exit" => return Ok(()),
            "help" => {
                println!("{HELP}");
                Ok(())
            }
            "as" => {
                user = rest.trim().to_string();
                Ok(())
            }
            "submit" => d.click(&user, CardAction::Submit, rest.trim(), None).await,
            "cancel" => d.click(&user, CardAction::Cancel, rest.trim(), None).await,
            "approve" => d.click(&user, CardAction::Approve, rest.trim(), None).await,
            "revoke" => d.click(&user, CardAction::Revoke, rest.trim(), None).await,
            "deny" => {
                let (id, reason) = rest.split_once(' ').unwrap_or((rest, ""));
                d.click(
                    &user,
                    CardAction::Deny,
                    id.trim(),
                    Some(reason.trim()).filter(|r| !r.is_empty()),
                )
                .await
            }
            "reply" => {
                let (id, text) = rest.split_once(' ').unwrap_or((rest, ""));
                d.reply(&user, id.trim(), text).await
            }
            "wait" => d
                .wait(rest.trim().trim_end_matches('h').parse().unwrap_or(1), 0)
                .await
                .map(|_| ()),
            "log" => match d
                .engine
                .store()
                .get_request(&rest.trim().to_uppercase())
                .await?
            {
                Some(req) => {
                    print!(
                        "{}",
                        super::audit::render_request(d.engine.store(), &req).await?
                    );
                    Ok(())
                }
                None => {
                    println!("no request {rest}");
                    Ok(())
                }
            },
            _ => d.say(&user, line).await,
        };
        if let Err(e) = outcome {
            println!("error: {e:#}");
        }
    }
}

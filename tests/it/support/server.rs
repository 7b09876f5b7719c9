//! The composed server (`Server::build` + `spawn_local`) on a random port over a throwaway
//! database, with a client that does not follow redirects; stopped when dropped.

use super::TestDb;
use std::net::SocketAddr;
use std::sync::Arc;
use warden::app::Server;
use warden::clock::Clock;
use warden::config::Settings;
use warden::server::AppState;
use warden::store::Store;
use warden::workflow::Engine;

pub struct TestServer {
    pub addr: SocketAddr,
    /// `http://addr`, to put paths after.
    pub base: String,
    pub state: AppState,
    pub http: reqwest::Client,
    /// Last, so the database goes after everything that uses it.
    pub db: TestDb,
}

impl TestServer {
    /// Builds and starts the server from `settings`, with `database.url` set to `db`.
    pub async fn start(settings: Settings, db: TestDb, clock: Arc<dyn Clock>) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        Self::start_on(settings, db, clock, listener).await
    }

    /// On a listener bound beforehand, so its address can go into `settings`.
    pub async fn start_on(
        mut settings: Settings,
        db: TestDb,
        clock: Arc<dyn Clock>,
        listener: std::net::TcpListener,
    ) -> Self {
        warden::app::install_crypto();
        settings.database.url = db.url().to_string();
        let server = Server::build(&settings, clock)
            .await
            .expect("server builds");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
        let (addr, state) = server.spawn_on(listener).expect("server listens");
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Self {
            addr,
            base: format!("http://{addr}"),
            state,
            http,
            db,
        }
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.state.engine
    }

    pub fn store(&self) -> &Store {
        self.state.engine.store()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.state.shutdown.cancel();
    }
}

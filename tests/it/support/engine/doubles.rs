//! In-process stand-ins the engine is built with: a grant backend that counts, a directory that
//! changes while the engine runs, and the shipped policy recording what it is asked (or letting
//! a test act while it decides).

use async_trait::async_trait;
use futures::future::BoxFuture;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, RwLock};
use warden::directory::file::FileDirectory;
use warden::directory::{Directory, DirectoryError};
use warden::domain::{Person, PlatformUser};
use warden::grants::{GrantCall, GrantError, GrantReceipt, Grantor, PriorAccess};
use warden::policy::embedded::EmbeddedPolicy;
use warden::policy::{Decision, PolicyEngine, PolicyInput};

/// A grant backend that records every call and can be told to fail.
#[derive(Default)]
pub struct CountingGrantor {
    pub grants: AtomicUsize,
    pub revokes: AtomicUsize,
    pub fail_revokes: AtomicUsize,
    /// A grant call that never returns: the process died before the call reached the backend.
    pub hang_grants: AtomicBool,
    /// The next calls that grant, then answer as if the backend timed out (the grant applied).
    pub time_out_after_applying: AtomicUsize,
    /// The next grant calls refused for good (nothing applied).
    pub refuse_grants: AtomicUsize,
    /// The next grant calls that fail as transient before applying anything.
    pub fail_before_applying: AtomicUsize,
    /// The next grant calls wait at the backend until `unpark` is notified (a call slower than
    /// its job's lease); `parked` counts the calls waiting now.
    pub park_grants: AtomicUsize,
    pub parked: AtomicUsize,
    pub unpark: tokio::sync::Notify,
    /// Grants name their access by this key (shared access), when set.
    pub access_key: Mutex<Option<String>>,
    /// The person held the access before Warden (set by a test).
    pub already_held: AtomicBool,
    /// Requests whose grant applied and has not been revoked: a retry finds the access there.
    pub applied: Mutex<HashSet<String>>,
    pub keys: Mutex<Vec<String>>,
    /// Every revoke call as the backend received it.
    pub revoke_calls: Mutex<Vec<GrantCall>>,
    /// How long each revoke takes, so concurrent revokes overlap.
    pub revoke_delay_ms: AtomicU64,
    /// Revoke calls in progress now, and the most there ever were at once.
    pub revokes_in_flight: AtomicUsize,
    pub max_revokes_in_flight: AtomicUsize,
}

#[async_trait]
impl Grantor for CountingGrantor {
    fn name(&self) -> &str {
        "log"
    }

    fn access_key(&self, call: &GrantCall) -> Option<String> {
        let key = self.access_key.lock().unwrap().clone()?;
        Some(format!("{key}:{}", call.person))
    }

    async fn observe(&self, call: &GrantCall) -> Result<Option<PriorAccess>, GrantError> {
        Ok(Some(if self.holds(call) {
            PriorAccess::Held
        } else {
            PriorAccess::Absent
        }))
    }

    async fn grant(&self, call: &GrantCall) -> Result<GrantReceipt, GrantError> {
        if self.hang_grants.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        if take(&self.park_grants) {
            let woken = self.unpark.notified();
            self.parked.fetch_add(1, Ordering::SeqCst);
            woken.await;
            self.parked.fetch_sub(1, Ordering::SeqCst);
        }
        if take(&self.fail_before_applying) {
            return Err(GrantError::Transient("backend unavailable".into()));
        }
        let times_out = take(&self.time_out_after_applying);
        if !times_out && take(&self.refuse_grants) {
            return Err(GrantError::Permanent("backend refused the grant".into()));
        }
        self.grants.fetch_add(1, Ordering::SeqCst);
        self.keys.lock().unwrap().push(call.idempotency_key.clone());
        let held_before = self.holds(call) || {
            self.applied.lock().unwrap().insert(call.request_id.clone());
            false
        };
        if times_out {
            return Err(GrantError::Transient("timeout".into()));
        }
        if held_before {
            return Ok(GrantReceipt::unchanged("counting", serde_json::json!({})));
        }
        Ok(GrantReceipt::applied("counting", serde_json::json!({})))
    }

    async fn revoke(&self, call: &GrantCall) -> Result<GrantReceipt, GrantError> {
        let now = self.revokes_in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_revokes_in_flight.fetch_max(now, Ordering::SeqCst);
        let delay = self.revoke_delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
        }
        let result = self.revoke_now(call);
        self.revokes_in_flight.fetch_sub(1, Ordering::SeqCst);
        result
    }
}

impl CountingGrantor {
    fn revoke_now(&self, call: &GrantCall) -> Result<GrantReceipt, GrantError> {
        if self.fail_revokes.load(Ordering::SeqCst) > 0 {
            self.fail_revokes.fetch_sub(1, Ordering::SeqCst);
            return Err(GrantError::Transient("backend down".into()));
        }
        self.revokes.fetch_add(1, Ordering::SeqCst);
        self.applied.lock().unwrap().remove(&call.request_id);
        self.keys.lock().unwrap().push(call.idempotency_key.clone());
        self.revoke_calls.lock().unwrap().push(call.clone());
        Ok(GrantReceipt::applied("counting", serde_json::json!({})))
    }
}

impl CountingGrantor {
    fn holds(&self, call: &GrantCall) -> bool {
        self.already_held.load(Ordering::SeqCst)
            || self.applied.lock().unwrap().contains(&call.request_id)
    }
}

/// Uses up one of a counter's remaining turns, if it has any.
fn take(n: &AtomicUsize) -> bool {
    n.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| v.checked_sub(1))
        .is_ok()
}

/// A directory that tests can change while the engine runs (people leave, managers change).
pub struct MutableDirectory(pub RwLock<FileDirectory>);

impl MutableDirectory {
    pub fn example() -> Self {
        Self(RwLock::new(
            FileDirectory::from_toml(warden::app::EXAMPLE_DIRECTORY).unwrap(),
        ))
    }

    /// Marks a person inactive (left the company, removed from the directory).
    pub fn remove(&self, id: &str) {
        let mut d = self.0.write().unwrap();
        let people: Vec<Person> = d
            .people()
            .cloned()
            .map(|mut p| {
                if p.id == id {
                    p.active = false;
                }
                p
            })
            .collect();
        *d = FileDirectory::new(people).unwrap();
    }
}

#[async_trait]
impl Directory for MutableDirectory {
    async fn person_by_account(
        &self,
        account: &PlatformUser,
    ) -> Result<Option<Person>, DirectoryError> {
        let d = self.0.read().unwrap().clone();
        d.person_by_account(account).await
    }

    async fn person(&self, id: &str) -> Result<Option<Person>, DirectoryError> {
        let d = self.0.read().unwrap().clone();
        d.person(id).await
    }

    async fn group_members(&self, group: &str) -> Result<Vec<Person>, DirectoryError> {
        let d = self.0.read().unwrap().clone();
        d.group_members(group).await
    }
}

/// The shipped policy, recording every input it is asked about.
pub struct RecordingPolicy {
    inner: EmbeddedPolicy,
    pub inputs: Mutex<Vec<PolicyInput>>,
}

impl RecordingPolicy {
    pub fn shipped() -> Self {
        Self {
            inner: EmbeddedPolicy::shipped().expect("shipped policy"),
            inputs: Mutex::new(vec![]),
        }
    }
}

#[async_trait]
impl PolicyEngine for RecordingPolicy {
    fn name(&self) -> &'static str {
        "recording"
    }

    async fn decide(&self, input: &PolicyInput) -> Decision {
        self.inputs.lock().unwrap().push(input.clone());
        self.inner.decide(input).await
    }
}

/// The shipped policy, running a test's action once before it decides on a chosen resource: a
/// concurrent writer changing a request while its submission waits for the policy.
pub struct InterleavedPolicy {
    inner: EmbeddedPolicy,
    before: Mutex<Option<(String, BoxFuture<'static, ()>)>>,
}

impl InterleavedPolicy {
    pub fn shipped() -> Self {
        Self {
            inner: EmbeddedPolicy::shipped().expect("shipped policy"),
            before: Mutex::new(None),
        }
    }

    /// Runs `action` (once) when the policy is next asked about `resource`, then decides.
    pub fn before(&self, resource: &str, action: BoxFuture<'static, ()>) {
        *self.before.lock().unwrap() = Some((resource.into(), action));
    }
}

#[async_trait]
impl PolicyEngine for InterleavedPolicy {
    fn name(&self) -> &'static str {
        "interleaved"
    }

    async fn decide(&self, input: &PolicyInput) -> Decision {
        let action = {
            let mut slot = self.before.lock().unwrap();
            match slot.as_ref() {
                Some((resource, _)) if *resource == input.resource.id => slot.take(),
                _ => None,
            }
        };
        if let Some((_, action)) = action {
            action.await;
        }
        self.inner.decide(input).await
    }
}

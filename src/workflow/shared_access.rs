//! Access shared by overlapping grants (the same person in the same group through two
//! requests): a grant joins the holders before it reads the target, and at its end it leaves
//! them, handing the removal to a holder still active, or ends the access if it is the last.
//!
//! Every decision is read from the store and committed guarded by that reading (`HoldOp`), so
//! two revokes, or a grant and a revoke, on two instances at once decide one after the other.
//! A revoke waits only on the database; a grant waits while an ending of the access is in flight.

use super::Engine;
use super::step::Step;
use crate::domain::{Entry, Evidence, Request};
use crate::grants::GrantError;
use crate::store::{AccessHold, Change, Committed, HoldOp};

/// How many times a hold change is read and tried again when another commit came first.
const TRIES: usize = 8;

/// How a grant's hold on shared access ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HoldEnd {
    /// The last holder, and Warden put the access there: the revoke call removes it.
    Remove,
    /// The last holder, but the access was held before Warden: left in place.
    HeldBefore,
    /// Another active grant still holds it (and removes it when it ends, if that was ours to do).
    StillHeld { by: String },
    /// This grant holds it no longer (an earlier attempt already left): nothing to do.
    NotHeld,
}

impl Engine {
    /// Joins the holders of `key` before the grant reads the target (once; a retry finds its
    /// hold in place). Transient while another grant's ending of the access is in flight, so
    /// this grant puts it back only after that removal.
    pub(super) async fn join_holders(
        &self,
        req: &mut Request,
        key: &str,
    ) -> Result<(), GrantError> {
        let id = req.id.to_string();
        let failed = |e: anyhow::Error| {
            tracing::warn!(request = %id, error = ?e, "could not join the holders of a shared access");
            GrantError::Transient("could not record the holders of the access".into())
        };
        let holds = self
            .commit_hold(req, key, |holds| {
                if holds.iter().any(|h| h.request_id == id) {
                    return None;
                }
                let live: Vec<String> = live_others(holds, &id)
                    .map(|h| h.request_id.clone())
                    .collect();
                let first = live.is_empty();
                let mut change = Change::none().hold(HoldOp::Join {
                    key: key.to_string(),
                    first,
                });
                if !first {
                    change = change.log(Entry::warden(Evidence::AccessShared {
                        access: key.to_string(),
                        holders: live,
                    }));
                }
                Some(change)
            })
            .await
            .map_err(failed)?;
        if let Some(ending) = holds
            .iter()
            .find(|h| h.releasing && h.owns && h.request_id != id)
        {
            return Err(GrantError::Transient(format!(
                "request {} is removing this access; granting again after it",
                ending.request_id
            )));
        }
        Ok(())
    }

    /// Ends this grant's hold on `key`. `may_remove`: the grant may have put the access there
    /// (a revoke); otherwise (a grant that failed before any call could apply) the last holder
    /// just lets go.
    pub(super) async fn end_hold(
        &self,
        req: &mut Request,
        key: &str,
        may_remove: bool,
    ) -> anyhow::Result<HoldEnd> {
        let id = req.id.to_string();
        let mut end = HoldEnd::NotHeld;
        let mut handed = false;
        let holds = self
            .commit_hold(req, key, |holds| {
                let mine = holds.iter().find(|h| h.request_id == id)?;
                if mine.releasing {
                    return None;
                }
                let key = key.to_string();
                let owned = mine.owns;
                if let Some(heir) = live_others(holds, &id).next() {
                    handed = owned;
                    end = HoldEnd::StillHeld {
                        by: heir.request_id.clone(),
                    };
                    return Some(
                        Change::none()
                            .hold(HoldOp::Leave {
                                key: key.clone(),
                                owned,
                                heir: Some(heir.request_id.clone()),
                            })
                            .log(Entry::warden(Evidence::AccessHandedOver {
                                access: key,
                                heir: heir.request_id.clone(),
                                owned,
                            })),
                    );
                }
                (end, handed) = (HoldEnd::NotHeld, false);
                Some(Change::none().hold(if may_remove {
                    HoldOp::Release { key, owned }
                } else {
                    HoldOp::Leave {
                        key,
                        owned,
                        heir: None,
                    }
                }))
            })
            .await?;
        if let HoldEnd::StillHeld { by } = &end {
            if handed {
                self.record_takeover(by, key, &id).await;
            }
            return Ok(end);
        }
        Ok(match holds.iter().find(|h| h.request_id == id) {
            Some(mine) if mine.releasing && mine.owns => HoldEnd::Remove,
            Some(mine) if mine.releasing => HoldEnd::HeldBefore,
            _ => HoldEnd::NotHeld,
        })
    }

    /// A grant that will not be made (refused by a freeze on a retry) lets go of any shared
    /// access it joined, handing it over if another grant holds it too, so nothing waits on it.
    pub(super) async fn let_go_of_holds(&self, req: &mut Request) -> anyhow::Result<()> {
        for key in self.store.access_keys_of(req.id.as_str()).await? {
            self.end_hold(req, &key, false).await?;
        }
        Ok(())
    }

    /// Reads the holders of `key`, commits `decide`'s change on the request (if any), and reads
    /// again after another commit came first. Returns the holders as the committed change left
    /// them (as read, when there was nothing to change).
    async fn commit_hold<F>(
        &self,
        req: &mut Request,
        key: &str,
        mut decide: F,
    ) -> anyhow::Result<Vec<AccessHold>>
    where
        F: FnMut(&[AccessHold]) -> Option<Change>,
    {
        for _ in 0..TRIES {
            let holds = self.store.access_holds(key).await?;
            let Some(change) = decide(&holds) else {
                return Ok(holds);
            };
            match self.commit_step(req, Step::new(change)).await? {
                Committed::Applied(next) => {
                    *req = *next;
                    return self.store.access_holds(key).await;
                }
                Committed::Conflict => {
                    *req = self
                        .store
                        .get_request(req.id.as_str())
                        .await?
                        .ok_or_else(|| anyhow::anyhow!("request {} is gone", req.id))?;
                }
                Committed::Duplicate => anyhow::bail!("a hold change was taken for a delivery"),
                Committed::Refused(e) => anyhow::bail!("the request refused a hold change: {e}"),
            }
        }
        anyhow::bail!("the holders of {key} kept changing; gave up after {TRIES} tries")
    }

    /// Tells the heir's own log that it now removes the shared access when it ends. The
    /// ownership itself is already committed (on the hold); a failure here loses only this line.
    async fn record_takeover(&self, heir: &str, key: &str, from: &str) {
        let entry = Entry::warden(Evidence::AccessTakenOver {
            access: key.to_string(),
            from: from.to_string(),
        });
        if let Err(e) = self
            .change_request_from(heir, None, |_| {
                Ok(Some(Step::new(Change::none().log(entry.clone()))))
            })
            .await
        {
            tracing::warn!(request = heir, error = ?e, "could not log a takeover of shared access");
        }
    }
}

/// The other holders still active (not ending the access), the earliest joined first.
fn live_others<'a>(holds: &'a [AccessHold], me: &'a str) -> impl Iterator<Item = &'a AccessHold> {
    holds
        .iter()
        .filter(move |h| h.request_id != me && !h.releasing)
}

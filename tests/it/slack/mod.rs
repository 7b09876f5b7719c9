//! Slack integration tests: the real server on a random port with signed, Slack-shaped requests,
//! a fake Slack Web API that records every call, SQLite and PostgreSQL.

mod app;
mod fake_slack;
mod flows;
mod grants;
mod inbound;

/// Runs a scenario on SQLite, and on PostgreSQL where listed, as tests named after it.
macro_rules! scenarios {
    (sqlite: $($s:ident),* ; both: $($b:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $s() {
                crate::slack::flows_or_inbound::$s(crate::slack::app::Db::sqlite()).await
            }
        )*
        $(
            mod $b {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn on_sqlite() {
                    crate::slack::flows_or_inbound::$b(crate::slack::app::Db::sqlite()).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn on_postgres() {
                    if let Some(db) = crate::slack::app::Db::postgres().await {
                        crate::slack::flows_or_inbound::$b(db).await
                    }
                }
            }
        )*
    };
}

mod flows_or_inbound {
    pub use super::flows::*;
    pub use super::inbound::*;
}

scenarios!(
    sqlite:
        a_denial_with_a_reason_from_the_modal_is_recorded_and_shown,
        the_edit_button_opens_a_prefilled_form_whose_changes_come_back_for_confirmation,
        a_forged_click_from_a_non_approver_is_refused_and_changes_nothing,
        a_rate_limited_card_update_is_retried_after_retry_after_and_lands,
        requests_with_a_bad_stale_missing_or_altered_signature_get_401_and_leave_nothing,
        url_verification_is_answered_with_the_challenge,
        a_slash_command_request_lives_in_the_thread_its_first_card_starts;
    both:
        a_dm_request_is_confirmed_approved_granted_and_every_card_updated,
        the_same_event_delivered_four_times_makes_one_request_and_one_intake_run,
);

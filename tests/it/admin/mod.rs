//! Admin review tests: the JSON API and the pages over real HTTP against the composed server on
//! real databases, SIEM export to a fake SIEM, retention, redaction, and a headless browser.

mod agents;
mod anchors;
mod api;
mod app;
mod browser;
mod dedup;
mod drift;
mod export;
mod freeze_step_up;
mod freezes;
mod jobs;
mod pages;
mod passkeys;
mod redaction;
mod replay;
mod sessions;
mod sso;
mod sso_logout;
mod sso_tokens;
mod step_up;
mod webdriver;

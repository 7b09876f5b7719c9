//! `Settings::problems`: every configuration problem in plain words, and the remote URLs it checks.

use super::Settings;
use crate::http_client::check_transport;

impl Settings {
    /// Problems a person should fix, in plain words. Empty means the configuration is usable.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if crate::store::Backend::from_url(&self.database.url).is_err() {
            p.push("database.url must start with sqlite: or postgres://".into());
        }
        match self.policy.engine.as_str() {
            "embedded" => {}
            "opa" if self.policy.url.is_none() => {
                p.push("policy.url is required when policy.engine = \"opa\"".into())
            }
            "authzen" if self.policy.url.is_none() && self.policy.evaluation_url.is_none() => p
                .push(
                "policy.url (the PDP's identifier) is required when policy.engine = \"authzen\""
                    .into(),
            ),
            "opa" | "authzen" => {}
            other => p.push(format!(
                "policy.engine must be embedded, opa or authzen (got \"{other}\")"
            )),
        }
        p.extend(self.transport_problems(""));
        p.extend(self.reconcile.problems());
        p.extend(self.oncall.problems());
        if self.llm.base_url.is_some() {
            if self.llm.model.is_none() {
                p.push("llm.model is required when llm.base_url is set".into());
            }
            if !["json_schema", "tool", "json_object"].contains(&self.llm.output.as_str()) {
                p.push(format!(
                    "llm.output must be json_schema, tool or json_object (got \"{}\")",
                    self.llm.output
                ));
            }
        }
        if self.slack.bot_token.is_some()
            && self.slack.signing_secret.is_none()
            && self.slack.app_token.is_none()
        {
            p.push("slack.signing_secret is missing (set WARDEN__SLACK__SIGNING_SECRET)".into());
        }
        // Interactions come to the endpoint (verified with the public key) or, with no endpoint
        // URL set in Discord, over the gateway: one of the two must be on.
        if self.discord.bot_token.is_some()
            && self.discord.public_key.is_none()
            && !self.discord.gateway
        {
            p.push(
                "discord.public_key is missing (set WARDEN__DISCORD__PUBLIC_KEY, or discord.gateway = true to take interactions over the gateway)"
                    .into(),
            );
        }
        if self.grants.webhook_url.is_some() && self.grants.webhook_secret.is_none() {
            p.push("grants.webhook_secret is missing (set WARDEN__GRANTS__WEBHOOK_SECRET)".into());
        }
        for (name, db) in &self.grants.databases {
            if !["postgres", "mysql"].contains(&db.engine.as_str()) {
                p.push(format!(
                    "grants.databases.{name}.engine must be postgres or mysql (got \"{}\")",
                    db.engine
                ));
            }
            match (&db.admin_url, &db.admin_url_env) {
                (Some(_), _) => {}
                (None, Some(var)) if std::env::var_os(var).is_some() => {}
                (None, Some(var)) => p.push(format!(
                    "grants.databases.{name}: the admin URL variable {var} is not set"
                )),
                (None, None) => p.push(format!(
                    "grants.databases.{name}.admin_url is missing (set WARDEN__GRANTS__DATABASES__{}__ADMIN_URL or admin_url_env)",
                    name.to_uppercase()
                )),
            }
        }
        if let Some(o) = &self.grants.okta {
            p.extend(o.problems());
        }
        if let Some(e) = &self.grants.entra {
            p.extend(e.problems());
        }
        if let Some(g) = &self.grants.github {
            p.extend(g.problems());
        }
        if self.agents.leeway_secs > 300 {
            p.push(
                "agents.leeway_secs must be at most 300 (a small clock skew, not a grace period)"
                    .into(),
            );
        }
        if let Some(k) = &self.agents.credential_key {
            use secrecy::ExposeSecret;
            if let Err(e) = crate::domain::SealingKey::parse(k.expose_secret()) {
                p.push(format!("agents.credential_key: {e}"));
            }
        }
        if let Some(r) = &self.agents.mcp_resource
            && let Err(why) = crate::agents::mcp::resource_url(r)
        {
            p.push(format!("agents.mcp_resource {why}"));
        }
        if !["file", "scim"].contains(&self.directory.kind.as_str()) {
            p.push(format!(
                "directory.kind must be file or scim (got \"{}\")",
                self.directory.kind
            ));
        }
        if self.directory.kind == "scim" && self.directory.scim_url.is_none() {
            p.push("directory.scim_url is required when directory.kind = \"scim\"".into());
        }
        if !["always", "approval_only", "never"].contains(&self.workflow.confirm.as_str()) {
            p.push(format!(
                "workflow.confirm must be always, approval_only or never (got \"{}\")",
                self.workflow.confirm
            ));
        }
        for (key, v) in [
            ("workflow.pending_ttl", &self.workflow.pending_ttl),
            ("workflow.confirm_ttl", &self.workflow.confirm_ttl),
            ("workflow.reminder_before", &self.workflow.reminder_before),
            (
                "workflow.expiry_warning_before",
                &self.workflow.expiry_warning_before,
            ),
            (
                "workflow.break_glass_duration",
                &self.workflow.break_glass_duration,
            ),
        ] {
            if crate::domain::parse_duration(v).is_none() {
                p.push(format!("{key} is not a duration (got \"{v}\"; try \"4h\")"));
            }
        }
        p.extend(self.limits.problems());
        if let Some(k) = &self.evidence.chain_key {
            use secrecy::ExposeSecret;
            if k.expose_secret().trim().len() < crate::store::MIN_KEY_BYTES {
                p.push(format!(
                    "evidence.chain_key must be at least {} bytes (try `openssl rand -hex 32`)",
                    crate::store::MIN_KEY_BYTES
                ));
            }
        }
        if self.evidence.anchor_interval_secs == 0 {
            p.push("evidence.anchor_interval_secs must be at least 1".into());
        }
        match crate::domain::parse_duration(&self.workflow.dedup_window) {
            Some(secs) if secs < 3600 => p.push(format!(
                "workflow.dedup_window must be at least 1h, longer than the platforms' retries (got \"{}\")",
                self.workflow.dedup_window
            )),
            None => p.push(format!(
                "workflow.dedup_window is not a duration (got \"{}\"; try \"24h\")",
                self.workflow.dedup_window
            )),
            Some(_) => {}
        }
        // A query may hold a token too; it is allowed (some collectors need parameters) and
        // never logged. A user:password is always a credential.
        if let Some(u) = &self.admin.siem_url
            && url::Url::parse(u).is_ok_and(|u| !u.username().is_empty() || u.password().is_some())
        {
            p.push("admin.siem_url carries a user name or password: put the credential in admin.siem_auth (env WARDEN__ADMIN__SIEM_AUTH) or admin.siem_auth_file".into());
        }
        p.extend(self.sso.problems());
        p.extend(self.grants.aws.problems());
        if !["text", "json"].contains(&self.log.format.as_str()) {
            p.push(format!(
                "log.format must be text or json (got \"{}\")",
                self.log.format
            ));
        }
        p
    }

    /// The remote services Warden sends secrets or decisions to, by key: each must pass the one
    /// transport rule (`http_client::check_transport`).
    pub fn remote_urls(&self) -> Vec<(&'static str, &str)> {
        let policy_remote = matches!(self.policy.engine.as_str(), "opa" | "authzen");
        [
            (
                "policy.url",
                self.policy.url.as_deref().filter(|_| policy_remote),
            ),
            (
                "policy.evaluation_url",
                self.policy
                    .evaluation_url
                    .as_deref()
                    .filter(|_| policy_remote),
            ),
            ("llm.base_url", self.llm.base_url.as_deref()),
            ("directory.scim_url", self.directory.scim_url.as_deref()),
            ("grants.webhook_url", self.grants.webhook_url.as_deref()),
            ("admin.siem_url", self.admin.siem_url.as_deref()),
            ("sso.issuer", self.sso.issuer.as_deref()),
            ("slack.api_url", self.slack.api_url.as_deref()),
            ("discord.api_url", self.discord.api_url.as_deref()),
            ("oncall.api_url", self.oncall.api_base()),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .chain(self.grants.aws.endpoints())
        .collect()
    }

    /// The remote URLs whose key starts with `prefix` ("" for all, "llm." for the model) that
    /// break the transport rule, each as `key` plus the reason. Commands that build one client
    /// without starting the service check theirs with this too.
    pub fn transport_problems(&self, prefix: &str) -> Vec<String> {
        self.remote_urls()
            .into_iter()
            .filter(|(key, _)| key.starts_with(prefix))
            .filter_map(|(key, value)| {
                url::Url::parse(value)
                    .map_err(|_| "is not an http(s) URL".to_string())
                    .and_then(|u| {
                        check_transport(&u, &self.transport.allow_http_hosts)
                            .map_err(|e| e.to_string())
                    })
                    .err()
                    .map(|why| format!("{key} {why}"))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Settings;
    use secrecy::SecretString;

    fn discord_bot_only(gateway: bool) -> Vec<String> {
        let mut s = Settings::default();
        s.discord.bot_token = Some(SecretString::from("bot-token"));
        s.discord.gateway = gateway;
        s.problems()
    }

    #[test]
    fn a_discord_bot_needs_the_interactions_endpoint_key_unless_the_gateway_takes_them() {
        let missing = |p: &Vec<String>| p.iter().any(|m| m.starts_with("discord.public_key"));
        assert!(missing(&discord_bot_only(false)));
        assert!(!missing(&discord_bot_only(true)));
    }

    #[test]
    fn an_mcp_resource_that_is_not_an_https_url_is_a_problem() {
        let with = |r: &str| {
            let mut s = Settings::default();
            s.agents.mcp_resource = Some(r.into());
            s.problems()
                .into_iter()
                .any(|m| m.starts_with("agents.mcp_resource"))
        };
        assert!(!with("https://warden.example.com/mcp"));
        assert!(with("http://warden.example.com/mcp"));
        assert!(with("/mcp"));
    }
}

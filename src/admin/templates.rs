//! The admin UI's handlebars templates and stylesheet, embedded in the binary.
//!
//! Strict mode (a missing field is an error, not an empty string) and HTML escaping on: every
//! value shown came from chat or a model and is untrusted.

use handlebars::Handlebars;

pub const CSS: &str = include_str!("templates/admin.css");

const TEMPLATES: &[(&str, &str)] = &[
    ("header", include_str!("templates/header.hbs")),
    ("footer", include_str!("templates/footer.hbs")),
    ("sign_in", include_str!("templates/sign_in.hbs")),
    ("requests", include_str!("templates/requests.hbs")),
    ("request", include_str!("templates/request.hbs")),
    ("grants", include_str!("templates/grants.hbs")),
    ("jobs", include_str!("templates/jobs.hbs")),
    ("drift", include_str!("templates/drift.hbs")),
    ("replay", include_str!("templates/replay.hbs")),
    ("freezes", include_str!("templates/freezes.hbs")),
    ("passkeys", include_str!("templates/passkeys.hbs")),
    ("step_up", include_str!("templates/step_up.hbs")),
    ("agents", include_str!("templates/agents.hbs")),
];

pub fn registry() -> anyhow::Result<Handlebars<'static>> {
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
    for (name, text) in TEMPLATES {
        hb.register_template_string(name, text)
            .map_err(|e| anyhow::anyhow!("admin template {name} is invalid: {e}"))?;
    }
    Ok(hb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_from_chat_are_html_escaped() {
        let hb = registry().unwrap();
        let ctx = serde_json::json!({ "title": "x", "configured": true, "sso": false, "error": "<script>alert(1)</script>", "csrf": "c" });
        let html = hb.render("sign_in", &ctx).unwrap();
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;")
                && !html.contains("<script>alert"),
            "{html}"
        );
    }

    #[test]
    fn a_missing_field_is_an_error_not_an_empty_string() {
        let hb = registry().unwrap();
        assert!(
            hb.render(
                "sign_in",
                &serde_json::json!({ "configured": true, "sso": false, "error": null })
            )
            .is_err(),
            "csrf is missing"
        );
    }
}

//! Test catalogs shared by several backends' tests.

/// TOML for two low-risk resources whose grants are the one same access (`grant`, an inline
/// table): the catalog of every overlapping-grants test. `extra` adds lines to each resource.
pub fn sharing_one_access(resources: [(&str, &str); 2], grant: &str, extra: &str) -> String {
    resources
        .iter()
        .map(|(id, name)| {
            format!(
                r#"
[[resource]]
id = "{id}"
name = "{name}"
aliases = ["{alias}"]
roles = ["read"]
risk = "low"
default_duration = "1h"
grant = {grant}
{extra}
"#,
                alias = name.to_lowercase()
            )
        })
        .collect()
}

//! The `/access` slash command and `warden discord register-commands`, which PUTs it (replacing
//! Warden's command set) globally or for one guild.

use super::rest::{DiscordRest, Route};
use reqwest::Method;
use serenity::all::CommandOptionType;
use serenity::builder::{CreateCommand, CreateCommandOption};

fn text(name: &str, description: &str, required: bool, max: u16) -> CreateCommandOption {
    CreateCommandOption::new(CommandOptionType::String, name, description)
        .required(required)
        .max_length(max)
}

fn sub(name: &str, description: &str) -> CreateCommandOption {
    CreateCommandOption::new(CommandOptionType::SubCommand, name, description)
}

/// `/access ask|request|status|revoke|cancel`.
pub fn definitions() -> Vec<CreateCommand> {
    vec![
        CreateCommand::new("access")
            .description("Ask for time-bound access, check on it, or give it back")
            .add_option(sub("ask", "Ask in your own words").add_sub_option(text(
                "text",
                "e.g. read on the prod billing db for 2h, INC-4411",
                true,
                500,
            )))
            .add_option(
                sub("request", "Ask with the exact fields")
                    .add_sub_option(text("resource", "What (e.g. prod-db)", true, 100))
                    .add_sub_option(text("role", "Which role (e.g. read)", true, 50))
                    .add_sub_option(text("duration", "How long (e.g. 2h)", false, 20))
                    .add_sub_option(text("reason", "Why (ticket or incident)", false, 300)),
            )
            .add_option(sub(
                "status",
                "Your open requests, active access and what waits for you",
            ))
            .add_option(sub("revoke", "End active access now").add_sub_option(text(
                "id",
                "Request id (AR-…)",
                true,
                40,
            )))
            .add_option(
                sub("cancel", "Cancel a request that is not granted yet").add_sub_option(text(
                    "id",
                    "Request id (AR-…)",
                    true,
                    40,
                )),
            ),
    ]
}

/// Registers the commands; returns how many Discord now has for this scope.
pub async fn register(
    rest: &DiscordRest,
    application_id: &str,
    guild: Option<&str>,
) -> anyhow::Result<usize> {
    let path = match guild {
        Some(g) => format!("/applications/{application_id}/guilds/{g}/commands"),
        None => format!("/applications/{application_id}/commands"),
    };
    let answer = rest
        .call(
            Method::PUT,
            Route::new("commands", application_id),
            &path,
            Some(&definitions()),
            None,
        )
        .await?;
    Ok(answer.as_array().map_or(0, Vec::len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_access_command_has_the_five_subcommands() {
        let json = serde_json::to_value(definitions()).unwrap();
        let names: Vec<&str> = json[0]["options"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["name"].as_str().unwrap())
            .collect();
        assert_eq!(json[0]["name"], "access");
        assert_eq!(names, ["ask", "request", "status", "revoke", "cancel"]);
    }
}

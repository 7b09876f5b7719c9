//! `warden discord register-commands [--guild ID]`: puts the `/access` command on Discord.

use crate::cli::DiscordCommand;
use crate::config::Settings;
use anyhow::Context;
use std::process::ExitCode;

pub async fn run(s: &Settings, command: DiscordCommand) -> anyhow::Result<ExitCode> {
    match command {
        DiscordCommand::RegisterCommands { guild } => {
            anyhow::ensure!(
                s.discord.bot_token.is_some(),
                "discord.bot_token is not set (set WARDEN__DISCORD__BOT_TOKEN)"
            );
            let app = s.discord.application_id.as_deref().context(
                "discord.application_id is not set (the Application ID from the developer portal)",
            )?;
            let rest = crate::chat::discord::rest(s)?;
            let n = crate::chat::discord::commands::register(&rest, app, guild.as_deref())
                .await
                .context("Failed to register the commands with Discord")?;
            match guild {
                Some(g) => println!("registered {n} command(s) for guild {g} (available at once)"),
                None => println!(
                    "registered {n} global command(s) (Discord may take up to an hour to show them everywhere)"
                ),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

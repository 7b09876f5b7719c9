//! `warden admin token create`: a new admin API token, printed once; only its hash is kept.

use crate::admin::tokens::{Role, file_entry, generate};
use crate::cli::{AdminCommand, TokenCommand};
use std::process::ExitCode;

pub fn run(command: AdminCommand) -> anyhow::Result<ExitCode> {
    match command {
        AdminCommand::Token {
            command: TokenCommand::Create { name, role, person },
        } => {
            let role = Role::parse(&role).ok_or_else(|| {
                anyhow::anyhow!("--role must be admin, viewer or requester (got '{role}')")
            })?;
            anyhow::ensure!(!name.trim().is_empty(), "--name must not be empty");
            anyhow::ensure!(
                role != Role::Requester || person.is_some(),
                "a requester token needs --person <directory id>"
            );
            let (token, hash) = generate();
            println!("Token (shown once; store it in a password manager):\n\n  {token}\n");
            println!(
                "Add these lines to the file named by admin.tokens_file (Warden reads it again on change):\n"
            );
            print!("{}", file_entry(&name, role, person.as_deref(), &hash));
            Ok(ExitCode::SUCCESS)
        }
    }
}

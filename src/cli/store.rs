//! `kiln store` (under construction).
use super::{CliError, Context};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// (under construction)
    Todo,
}

pub fn run(_cmd: Command, _ctx: &Context) -> Result<u8, CliError> {
    Err(CliError::internal("kiln store is not built yet"))
}

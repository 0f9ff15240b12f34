//! `kiln build` (under construction).
use super::{CliError, Context};

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args, _ctx: &Context) -> Result<u8, CliError> {
    Err(CliError::internal("kiln build is not built yet"))
}

//! `kiln plan` (under construction).
use super::{CliError, Context};

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args, _ctx: &Context) -> Result<u8, CliError> {
    Err(CliError::internal("kiln plan is not built yet"))
}

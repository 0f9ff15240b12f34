//! `kiln hash` (under construction).
use super::{CliError, Context};

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args, _ctx: &Context) -> Result<u8, CliError> {
    Err(CliError::internal("kiln hash is not built yet"))
}

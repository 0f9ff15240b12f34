//! The `kiln` binary: parse arguments, run, map errors to exit codes.

#![warn(clippy::too_many_lines)]

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(kiln::cli::main())
}

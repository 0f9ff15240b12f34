//! Runs kiln's crate surface alone (sandboxed `cargo package` without its
//! verify step, determinism checks, collection) on an already materialised and stamped workspace, for
//! `bench/crate.sh`:
//!
//! ```text
//! cargo run --release --example crate_surface -- WORKSPACE STAGING TOOL_CACHE [MEMBER...]
//! ```
//!
//! `WORKSPACE` holds the Cargo workspace in `src/`, as kiln lays it out.

use std::path::PathBuf;

use kiln::sandbox::{host_cargo_home, resolve_tools_cached, SandboxMode};
use kiln::surface::crate_::{build, CrateSpec, TOOLS};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        eprintln!("usage: crate_surface WORKSPACE STAGING TOOL_CACHE [MEMBER...]");
        std::process::exit(2);
    }
    let ws = PathBuf::from(&args[0]);
    let staging = PathBuf::from(&args[1]);
    let cache = PathBuf::from(&args[2]);
    let names: Vec<String> = TOOLS.iter().map(|t| t.to_string()).collect();
    let tools = resolve_tools_cached(&names, &ws.join("src"), Some(&cache)).expect("tools");
    let spec = CrateSpec {
        manifest_dir: "src".into(),
        members: args[3..].to_vec(),
        tools,
        cargo_home: host_cargo_home(),
        source_date_epoch: 1_700_000_000,
        mode: SandboxMode::Bubblewrap,
        limits: kiln::sandbox::Limits::default(),
        // The benchmark times packing; the verify step is a cargo build.
        verify: false,
    };
    std::fs::create_dir_all(&staging).expect("staging dir");
    let log = staging.join("log");
    match build(&ws, &spec, &staging, &log) {
        Ok(crates) => {
            for c in crates {
                println!("{} {}", c.sha256, c.file_name);
            }
        }
        Err(e) => {
            eprintln!("crate surface failed: {e}");
            std::process::exit(1);
        }
    }
}

//! `kiln plan`: resolve derivations and print them; builds nothing.

use super::context::{CliError, Context};

/// Resolve recipes into derivations and print their hashes and inputs,
/// and what each build stamps into its copies of the sources.
/// A recipe whose inputs are not built yet has no hash until they are
/// (a derivation names its inputs by the NAR hash of their outputs).
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub selection: super::selection::Selection,
    /// Print full derivations as JSON.
    #[arg(long)]
    pub json: bool,
    /// Print the release's jobs for a CI matrix instead: its derivations
    /// grouped by system (shards when the store's recorded build times
    /// exceed --job-seconds), each with the jobs it needs.
    #[arg(long)]
    pub jobs: bool,
    /// With --jobs: split a system's derivations into shards of about this
    /// many seconds of recorded build time (default: 1200).
    #[arg(long, value_name = "SECONDS", requires = "jobs")]
    pub job_seconds: Option<u64>,
}

pub(crate) fn run(args: Args, ctx: &Context) -> Result<u8, CliError> {
    let mut opts = super::selection::options(args.selection, ctx)?;
    if args.jobs {
        opts.job_seconds = args.job_seconds;
        let plan = crate::engine::plan_jobs(&opts)?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&plan).expect("json"));
        } else {
            print!("{}", jobs_text(&plan));
        }
        return Ok(0);
    }
    let planned = crate::engine::plan(&opts)?;
    if args.json {
        let v: Vec<serde_json::Value> = planned
            .iter()
            .map(|p| {
                let mut v = serde_json::json!({
                    "name": p.id, "surface": p.surface.as_str(), "drv": p.drv.as_ref().map(|d| d.as_str()),
                    "cached": p.cached, "inputs": p.inputs, "derivation": p.derivation,
                    "stamping": p.stamping,
                });
                if let Some(c) = &p.python {
                    v["python_builder"] = serde_json::json!({"mode": c.label(), "reason": c.reason});
                }
                v
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"recipes": v})).expect("json")
        );
    } else {
        for p in &planned {
            let drv = p
                .drv
                .as_ref()
                .map(|d| d.short().to_string())
                .unwrap_or_else(|| "(after inputs)".into());
            let state = if p.cached { "cached" } else { "to build" };
            let inputs: Vec<String> = p
                .inputs
                .iter()
                .map(|(m, r)| format!("{}={}", crate::name::shown(m), crate::name::shown(r)))
                .collect();
            println!(
                "{:24} {:8} {:16} {:9} {}",
                crate::name::shown(&p.id),
                p.surface.as_str(),
                drv,
                state,
                inputs.join(" ")
            );
            if let Some(c) = &p.python {
                println!(
                    "  builder: {} ({})",
                    c.label(),
                    crate::name::shown(&c.reason)
                );
            }
            if let Some(line) = stamping_line(&p.stamping) {
                println!("  {line}");
            }
        }
    }
    Ok(0)
}

/// The short line of what a recipe's build stamps: the files and how many
/// fields (`kiln plan --json` has each field); none when it stamps nothing.
fn stamping_line(changes: &[crate::stamp::StampChange]) -> Option<String> {
    let mut files: Vec<String> = changes
        .iter()
        .map(|c| crate::name::shown_path(&c.file))
        .collect();
    files.dedup();
    let n = changes.len();
    let fields = if n == 1 { "field" } else { "fields" };
    (n > 0).then(|| format!("stamps {} ({n} {fields})", files.join(", ")))
}

/// `kiln plan --jobs`: one line per job, then its recipes.
fn jobs_text(plan: &crate::engine::jobs::JobPlan) -> String {
    let mut out = String::new();
    for j in &plan.jobs {
        let needs = match j.needs.is_empty() {
            true => String::new(),
            false => format!(
                " (needs {})",
                j.needs
                    .iter()
                    .map(|n| crate::name::shown(n).into_owned())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        out.push_str(&format!("{}{needs}\n", crate::name::shown(&j.id)));
        for r in &j.recipes {
            out.push_str(&format!("  {}\n", crate::name::shown(r)));
        }
    }
    out
}

//! The GitHub Actions release workflow: a typed model of its jobs and
//! steps, built from the checked [`CiConfig`], and its YAML.
//!
//! plan → build (a matrix of `kiln plan --jobs` jobs, each on its system's
//! runner) → assemble (`dist/` from the cache, uploaded as an artifact) →
//! verify (`sha256sum --check`, `kiln verify` of each artifact) → publish
//! (tag pushes only, in a deployment environment). The workflow has no
//! permission by default (`permissions: {}`), each job only `contents:
//! read`; the jobs that read the cache's secrets run in a deployment
//! environment (`kiln-cache`), the publish job in its own; every action is pinned by commit; checkouts keep no credentials;
//! secrets and every value a step script reads reach it through `env:`,
//! never through `${{ }}` inside the script.

use super::config::{CiConfig, KilnInstall};
use super::yaml::Yaml;

/// The actions the workflow uses, pinned by full commit id (the tag they
/// were released as is in the comment and the step's name).
const CHECKOUT: &str = "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683"; // v4.2.2
const UPLOAD: &str = "actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02"; // v4.6.2
const DOWNLOAD: &str = "actions/download-artifact@d3f86a106a0bac45b974a628896c90dbdf5c8093"; // v4.3.0

/// One step of a job.
#[derive(Debug, Clone, Default)]
struct Step {
    name: String,
    id: Option<String>,
    uses: Option<&'static str>,
    with: Vec<(String, Yaml)>,
    env: Vec<(String, String)>,
    run: Option<String>,
}

/// One job.
#[derive(Debug, Clone, Default)]
struct Job {
    id: &'static str,
    name: String,
    needs: Option<&'static str>,
    condition: Option<String>,
    runs_on: String,
    environment: Option<String>,
    /// The `include:` expression of a dynamic matrix.
    matrix: Option<String>,
    outputs: Vec<(String, String)>,
    steps: Vec<Step>,
}

/// The generated workflow's text.
pub(crate) fn workflow(c: &CiConfig) -> String {
    let mut jobs = vec![plan(c), build(c), assemble(c), verify(c)];
    if c.publish {
        jobs.push(publish(c));
    }
    let root = Yaml::map([
        ("name", Yaml::str("release")),
        ("on", triggers(c)),
        ("permissions", Yaml::map::<String>([])),
        (
            "concurrency",
            Yaml::map([
                ("group", Yaml::str("kiln-release-${{ github.ref }}")),
                ("cancel-in-progress", Yaml::Bool(false)),
            ]),
        ),
        (
            "jobs",
            Yaml::map(jobs.iter().map(|j| (j.id, job_yaml(j)))),
        ),
    ]);
    super::yaml::document(super::HEADER_GITHUB, &root)
}

fn triggers(c: &CiConfig) -> Yaml {
    let glob = format!("{}*{}", c.tag_prefix, c.tag_suffix);
    Yaml::map([
        (
            "push",
            Yaml::map([("tags", Yaml::strs([glob]))]),
        ),
        ("workflow_dispatch", Yaml::map::<String>([])),
    ])
}

fn job_yaml(j: &Job) -> Yaml {
    let mut m: Vec<(String, Yaml)> = vec![("name".into(), Yaml::str(&j.name))];
    if let Some(n) = j.needs {
        m.push(("needs".into(), Yaml::str(n)));
    }
    if let Some(c) = &j.condition {
        m.push(("if".into(), Yaml::str(c)));
    }
    m.push(("runs-on".into(), Yaml::str(&j.runs_on)));
    m.push((
        "permissions".into(),
        Yaml::map([("contents", Yaml::str("read"))]),
    ));
    if let Some(e) = &j.environment {
        m.push(("environment".into(), Yaml::str(e)));
    }
    if let Some(include) = &j.matrix {
        m.push((
            "strategy".into(),
            Yaml::map([
                ("fail-fast", Yaml::Bool(false)),
                ("matrix", Yaml::map([("include", Yaml::str(include))])),
            ]),
        ));
    }
    if !j.outputs.is_empty() {
        let outputs = j.outputs.iter().map(|(k, v)| (k.clone(), Yaml::str(v)));
        m.push(("outputs".into(), Yaml::map(outputs)));
    }
    m.push((
        "steps".into(),
        Yaml::Seq(j.steps.iter().map(step_yaml).collect()),
    ));
    Yaml::Map(m)
}

fn step_yaml(s: &Step) -> Yaml {
    let mut m: Vec<(String, Yaml)> = vec![("name".into(), Yaml::str(&s.name))];
    if let Some(id) = &s.id {
        m.push(("id".into(), Yaml::str(id)));
    }
    if let Some(u) = s.uses {
        m.push(("uses".into(), Yaml::str(u)));
    }
    if !s.with.is_empty() {
        m.push(("with".into(), Yaml::Map(s.with.clone())));
    }
    if !s.env.is_empty() {
        let env = s.env.iter().map(|(k, v)| (k.clone(), Yaml::str(v)));
        m.push(("env".into(), Yaml::map(env)));
    }
    if let Some(r) = &s.run {
        m.push(("run".into(), Yaml::Script(r.clone())));
    }
    Yaml::Map(m)
}

fn checkout() -> Step {
    Step {
        name: "Check out the tagged commit with its history (actions/checkout v4.2.2)".into(),
        uses: Some(CHECKOUT),
        with: vec![
            ("persist-credentials".into(), Yaml::Bool(false)),
            ("fetch-depth".into(), Yaml::Int(0)),
        ],
        ..Step::default()
    }
}

/// bubblewrap, kiln's sandbox, and the user namespaces it needs (Ubuntu
/// 24.04 restricts them to AppArmor-profiled programs by default).
fn sandbox() -> Step {
    Step {
        name: "Install bubblewrap".into(),
        run: Some(
            "sudo apt-get update -qq\n\
             sudo apt-get install -y -qq --no-install-recommends bubblewrap\n\
             if [ -e /proc/sys/kernel/apparmor_restrict_unprivileged_userns ]; then\n  \
             sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0\n\
             fi\n"
                .into(),
        ),
        ..Step::default()
    }
}

fn install(c: &CiConfig) -> Step {
    let what = match &c.kiln {
        KilnInstall::Path(p) => format!("--path {p}"),
        KilnInstall::Crate(v) => format!("kiln --version ={v}"),
    };
    Step {
        name: "Install kiln".into(),
        run: Some(format!(
            "cargo install --locked --root \"$RUNNER_TEMP/kiln\" {what}\n\
             echo \"$RUNNER_TEMP/kiln/bin\" >> \"$GITHUB_PATH\"\n"
        )),
        ..Step::default()
    }
}

fn secret(name: &str) -> String {
    format!("${{{{ secrets.{name} }}}}")
}

fn cache_env(c: &CiConfig) -> (String, String) {
    ("KILN_CACHE_URL".into(), secret(&c.cache_url_secret))
}

fn plan(c: &CiConfig) -> Job {
    let runners = serde_json::to_string(&c.github.runners).expect("a map of strings serialises");
    let script = "kiln plan --jobs --json > \"$RUNNER_TEMP/plan.json\"\n\
        jobs=$(jq -c --argjson runners \"$KILN_RUNNERS\" \\\n  \
        '[.jobs[] | . + {runner: ($runners[.system] // error(\"no runner for system \\(.system): add it to [ci.github] runners\"))}]' \\\n  \
        \"$RUNNER_TEMP/plan.json\")\n\
        echo \"jobs=$jobs\" >> \"$GITHUB_OUTPUT\"\n";
    Job {
        id: "plan",
        name: "plan the jobs".into(),
        runs_on: c.github.runner.clone(),
        outputs: vec![("jobs".into(), "${{ steps.plan.outputs.jobs }}".into())],
        steps: vec![
            checkout(),
            install(c),
            Step {
                name: "Plan one job per system and recipe group".into(),
                id: Some("plan".into()),
                env: vec![("KILN_RUNNERS".into(), runners)],
                run: Some(script.into()),
                ..Step::default()
            },
        ],
        ..Job::default()
    }
}

fn build(c: &CiConfig) -> Job {
    let script = "umask 077\n\
        printf '%s\\n' \"$KILN_SIGNING_KEY\" > \"$RUNNER_TEMP/kiln-cache.secret\"\n\
        kiln build --job \"$KILN_JOB\" --cache \"$KILN_CACHE_URL\" --accept-repo-keys \\\n  \
        --push --signing-key \"$RUNNER_TEMP/kiln-cache.secret\"\n";
    Job {
        id: "build",
        name: "build ${{ matrix.id }}".into(),
        needs: Some("plan"),
        condition: Some("needs.plan.outputs.jobs != '[]'".into()),
        runs_on: "${{ matrix.runner }}".into(),
        matrix: Some("${{ fromJSON(needs.plan.outputs.jobs) }}".into()),
        environment: Some(c.cache_environment.clone()),
        steps: vec![
            checkout(),
            sandbox(),
            install(c),
            Step {
                name: "Build the job and push it to the cache, signed".into(),
                env: vec![
                    ("KILN_JOB".into(), "${{ matrix.id }}".into()),
                    cache_env(c),
                    ("KILN_SIGNING_KEY".into(), secret(&c.signing_key_secret)),
                ],
                run: Some(script.into()),
                ..Step::default()
            },
        ],
        ..Job::default()
    }
}

fn assemble(c: &CiConfig) -> Job {
    Job {
        id: "assemble",
        name: "assemble dist/".into(),
        needs: Some("build"),
        runs_on: c.github.runner.clone(),
        environment: Some(c.cache_environment.clone()),
        steps: vec![
            checkout(),
            sandbox(),
            install(c),
            Step {
                name: "Assemble dist/ from the cache".into(),
                env: vec![cache_env(c)],
                run: Some(
                    "kiln build --cache \"$KILN_CACHE_URL\" --accept-repo-keys --assemble\n".into(),
                ),
                ..Step::default()
            },
            Step {
                name: "Upload dist/ (actions/upload-artifact v4.6.2)".into(),
                uses: Some(UPLOAD),
                with: vec![
                    ("name".into(), Yaml::str("dist")),
                    ("path".into(), Yaml::str("dist/")),
                    ("if-no-files-found".into(), Yaml::str("error")),
                ],
                ..Step::default()
            },
        ],
        ..Job::default()
    }
}

fn verify(c: &CiConfig) -> Job {
    let script = "(cd dist && sha256sum --check --strict SHA256SUMS)\n\
        for statement in dist/*.intoto.json; do\n  \
        kiln verify \"${statement%.intoto.json}\"\n\
        done\n";
    Job {
        id: "verify",
        name: "verify dist/".into(),
        needs: Some("assemble"),
        runs_on: c.github.runner.clone(),
        steps: vec![
            checkout(),
            sandbox(),
            install(c),
            Step {
                name: "Download dist/ (actions/download-artifact v4.3.0)".into(),
                uses: Some(DOWNLOAD),
                with: vec![
                    ("name".into(), Yaml::str("dist")),
                    ("path".into(), Yaml::str("dist")),
                ],
                ..Step::default()
            },
            Step {
                name: "Check the sums and rebuild each artifact from its commit".into(),
                run: Some(script.into()),
                ..Step::default()
            },
        ],
        ..Job::default()
    }
}

fn publish(c: &CiConfig) -> Job {
    let mut env = vec![cache_env(c)];
    env.extend(c.publish_secrets.iter().map(|s| (s.clone(), secret(s))));
    Job {
        id: "publish",
        name: "publish".into(),
        needs: Some("verify"),
        condition: Some("github.ref_type == 'tag'".into()),
        runs_on: c.github.runner.clone(),
        environment: Some(c.environment.clone()),
        steps: vec![
            checkout(),
            sandbox(),
            install(c),
            Step {
                name: "Publish the release build to its registries".into(),
                env,
                run: Some(
                    "kiln build --cache \"$KILN_CACHE_URL\" --accept-repo-keys --assemble\n\
                     kiln publish\n"
                        .into(),
                ),
                ..Step::default()
            },
        ],
        ..Job::default()
    }
}

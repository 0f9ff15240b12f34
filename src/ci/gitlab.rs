//! The GitLab CI release pipeline, written as a file to `include:` from
//! the project's `.gitlab-ci.yml` (default `.gitlab/kiln-release.yml`):
//! so it sets no `workflow:` or `stages:` of its own, uses GitLab's default
//! stages (`build`, `test`, `deploy`) and orders its jobs with `needs:`.
//!
//! kiln-plan → one kiln-build job per system (on runners with that
//! system's tags), each building that system's `kiln plan --jobs` jobs →
//! kiln-assemble (`dist/` as an artifact) → kiln-verify → kiln-publish (tag
//! pipelines only, in a deployment environment). GitLab has no dynamic
//! matrix without child pipelines, so the per-system jobs are fixed here
//! and each loops over its system's jobs. CI/CD variables named in `[ci]`
//! carry the cache URL, the signing key and the registry credentials.

use super::config::{CiConfig, KilnInstall};
use super::yaml::Yaml;

/// The generated pipeline's text.
pub(crate) fn pipeline(c: &CiConfig) -> String {
    let mut jobs = vec![("kiln-plan".to_string(), plan(c))];
    for (system, tags) in &c.gitlab.tags {
        jobs.push((format!("kiln-build-{system}"), build(c, system, tags)));
    }
    jobs.push(("kiln-assemble".into(), assemble(c)));
    jobs.push(("kiln-verify".into(), verify(c)));
    if c.publish {
        jobs.push(("kiln-publish".into(), publish(c)));
    }
    super::yaml::document(super::HEADER_GITLAB, &Yaml::Map(jobs))
}

/// `^<prefix>.+<suffix>$` as a GitLab regex literal.
fn tag_regex(c: &CiConfig) -> String {
    let esc = |s: &str| s.replace('.', "\\.").replace('/', "\\/");
    format!(
        "/^{}.+{}$/",
        esc(&c.tag_prefix),
        esc(&c.tag_suffix)
    )
}

fn rules(c: &CiConfig, manual: bool) -> Yaml {
    let mut r = vec![Yaml::map([(
        "if",
        Yaml::str(format!("$CI_COMMIT_TAG =~ {}", tag_regex(c))),
    )])];
    if manual {
        r.push(Yaml::map([(
            "if",
            Yaml::str("$CI_PIPELINE_SOURCE == \"web\""),
        )]));
    }
    Yaml::Seq(r)
}

fn before(c: &CiConfig) -> Yaml {
    let what = match &c.kiln {
        KilnInstall::Path(p) => format!("--path {p}"),
        KilnInstall::Crate(v) => format!("kiln --version ={v}"),
    };
    Yaml::Seq(vec![
        Yaml::str("apt-get update -qq && apt-get install -y -qq --no-install-recommends bubblewrap jq git"),
        Yaml::str(format!(
            "cargo install --locked --root \"$CI_PROJECT_DIR/.kiln\" {what}"
        )),
        Yaml::str("export PATH=\"$CI_PROJECT_DIR/.kiln/bin:$PATH\""),
    ])
}

/// What every job has: stage, image, rules, a full clone, kiln installed.
fn job(c: &CiConfig, stage: &str, manual: bool, rest: Vec<(String, Yaml)>) -> Yaml {
    let mut m = vec![
        ("stage".to_string(), Yaml::str(stage)),
        ("image".into(), Yaml::str(&c.gitlab.image)),
        ("rules".into(), rules(c, manual)),
    ];
    let mut variables = vec![("GIT_DEPTH".to_string(), Yaml::str("0"))];
    let mut rest = rest;
    if let Some(i) = rest.iter().position(|(k, _)| k == "variables") {
        if let (_, Yaml::Map(more)) = rest.remove(i) {
            variables.extend(more);
        }
    }
    m.push(("variables".into(), Yaml::Map(variables)));
    m.push(("before_script".into(), before(c)));
    m.extend(rest);
    Yaml::Map(m)
}

fn plan(c: &CiConfig) -> Yaml {
    job(
        c,
        "build",
        true,
        vec![
            (
                "script".into(),
                Yaml::strs(["kiln plan --jobs --json > plan.json"]),
            ),
            (
                "artifacts".into(),
                Yaml::map([
                    ("paths", Yaml::strs(["plan.json"])),
                    ("expire_in", Yaml::str("1 day")),
                ]),
            ),
        ],
    )
}

fn build(c: &CiConfig, system: &str, tags: &[String]) -> Yaml {
    let script = format!(
        "kiln_key_file=\"$(mktemp)\"\n\
         printf '%s\\n' \"${key}\" > \"$kiln_key_file\"\n\
         jq -r '.jobs[] | select(.system == env.KILN_SYSTEM) | .id' plan.json > kiln-jobs.txt\n\
         while IFS= read -r job; do\n  \
         kiln build --job \"$job\" --cache \"${url}\" --accept-repo-keys \\\n    \
         --push --signing-key \"$kiln_key_file\" || exit 1\n\
         done < kiln-jobs.txt\n",
        key = c.signing_key_secret,
        url = c.cache_url_secret,
    );
    let mut rest = vec![
        ("needs".to_string(), Yaml::strs(["kiln-plan"])),
        (
            "variables".into(),
            Yaml::map([("KILN_SYSTEM", Yaml::str(system))]),
        ),
    ];
    if !tags.is_empty() {
        rest.push(("tags".into(), Yaml::strs(tags.iter().cloned())));
    }
    rest.push(("script".into(), Yaml::Seq(vec![Yaml::Script(script)])));
    job(c, "build", true, rest)
}

fn builds(c: &CiConfig) -> Yaml {
    Yaml::strs(c.gitlab.tags.keys().map(|s| format!("kiln-build-{s}")))
}

fn assemble(c: &CiConfig) -> Yaml {
    job(
        c,
        "build",
        true,
        vec![
            ("needs".into(), builds(c)),
            (
                "script".into(),
                Yaml::strs([format!(
                    "kiln build --cache \"${}\" --accept-repo-keys --assemble",
                    c.cache_url_secret
                )]),
            ),
            (
                "artifacts".into(),
                Yaml::map([
                    ("paths", Yaml::strs(["dist/"])),
                    ("expire_in", Yaml::str("30 days")),
                ]),
            ),
        ],
    )
}

fn verify(c: &CiConfig) -> Yaml {
    let script = "(cd dist && sha256sum --check --strict SHA256SUMS)\n\
        for statement in dist/*.intoto.json; do\n  \
        kiln verify \"${statement%.intoto.json}\" || exit 1\n\
        done\n";
    job(
        c,
        "test",
        true,
        vec![
            ("needs".into(), Yaml::strs(["kiln-assemble"])),
            ("script".into(), Yaml::Seq(vec![Yaml::Script(script.into())])),
        ],
    )
}

fn publish(c: &CiConfig) -> Yaml {
    job(
        c,
        "deploy",
        false,
        vec![
            (
                "needs".into(),
                Yaml::Seq(vec![Yaml::map([
                    ("job", Yaml::str("kiln-verify")),
                    ("artifacts", Yaml::Bool(false)),
                ])]),
            ),
            ("environment".into(), Yaml::str(&c.environment)),
            (
                "script".into(),
                Yaml::strs([
                    format!(
                        "kiln build --cache \"${}\" --accept-repo-keys --assemble",
                        c.cache_url_secret
                    ),
                    "kiln publish".into(),
                ]),
            ),
        ],
    )
}

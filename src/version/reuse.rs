//! Never reuse a version: a release build of `V` is made from the commit
//! `V`'s release tag names, or from no commit any tag claims for `V`.
//!
//! Two witnesses, both checked before anything is built:
//! - **the repository's tags** ([`check_tags`]): a `--tag T` that exists in
//!   the repository must point at the commit being built, and so must the
//!   policy's release tag of the version being released (`--version 3.1.0`
//!   on another commit than `version/3.1.0`'s is refused);
//! - **the store's sealed release records** (`Store::released_from`, checked
//!   by the engine): a release of `V` whose source differs from an earlier
//!   release of `V` built in this store is refused the same way, so a
//!   version whose tag was never pushed, or was moved, is not built twice
//!   from different sources either.

use super::error::VersionError;
use super::policy::ReleasePolicy;
use super::resolve::ResolvedVersion;
use crate::source::Checkout;

/// Refuse a release build whose commit is not the one its tags name.
pub(crate) fn check_tags(
    checkout: &Checkout,
    policy: &ReleasePolicy,
    resolved: &ResolvedVersion,
    tag_override: Option<&str>,
) -> Result<(), VersionError> {
    let (Some(repo), Some(built)) = (&checkout.repo, &checkout.commit) else {
        return Ok(());
    };
    if !resolved.is_release() {
        return Ok(());
    }
    let tags = repo.all_tags()?;
    let release_tag = policy.tag.render(&resolved.canonical);
    let named = tag_override
        .into_iter()
        .map(str::to_string)
        .chain(std::iter::once(release_tag));
    for tag in named {
        if !tags.contains(&tag) {
            continue;
        }
        let tagged = repo.resolve(&format!("refs/tags/{tag}"))?;
        if tagged != built.id {
            return Err(VersionError::Reused {
                version: resolved.canonical.to_string(),
                tag,
                tagged,
                built: built.id.clone(),
            });
        }
    }
    Ok(())
}

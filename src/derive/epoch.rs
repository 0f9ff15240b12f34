//! `SOURCE_DATE_EPOCH`: the one timestamp of a build, and where it came from.
//!
//! An explicit environment value (parsed once, at the command-line
//! boundary) wins; then the committer time of the commit built; then the
//! recipe's `source-date-epoch`, then the policy's; then 1980-01-01, the
//! earliest time a zip archive can hold.

use crate::error::{Classify, ErrorKind};

/// Default of a directory source: 1980-01-01T00:00:00Z.
pub(crate) const DEFAULT_SOURCE_DATE_EPOCH: i64 = 315_532_800;

/// Where a build's `SOURCE_DATE_EPOCH` came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EpochOrigin {
    /// The `SOURCE_DATE_EPOCH` environment variable.
    Environment,
    /// The committer time of the commit built.
    Commit,
    /// The recipe's `source-date-epoch`.
    Recipe,
    /// The release policy's `source-date-epoch`.
    Policy,
    /// None of the above: 1980-01-01.
    Default,
}

/// Seconds since 1970 (never negative), with their origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SourceDateEpoch {
    seconds: i64,
    origin: EpochOrigin,
}

/// A `SOURCE_DATE_EPOCH` value that is not a whole number of seconds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("SOURCE_DATE_EPOCH={value:?} is not a whole number of seconds since 1970")]
pub struct EpochError {
    pub value: String,
}

impl Classify for EpochError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::BadInput
    }
}

impl SourceDateEpoch {
    /// Parse the environment variable's value: 1 to 12 ASCII digits.
    pub fn from_env_value(value: &str) -> Result<SourceDateEpoch, EpochError> {
        let bad = || EpochError {
            value: value.to_string(),
        };
        if value.is_empty() || value.len() > 12 || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let seconds = value.parse().map_err(|_| bad())?;
        Ok(SourceDateEpoch {
            seconds,
            origin: EpochOrigin::Environment,
        })
    }

    /// The epoch of one build, by the precedence in the module docs.
    pub fn resolve(
        explicit: Option<SourceDateEpoch>,
        commit_time: Option<i64>,
        recipe: Option<i64>,
        policy: Option<i64>,
    ) -> SourceDateEpoch {
        if let Some(e) = explicit {
            return e;
        }
        let (seconds, origin) = match (commit_time, recipe, policy) {
            (Some(t), _, _) => (t, EpochOrigin::Commit),
            (None, Some(r), _) => (r, EpochOrigin::Recipe),
            (None, None, Some(p)) => (p, EpochOrigin::Policy),
            (None, None, None) => (DEFAULT_SOURCE_DATE_EPOCH, EpochOrigin::Default),
        };
        SourceDateEpoch { seconds, origin }
    }

    pub fn seconds(self) -> i64 {
        self.seconds
    }

    pub fn origin(self) -> EpochOrigin {
        self.origin
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(
        env: Option<&str>,
        commit: Option<i64>,
        configured: Option<i64>,
    ) -> Result<i64, EpochError> {
        let explicit = env.map(SourceDateEpoch::from_env_value).transpose()?;
        Ok(SourceDateEpoch::resolve(explicit, commit, configured, None).seconds())
    }

    #[test]
    fn epoch_rules() {
        assert_eq!(secs(None, None, None).unwrap(), 315_532_800);
        assert_eq!(secs(None, Some(5), Some(7)).unwrap(), 5);
        assert_eq!(secs(Some("9"), Some(5), None).unwrap(), 9);
        assert!(secs(Some(""), None, None).is_err());
        assert!(secs(Some("1.5"), None, None).is_err());
        assert!(secs(Some("-3"), None, None).is_err());
    }

    #[test]
    fn origins_follow_the_precedence() {
        let o = |e: SourceDateEpoch| e.origin();
        assert_eq!(
            o(SourceDateEpoch::resolve(None, None, Some(1), Some(2))),
            EpochOrigin::Recipe
        );
        assert_eq!(
            o(SourceDateEpoch::resolve(None, None, None, Some(2))),
            EpochOrigin::Policy
        );
        assert_eq!(
            o(SourceDateEpoch::resolve(None, None, None, None)),
            EpochOrigin::Default
        );
        assert_eq!(
            o(SourceDateEpoch::resolve(None, Some(3), None, Some(2))),
            EpochOrigin::Commit
        );
    }
}

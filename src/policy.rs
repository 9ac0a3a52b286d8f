//! Senior review for declared paths (SPEC §13.14): the log's owner declares, in an owner-signed
//! `review_policy` control entry, which paths need a senior's review and which keys are senior;
//! every verifier then reports a merge of a change touching those paths without an approving
//! review by a senior key as a `senior_review` finding.
//!
//! The rule is judged on signed evidence only: the paths a change touches are the ones its
//! `merge` entry lists (signed by the person who merged), the reviews are `review` entries of
//! the same change recorded before the merge, and the policy is the one in force at the merge's
//! position — a policy declared later does not apply to an earlier merge, and withdrawing a
//! policy does not excuse a merge made while it was in force.
//!
//! ```
//! use sealtrail::policy::ReviewPolicy;
//! let policy = ReviewPolicy::new(vec![sealtrail::KeyId([7; 32])], vec!["auth/**".into()]).unwrap();
//! assert!(policy.covers("auth/session/token.rs").is_some());
//! assert!(policy.covers("docs/auth.md").is_none());
//! let bytes = policy.encode().unwrap();
//! assert_eq!(ReviewPolicy::decode(&bytes).unwrap(), policy);
//! ```

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::codec::{DecodeError, from_canonical, to_canonical};
use crate::entry::{Entry, Payload};
use crate::event::{ChangeRef, Event, ReviewVerdict};
use crate::keys::KeyId;
use crate::registry::{KeyRegistry, MAX_CONTROL_PAYLOAD_LEN};

/// The kind of a review-policy entry: a control entry signed by an owner key (SPEC §7.1, §7.5).
pub const REVIEW_POLICY: &str = "review_policy";

/// At most this many path patterns in one policy.
pub const MAX_SENIOR_PATHS: usize = 1024;

/// At most this many senior keys in one policy.
pub const MAX_SENIOR_KEYS: usize = 1024;

/// The payload of a `review_policy` entry (SPEC §13.14): it replaces any earlier policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewPolicy {
    /// The keys whose review counts as a senior's, sorted, without repeats.
    senior_keys: Vec<serde_bytes::ByteArray<32>>,
    /// Path patterns (SPEC §13.8) a change may not be merged into without a senior's review.
    senior_paths: Vec<String>,
}

/// Why a review policy is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyProblem {
    /// The payload is over the control-payload limit (64 KiB).
    #[error("review_policy payload of {0} bytes is over the 64 KiB limit of control payloads")]
    TooLarge(usize),
    /// The payload is not a review policy in the canonical profile.
    #[error("review_policy payload does not decode: {0}")]
    Payload(DecodeError),
    /// A field breaks a rule of SPEC §13.14.
    #[error("review_policy field `{field}`: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
}

impl ReviewPolicy {
    /// A policy naming senior keys and the path patterns that need their review. Keys are
    /// sorted; an empty `senior_paths` withdraws any earlier requirement.
    pub fn new(senior_keys: Vec<KeyId>, senior_paths: Vec<String>) -> Result<Self, PolicyProblem> {
        let keys: BTreeSet<[u8; 32]> = senior_keys.iter().map(|k| k.0).collect();
        let policy = ReviewPolicy {
            senior_keys: keys.into_iter().map(serde_bytes::ByteArray::new).collect(),
            senior_paths,
        };
        policy.check()?;
        Ok(policy)
    }

    /// The senior keys.
    pub fn senior_keys(&self) -> Vec<KeyId> {
        self.senior_keys
            .iter()
            .map(|k| KeyId(k.into_array()))
            .collect()
    }

    /// The path patterns that need a senior's review.
    pub fn senior_paths(&self) -> &[String] {
        &self.senior_paths
    }

    /// Whether `key` is senior under this policy.
    pub fn is_senior(&self, key: &KeyId) -> bool {
        self.senior_keys.iter().any(|k| k.as_slice() == key.0)
    }

    /// The first pattern that covers `path` (SPEC §13.8 matching), if any.
    pub fn covers(&self, path: &str) -> Option<&str> {
        self.senior_paths
            .iter()
            .find(|p| crate::query::pattern_covers(p, path))
            .map(String::as_str)
    }

    /// The canonical payload bytes.
    pub fn encode(&self) -> Result<Vec<u8>, PolicyProblem> {
        self.check()?;
        let bytes = to_canonical(self).map_err(|e| {
            PolicyProblem::Payload(DecodeError::Schema {
                message: e.to_string(),
            })
        })?;
        if bytes.len() > MAX_CONTROL_PAYLOAD_LEN {
            return Err(PolicyProblem::TooLarge(bytes.len()));
        }
        Ok(bytes)
    }

    /// Strictly decodes and checks a `review_policy` payload.
    pub fn decode(bytes: &[u8]) -> Result<Self, PolicyProblem> {
        if bytes.len() > MAX_CONTROL_PAYLOAD_LEN {
            return Err(PolicyProblem::TooLarge(bytes.len()));
        }
        let policy: ReviewPolicy = from_canonical(bytes).map_err(PolicyProblem::Payload)?;
        policy.check()?;
        Ok(policy)
    }

    fn check(&self) -> Result<(), PolicyProblem> {
        let invalid = |field, reason| Err(PolicyProblem::Invalid { field, reason });
        if self.senior_keys.len() > MAX_SENIOR_KEYS {
            return invalid("senior_keys", "at most 1024 keys");
        }
        if self.senior_keys.windows(2).any(|w| w[0] >= w[1]) {
            return invalid("senior_keys", "must be sorted without repeats");
        }
        if self.senior_paths.len() > MAX_SENIOR_PATHS {
            return invalid("senior_paths", "at most 1024 patterns");
        }
        if self.senior_paths.iter().any(|p| {
            p.trim().is_empty()
                || p.len() > crate::query::MAX_SCOPE_PATH
                || p.chars().any(char::is_control)
        }) {
            return invalid(
                "senior_paths",
                "each pattern is 1 to 4096 bytes without control characters",
            );
        }
        if !self.senior_paths.is_empty() && self.senior_keys.is_empty() {
            return invalid(
                "senior_keys",
                "a policy that requires a senior review must name at least one senior key",
            );
        }
        Ok(())
    }
}

/// A merge that touched paths needing a senior's review without one (SPEC §13.14).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeniorReviewFinding {
    /// The `merge` entry.
    pub merge: u64,
    /// The `review_policy` entry in force at the merge.
    pub policy: u64,
    /// Each touched path that needs a senior's review, with the pattern that covers it; empty
    /// when the merge lists no paths at all (it cannot be shown to avoid the senior paths).
    pub paths: Vec<(String, String)>,
    /// The reviews of the change recorded before the merge, none of which counts.
    pub reviews: Vec<ReviewSeen>,
}

impl SeniorReviewFinding {
    /// The finding in words: the merge, the paths, and what was missing.
    pub fn message(&self) -> String {
        let paths: Vec<String> = self
            .paths
            .iter()
            .map(|(path, pattern)| format!("{path} ({pattern})"))
            .collect();
        let missing = if self.reviews.is_empty() {
            "no review of the change is among the entries verified".to_owned()
        } else {
            let seen: Vec<String> = self
                .reviews
                .iter()
                .map(|r| {
                    format!(
                        "entry {} by {} ({}, {})",
                        r.seq,
                        r.name,
                        if r.senior { "senior" } else { "not senior" },
                        verdict_word(r.verdict)
                    )
                })
                .collect();
            format!(
                "no approving review by a senior key; reviews seen: {}",
                seen.join("; ")
            )
        };
        if paths.is_empty() {
            return format!(
                "merge lists no paths while the senior-review requirement of entry {} is in \
                 force, so what it touched cannot be judged, and {missing}",
                self.policy
            );
        }
        format!(
            "merge touches {} under the senior-review requirement of entry {}, but {missing}",
            paths.join(", "),
            self.policy
        )
    }
}

fn verdict_word(v: ReviewVerdict) -> &'static str {
    match v {
        ReviewVerdict::Approve => "approve",
        ReviewVerdict::RequestChanges => "request_changes",
        _ => "comment",
    }
}

/// A review, as the senior-review rule sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewSeen {
    /// The `review` entry.
    pub seq: u64,
    /// Its signer.
    pub signer: KeyId,
    /// The signer's printed name.
    pub name: String,
    /// Its verdict.
    pub verdict: ReviewVerdict,
    /// Whether the signer is senior under the policy in force at the merge.
    pub senior: bool,
    change: ChangeRef,
}

/// The senior-review rule over verified entries, fed in any order that gives each entry once
/// with its payload (a bundle's control items first, then its entry items; a repeated control
/// entry is harmless). Keeps each policy, review and merge it sees; judges at the end.
#[derive(Debug, Default, Clone)]
pub struct SeniorReviews {
    policies: BTreeMap<u64, ReviewPolicy>,
    reviews: BTreeMap<u64, ReviewSeen>,
    merges: BTreeMap<u64, (ChangeRef, Vec<String>)>,
}

impl SeniorReviews {
    /// An empty rule state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Notes a verified entry: a policy, a review or a merge with its payload present (an absent
    /// payload is not evidence of anything). `registry` gives printed names.
    pub fn observe(&mut self, entry: &Entry, payload: &Payload, registry: &KeyRegistry) {
        let h = entry.header();
        let Some(data) = payload.data() else { return };
        match h.kind.as_str() {
            REVIEW_POLICY => {
                if let Ok(p) = ReviewPolicy::decode(data) {
                    self.policies.insert(h.seq, p);
                }
            }
            "review" => {
                if let Ok(Event::Review(r)) = Event::decode(&h.kind, data) {
                    let name = registry
                        .get(&h.signer)
                        .map_or_else(|| h.signer.short(), |k| k.name.clone());
                    self.reviews.insert(
                        h.seq,
                        ReviewSeen {
                            seq: h.seq,
                            signer: h.signer,
                            name,
                            verdict: r.verdict,
                            senior: false,
                            change: r.change,
                        },
                    );
                }
            }
            "merge" => {
                if let Ok(Event::Merge(m)) = Event::decode(&h.kind, data) {
                    self.merges.insert(h.seq, (m.change, m.paths));
                }
            }
            _ => {}
        }
    }

    /// Every merge that breaks the policy in force at its position, in log order.
    pub fn findings(&self) -> Vec<SeniorReviewFinding> {
        self.merges
            .iter()
            .filter_map(|(&seq, (change, paths))| self.judge(seq, change, paths))
            .collect()
    }

    fn judge(&self, seq: u64, change: &ChangeRef, paths: &[String]) -> Option<SeniorReviewFinding> {
        let (&policy_seq, policy) = self.policies.range(..seq).next_back()?;
        let mut hits: Vec<(String, String)> = Vec::new();
        for path in paths {
            if let Some(pattern) = policy.covers(path) {
                if !hits.iter().any(|(p, _)| p == path) {
                    hits.push((path.clone(), pattern.to_owned()));
                }
            }
        }
        // A merge that states no paths cannot show that it touched none of the senior paths: it
        // is judged as touching them all (SPEC §13.14).
        let unlisted = paths.is_empty() && !policy.senior_paths().is_empty();
        if hits.is_empty() && !unlisted {
            return None;
        }
        let reviews: Vec<ReviewSeen> = self
            .reviews
            .range(..seq)
            .map(|(_, r)| r)
            .filter(|r| same_change(&r.change, change))
            .map(|r| ReviewSeen {
                senior: policy.is_senior(&r.signer),
                ..r.clone()
            })
            .collect();
        if reviews
            .iter()
            .any(|r| r.senior && r.verdict == ReviewVerdict::Approve)
        {
            return None;
        }
        Some(SeniorReviewFinding {
            merge: seq,
            policy: policy_seq,
            paths: hits,
            reviews,
        })
    }
}

/// Whether two change references name the same change: they share a commit, a pull request or
/// a patchset.
pub fn same_change(a: &ChangeRef, b: &ChangeRef) -> bool {
    fn both<T: PartialEq>(x: &Option<T>, y: &Option<T>) -> bool {
        matches!((x, y), (Some(x), Some(y)) if x == y)
    }
    both(&a.commit, &b.commit) || both(&a.pr, &b.pr) || both(&a.patchset, &b.patchset)
}

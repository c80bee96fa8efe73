//! IsoFLOP groups: runs trained with (nearly) the same compute.

use serde::{Deserialize, Serialize};

use crate::data::Run;
use crate::error::{check, Error, Result};

/// Runs trained at one FLOP budget (an IsoFLOP profile): different model sizes, each trained on
/// the tokens the budget allows.
///
/// The budget `flops` is the nominal compute of the group; the runs' own FLOPs are not required
/// to equal it (real budgets are approximate). Approach 2 derives `D_opt` from this budget.
///
/// ```
/// use scaling_laws::data::Run;
/// use scaling_laws::isoflop::IsoFlopGroup;
/// let runs = vec![Run::new(1e8, 1e10, 2.9)?, Run::new(4e8, 2.5e9, 2.8)?];
/// let g = IsoFlopGroup::from_runs(runs)?;
/// assert!((g.flops() / 6e18 - 1.0).abs() < 1e-12);
/// assert!(IsoFlopGroup::new(f64::NAN, vec![]).is_err());
/// # Ok::<(), scaling_laws::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "GroupRecord", into = "GroupRecord")]
pub struct IsoFlopGroup {
    flops: f64,
    runs: Vec<Run>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupRecord {
    flops: f64,
    runs: Vec<Run>,
}

impl TryFrom<GroupRecord> for IsoFlopGroup {
    type Error = Error;
    fn try_from(r: GroupRecord) -> Result<IsoFlopGroup> {
        IsoFlopGroup::new(r.flops, r.runs)
    }
}

impl From<IsoFlopGroup> for GroupRecord {
    fn from(g: IsoFlopGroup) -> GroupRecord {
        GroupRecord {
            flops: g.flops,
            runs: g.runs,
        }
    }
}

impl IsoFlopGroup {
    /// A group at the nominal budget `flops`.
    ///
    /// # Errors
    /// [`Error::NonFinite`] / [`Error::OutOfDomain`] naming `flops` if it is not finite and > 0;
    /// [`Error::TooFewPoints`] if `runs` is empty.
    pub fn new(flops: f64, runs: Vec<Run>) -> Result<IsoFlopGroup> {
        check::positive("flops", None, flops)?;
        check::non_empty("runs in an IsoFLOP group", runs.len())?;
        Ok(IsoFlopGroup { flops, runs })
    }

    /// A group whose budget is the geometric mean of the runs' FLOPs.
    ///
    /// # Errors
    /// [`Error::TooFewPoints`] if `runs` is empty.
    pub fn from_runs(runs: Vec<Run>) -> Result<IsoFlopGroup> {
        check::non_empty("runs in an IsoFLOP group", runs.len())?;
        let flops = geometric_mean(runs.iter().map(Run::flops));
        IsoFlopGroup::new(flops, runs)
    }

    /// The nominal budget in FLOPs.
    pub fn flops(&self) -> f64 {
        self.flops
    }

    /// The runs.
    pub fn runs(&self) -> &[Run] {
        &self.runs
    }

    /// Number of runs (never 0).
    pub fn len(&self) -> usize {
        self.runs.len()
    }

    /// Always `false`: a group has at least one run.
    pub fn is_empty(&self) -> bool {
        false
    }
}

fn geometric_mean(values: impl Iterator<Item = f64>) -> f64 {
    let (mut s, mut n) = (0.0, 0usize);
    for v in values {
        s += v.ln();
        n += 1;
    }
    (s / n as f64).exp()
}

/// The result of [`group_by_budget`]: the groups (two or more runs each, by increasing budget)
/// and the runs that fit no group, so that nothing is dropped silently.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BudgetGroups {
    /// Groups of at least two runs, sorted by budget; runs keep their input order.
    pub groups: Vec<IsoFlopGroup>,
    /// Runs whose FLOPs are within the tolerance of no other run's, in input order.
    pub ungrouped: Vec<Run>,
}

/// Groups runs into FLOP budgets.
///
/// The clustering rule, in log space: sort the runs by FLOPs; two consecutive runs belong to the
/// same group when their FLOPs differ by at most a factor `1 + rel_tol`
/// (`|log C_i - log C_j| <= log(1 + rel_tol)`, single linkage). A group's budget is the
/// geometric mean of its runs' FLOPs. A run alone in its cluster fits no group and is returned
/// in [`BudgetGroups::ungrouped`]. Single linkage can chain: a cluster whose extreme FLOPs differ
/// by more than a factor `(1 + rel_tol)^2` is rejected, because the budgets are then not
/// separated at this tolerance.
///
/// ```
/// use scaling_laws::data::Run;
/// use scaling_laws::isoflop::group_by_budget;
/// let runs = vec![
///     Run::with_flops(1e8, 1e10, 2.9, 6.0e18)?,
///     Run::with_flops(2e8, 5e9, 2.8, 6.1e18)?,
///     Run::with_flops(4e8, 1e10, 2.6, 2.4e19)?,
///     Run::with_flops(8e8, 5e9, 2.65, 2.4e19)?,
///     Run::with_flops(1e9, 1e10, 2.5, 6.0e19)?,
/// ];
/// let g = group_by_budget(&runs, 0.05)?;
/// assert_eq!(g.groups.len(), 2);
/// assert_eq!(g.groups[0].len(), 2);
/// assert_eq!(g.ungrouped.len(), 1);
/// assert_eq!(g.ungrouped[0].flops(), 6.0e19);
/// # Ok::<(), scaling_laws::Error>(())
/// ```
///
/// # Errors
/// [`Error::InvalidOption`] if `rel_tol` is not finite and > 0; [`Error::TooFewPoints`] for no
/// runs; [`Error::Degenerate`] naming the FLOP range of a chained cluster.
pub fn group_by_budget(runs: &[Run], rel_tol: f64) -> Result<BudgetGroups> {
    check::positive_option("rel_tol", rel_tol)?;
    check::non_empty("runs to group by budget", runs.len())?;
    let tol = rel_tol.ln_1p();
    let mut order: Vec<usize> = (0..runs.len()).collect();
    order.sort_by(|&i, &j| runs[i].flops().total_cmp(&runs[j].flops()));
    let mut clusters: Vec<Vec<usize>> = vec![vec![order[0]]];
    for w in order.windows(2) {
        let (prev, next) = (runs[w[0]].flops(), runs[w[1]].flops());
        if next.ln() - prev.ln() <= tol {
            clusters.last_mut().expect("non-empty").push(w[1]);
        } else {
            clusters.push(vec![w[1]]);
        }
    }
    let mut groups = Vec::new();
    let mut ungrouped_idx = Vec::new();
    for mut cluster in clusters {
        if cluster.len() == 1 {
            ungrouped_idx.push(cluster[0]);
            continue;
        }
        let lo = runs[cluster[0]].flops();
        let hi = runs[*cluster.last().expect("non-empty")].flops();
        if hi.ln() - lo.ln() > 2.0 * tol {
            return Err(Error::Degenerate(format!(
                "runs from {lo:e} to {hi:e} FLOPs chain into one group at rel_tol = {rel_tol}: \
                 the budgets are not separated; lower rel_tol or build the groups explicitly"
            )));
        }
        cluster.sort_unstable();
        let members: Vec<Run> = cluster.iter().map(|&i| runs[i].clone()).collect();
        groups.push(IsoFlopGroup::from_runs(members)?);
    }
    ungrouped_idx.sort_unstable();
    Ok(BudgetGroups {
        groups,
        ungrouped: ungrouped_idx.iter().map(|&i| runs[i].clone()).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(n: f64, c: f64) -> Run {
        Run::from_params_and_flops(n, c, 3.0, &crate::data::FlopModel::SixND).unwrap()
    }

    #[test]
    fn tolerance_is_a_factor_in_log_space() {
        let runs = vec![
            run(1e8, 1e19),
            run(2e8, 1.0499e19),
            run(3e8, 1.06e19 * 1.05),
        ];
        let g = group_by_budget(&runs, 0.05).unwrap();
        assert_eq!(g.groups.len(), 1);
        assert_eq!(g.groups[0].len(), 2);
        assert_eq!(g.ungrouped, vec![runs[2].clone()]);
    }

    #[test]
    fn chained_clusters_are_rejected() {
        let runs: Vec<Run> = (0..10).map(|k| run(1e8, 1e19 * 1.04f64.powi(k))).collect();
        let e = group_by_budget(&runs, 0.05).unwrap_err();
        assert!(matches!(e, Error::Degenerate(_)), "{e}");
    }

    #[test]
    fn bad_options_and_empty_input_are_errors() {
        assert!(matches!(
            group_by_budget(&[], 0.1),
            Err(Error::TooFewPoints { .. })
        ));
        for tol in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(matches!(
                group_by_budget(&[run(1e8, 1e19)], tol),
                Err(Error::InvalidOption { .. })
            ));
        }
        let g = group_by_budget(&[run(1e8, 1e19)], 0.1).unwrap();
        assert!(g.groups.is_empty());
        assert_eq!(g.ungrouped.len(), 1);
    }

    #[test]
    fn groups_are_sorted_by_budget_and_keep_input_order() {
        let runs = vec![
            run(4e8, 1e20),
            run(1e8, 1e19),
            run(2e8, 1e20),
            run(3e8, 1.01e19),
        ];
        let g = group_by_budget(&runs, 0.05).unwrap();
        assert_eq!(g.groups.len(), 2);
        assert!(g.groups[0].flops() < g.groups[1].flops());
        assert_eq!(g.groups[1].runs()[0].params(), 4e8);
        assert_eq!(g.groups[1].runs()[1].params(), 2e8);
        assert!((g.groups[0].flops() / (1e19f64 * 1.01e19).sqrt() - 1.0).abs() < 1e-12);
    }
}

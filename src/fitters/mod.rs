//! Law-specific fitters: each binds a law to data, picks starts and bounds, and calls the engine.

pub(crate) mod bnsl;
pub(crate) mod chinchilla;
pub(crate) mod chinchilla_uncertainty;
pub(crate) mod curve_select;
pub(crate) mod custom;
pub(crate) mod power;
pub(crate) mod schedule;
pub(crate) mod schedule_opt;
pub(crate) mod sigmoid;
pub(crate) mod sized_annealing;

/// The builder setters of the fitters (see [`crate::builder`]).
pub(crate) use crate::builder::setters;

/// The user's starting laws as free-parameter vectors: `to_free` converts one, or says why it
/// cannot be a start.
///
/// # Errors
/// [`crate::Error::InvalidOption`] for no starts, or naming (`"start k"`) and showing the first
/// start `to_free` rejects, with its reason.
pub(crate) fn user_starts<S: std::fmt::Debug>(
    starts: &[S],
    to_free: impl Fn(&S) -> Result<Vec<f64>, String>,
) -> crate::error::Result<Vec<Vec<f64>>> {
    use crate::Error::InvalidOption;
    if starts.is_empty() {
        return Err(InvalidOption {
            name: "starts".into(),
            value: "[]".into(),
            reason: "give at least one start".into(),
        });
    }
    let invalid = |k: usize, s: &S, reason| InvalidOption {
        name: format!("start {k}"),
        value: format!("{s:?}"),
        reason,
    };
    starts
        .iter()
        .enumerate()
        .map(|(k, s)| to_free(s).map_err(|reason| invalid(k, s, reason)))
        .collect()
}

/// Asserts that `model`'s Jacobian at `p` matches central differences (step `1e-6`) to `tol`
/// at every point and parameter; `what` names the case in the failure.
#[cfg(test)]
pub(crate) fn assert_jacobian_matches_differences(
    model: &impl crate::fit::Model,
    p: &[f64],
    tol: f64,
    what: &str,
) {
    let (n, np, h) = (model.n_points(), p.len(), 1e-6);
    let mut pred = vec![0.0; n];
    let mut jac = vec![0.0; n * np];
    model.eval(p, &mut pred, Some(&mut jac));
    for j in 0..np {
        let (mut up, mut dn) = (p.to_vec(), p.to_vec());
        up[j] += h;
        dn[j] -= h;
        let (mut pu, mut pd) = (vec![0.0; n], vec![0.0; n]);
        model.eval(&up, &mut pu, None);
        model.eval(&dn, &mut pd, None);
        for i in 0..n {
            let fd = (pu[i] - pd[i]) / (2.0 * h);
            let got = jac[i * np + j];
            assert!(
                (fd - got).abs() < tol,
                "{what}: point {i} param {j}: {fd} vs {got}"
            );
        }
    }
}

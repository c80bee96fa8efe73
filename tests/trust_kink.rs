//! Issue 11 item 1: the stationarity test at kinks holds for the asymmetric loss too (the
//! lib tests cover symmetric Huber only). A location problem `y_i = u` with
//! `Objective::asymmetric(1e-3, 10)` in linear units: with `delta` this small the objective is,
//! up to O(delta) per point, `sum_{y_i > u} (y_i - u) + 10 sum_{y_i < u} (u - y_i)`, whose
//! one-sided slopes at `u` are `-#(y > u) + 10 #(y < u)` from the right and
//! `-#(y >= u) + 10 #(y < u)` from the left (worked out by hand; no crate code). For
//! `y = [0, 1, 3, 10, 11]` the minimum is at `u = 0` (left slope -5, right slope +6): the
//! pinned point `y = 0` carries it.

use scaling_laws::fit::{certify, Bound, CertificateTest, Objective, ResidualPoint, Space};

fn at(u: f64) -> scaling_laws::fit::Certificate {
    let o = Objective::asymmetric(1e-3, 10.0)
        .unwrap()
        .with_space(Space::Linear);
    let y = [0.0, 1.0, 3.0, 10.0, 11.0];
    let r: Vec<f64> = y.iter().map(|v| v - u).collect();
    let jac = [1.0; 5];
    certify(
        &ResidualPoint {
            objective: &o,
            targets: &y,
            residuals: &r,
            jacobian: &jac,
            weights: None,
            bounds: &[Bound::Free],
            coordinates: None,
        },
        1e-6,
    )
    .unwrap()
}

#[test]
fn asymmetric_kink_certifies_the_weighted_median_and_nothing_else() {
    // at the optimum and inside the pinned band (both sides of the kink at r = 0)
    for u in [0.0, 3e-4, -3e-4] {
        let c = at(u);
        assert!(c.holds, "u = {u}: {c:?}");
        assert!(
            matches!(c.test, CertificateTest::Kink { pinned: 1 }),
            "u = {u}: {c:?}"
        );
    }
    // off it: slope +6 at u = 0.5 and at the next point u = 1 (left slope -4 + 10 = +6);
    // slope -5 at u = -0.5; the plain median u = 3 (slope -2 + 30 > 0) is not optimal here
    for u in [0.5, 1.0, -0.5, 3.0] {
        let c = at(u);
        assert!(!c.holds, "u = {u}: {c:?}");
    }
}

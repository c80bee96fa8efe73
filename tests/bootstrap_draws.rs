//! The bootstrap's draws are the same numbers as before they were stored as one flat matrix
//! (`Bootstrap::draws`, issue 19): the expected hashes and values below were computed by the
//! code at 99629c4, which collected one `Vec<f64>` per resample, so they are an independent
//! implementation of the same draws.

use scaling_laws::uncertainty::{bootstrap, Bootstrap, BootstrapOptions, Resampling};
use scaling_laws::{fit_power_law, ChinchillaFitter, Error, PowerLaw};

/// The bench's 240 runs (the Speed table's data sets, written once).
#[path = "../scripts/harness/src/jobs.rs"]
mod jobs;

/// FNV-1a over the bit patterns of `values`.
fn fnv(values: impl IntoIterator<Item = f64>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for v in values {
        for b in v.to_bits().to_le_bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// The draws as rows, read through their JSON form (a list of rows before and after).
fn rows(boot: &Bootstrap) -> Vec<Vec<f64>> {
    serde_json::from_value(serde_json::to_value(&boot.draws).unwrap()).unwrap()
}

/// (resamples kept, hash of the draws, hash of the intervals' ends, n_failed)
fn digest(boot: &Bootstrap) -> (usize, u64, u64, usize) {
    let r = rows(boot);
    let ends = boot.intervals.iter().flat_map(|i| [i.lower, i.upper]);
    (
        r.len(),
        fnv(r.into_iter().flatten()),
        fnv(ends),
        boot.n_failed,
    )
}

#[test]
fn chinchilla_draws_are_unchanged() {
    let runs = jobs::bootstrap_runs();
    let opts = BootstrapOptions {
        resamples: 400,
        seed: 1,
        ..Default::default()
    };
    let boot = ChinchillaFitter::new()
        .bootstrap(&runs, &opts, &[1e24])
        .unwrap();
    // computed at 99629c4 (one `Vec<f64>` per resample)
    assert_eq!(
        digest(&boot),
        (400, 14814713385794010409, 11155552490633436981, 0)
    );
    let expected_211 = [
        1.7834085656283987,
        423.76669591847315,
        2178.1696514379646,
        0.33850593094918197,
        0.36640294234087667,
        0.5197876721720707,
        0.4802123278279294,
        103050304088.16797,
        1617333089323.741,
        15.694597930928763,
    ];
    assert_eq!(boot.draws.row(211), Some(&expected_211[..]));
    assert_eq!(boot.draws.column(9).next_back(), Some(14.444945480852144));
    // the matrix's own rows are its JSON rows
    let r = rows(&boot);
    assert!(boot.draws.rows().eq(r.iter().map(Vec::as_slice)));
    assert_eq!(boot.draws.n_quantities(), boot.names.len());
    // and the same on one thread
    let serial = ChinchillaFitter::new()
        .parallel(false)
        .bootstrap(
            &runs,
            &BootstrapOptions {
                parallel: false,
                ..opts
            },
            &[1e24],
        )
        .unwrap();
    assert_eq!(serial, boot);
}

/// A power law whose fit fails on some resamples (those whose fourth index is a multiple of 5), so
/// that failed rows are left out of the middle of the draws.
fn power_law_with_failures(resampling: Resampling, parallel: bool) -> Bootstrap {
    let truth = PowerLaw {
        e: 1.7,
        a: 400.0,
        alpha: 0.34,
    };
    let x: Vec<f64> = (0..40)
        .map(|i| 10f64.powf(7.0 + 3.0 * i as f64 / 39.0))
        .collect();
    let y: Vec<f64> = x
        .iter()
        .enumerate()
        .map(|(i, &v)| truth.predict(v) * (1.0 + 0.01 * ((i * 7 % 5) as f64 - 2.0)))
        .collect();
    let opts = BootstrapOptions {
        resamples: 300,
        seed: 9,
        resampling,
        parallel,
        ..Default::default()
    };
    bootstrap(
        x.len(),
        &opts,
        |idx| {
            if idx.len() < x.len() || (idx != (0..x.len()).collect::<Vec<_>>() && idx[3] % 5 == 0) {
                return Err(Error::Numerical("a failing resample".into()));
            }
            let xs: Vec<f64> = idx.iter().map(|&i| x[i]).collect();
            let ys: Vec<f64> = idx.iter().map(|&i| y[i]).collect();
            fit_power_law(&xs, &ys).map(|f| (f.law, f.report))
        },
        |law| [law.e, law.a, law.alpha, law.predict(1e12)],
        &["e", "a", "alpha", "loss at 1e12"],
        None,
    )
    .unwrap()
}

#[test]
fn generic_draws_with_failures_are_unchanged() {
    // computed at 99629c4 (one `Vec<f64>` per resample, failed ones left out)
    let points = power_law_with_failures(Resampling::Points, true);
    assert_eq!(
        digest(&points),
        (218, 11881785150054446288, 11845912112989442290, 82)
    );
    let first = [
        1.6890131462973537,
        371.87452474103463,
        0.3350722167596521,
        1.7244560934291913,
    ];
    let last = [
        1.755113165380692,
        623.6940560050865,
        0.3700051666646991,
        1.777754895274184,
    ];
    assert_eq!(points.draws.row(0), Some(&first[..]));
    assert_eq!(points.draws.row(217), Some(&last[..]));
    assert_eq!(points.draws.row(218), None);
    let labels: Vec<usize> = (0..40).map(|i| i / 4).collect();
    let within = power_law_with_failures(Resampling::WithinGroups(labels.clone()), true);
    assert_eq!(
        digest(&within),
        (229, 11016398625720561410, 10784956807595755584, 71)
    );
    let first = [
        1.6285960132978725,
        214.76114523246608,
        0.30082103297849544,
        1.6813315433434377,
    ];
    assert_eq!(within.draws.row(0), Some(&first[..]));
    // the same on one thread
    assert_eq!(
        power_law_with_failures(Resampling::WithinGroups(labels), false),
        within
    );
    assert_eq!(power_law_with_failures(Resampling::Points, false), points);
}

/// A bootstrap of no quantities keeps the count of its successful resamples, and one whose
/// quantities are not one per name counts those resamples as failed.
#[test]
fn draws_of_no_quantities_and_of_the_wrong_count() {
    let x: Vec<f64> = (0..20).map(|i| 10f64.powf(7.0 + 0.15 * i as f64)).collect();
    let y: Vec<f64> = x.iter().map(|v| 1.7 + 400.0 * v.powf(-0.34)).collect();
    let opts = BootstrapOptions {
        resamples: 30,
        seed: 2,
        ..Default::default()
    };
    let fit = |idx: &[usize]| {
        let xs: Vec<f64> = idx.iter().map(|&i| x[i]).collect();
        let ys: Vec<f64> = idx.iter().map(|&i| y[i]).collect();
        fit_power_law(&xs, &ys).map(|f| (f.law, f.report))
    };
    let none = bootstrap(x.len(), &opts, fit, |_: &PowerLaw| [], &[], None).unwrap();
    assert_eq!((none.draws.len(), none.n_failed), (30, 0));
    assert_eq!(none.draws.n_quantities(), 0);
    assert_eq!(none.draws.rows().filter(|r| r.is_empty()).count(), 30);
    // the full data (the first call) gives 2 values, as many as names; every resample 1 or 3
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let wrong = bootstrap(
        x.len(),
        &opts,
        fit,
        |law: &PowerLaw| {
            let n = match calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed) {
                0 => 2,
                k => 1 + 2 * (k % 2),
            };
            vec![law.alpha; n]
        },
        &["a", "b"],
        None,
    )
    .unwrap();
    assert_eq!((wrong.draws.len(), wrong.n_failed), (0, 30));
    assert!(wrong.draws.is_empty());
    assert_eq!(wrong.draws.n_quantities(), 0);
    assert!(wrong.intervals.iter().all(|i| i.lower.is_nan()));
    // a names length that differs from the full-data quantities is an error
    let e = bootstrap(
        x.len(),
        &opts,
        fit,
        |law: &PowerLaw| [law.e],
        &["a", "b"],
        None,
    );
    assert!(matches!(e, Err(Error::LengthMismatch { .. })), "{e:?}");
    let endless = |law: &PowerLaw| std::iter::repeat(law.e);
    let e = bootstrap(x.len(), &opts, fit, endless, &["a", "b"], None);
    assert!(
        matches!(e, Err(Error::LengthMismatch { right: 3, .. })),
        "{e:?}"
    );
    // too many values for one matrix: a typed error before any fit
    let big = BootstrapOptions {
        resamples: BootstrapOptions::MAX_RESAMPLES,
        ..opts
    };
    let names = vec!["q"; BootstrapOptions::MAX_DRAW_VALUES / BootstrapOptions::MAX_RESAMPLES + 1];
    let e = bootstrap(
        x.len(),
        &big,
        |_: &[usize]| -> scaling_laws::Result<(PowerLaw, _)> { unreachable!("no fit") },
        |_: &PowerLaw| [],
        &names,
        None,
    );
    assert!(matches!(e, Err(Error::InvalidOption { .. })), "{e:?}");
}

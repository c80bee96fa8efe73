//! Any text through the JSON readers: runs, schedules, loss curves, every law, designs,
//! covariances, bootstraps, beliefs and allocators (deserialised structs whose fields may disagree), then the
//! methods that take them. Whatever is read back must round-trip; nothing may panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use scaling_laws::data::{runs_from_json, runs_to_json};
use scaling_laws::fit::Covariance;
use scaling_laws::laws::multipower::MultiPowerLaw;
use scaling_laws::schedule::{LossCurve, Schedule};
use scaling_laws::simulate::{simulate, IsoFlopDesign, Noise};
use scaling_laws::{
    AnnealingLaw, Bnsl, ChinchillaLaw, CostModel, DataConstrainedLaw, PowerLaw, SigmoidLaw,
};

// The multi-power law Luo et al. (2025) published for their 400M model, as the tests hold it.
#[path = "../../tests/common/mod.rs"]
mod common;
use common::published_multipower as published;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(runs) = runs_from_json(text) {
        let json = runs_to_json(&runs).expect("writing runs that were read");
        assert_eq!(runs_from_json(&json).expect("reading back"), runs);
    }
    let cosine = Schedule::cosine(1e-3, 1e-4, 300).expect("a small cosine");
    if let Ok(s) = serde_json::from_str::<Schedule>(text) {
        if let Ok(v) = s.s1(s.len()) {
            assert!(v.is_finite(), "{v}");
        }
        let _ = published().try_predict(&s, &[1, s.len()]);
        let _ = published().final_loss(&s);
    }
    if let Ok(c) = serde_json::from_str::<LossCurve>(text) {
        let _ = published().try_predict(c.schedule(), c.steps());
    }
    if let Ok(law) = serde_json::from_str::<MultiPowerLaw>(text) {
        let _ = law.try_predict(&cosine, &[1, 150, 300]);
        let _ = law.final_loss(&cosine);
    }
    if let Ok(law) = serde_json::from_str::<AnnealingLaw>(text) {
        let _ = law.try_predict(&cosine, &[1, 150, 300]);
        let _ = law.final_loss(&cosine);
    }
    if let Ok(law) = serde_json::from_str::<ChinchillaLaw>(text) {
        let _ = law.loss(1e9, 2e10);
        if let Ok(a) = law.compute_optimal(1e21) {
            assert!(a.params.is_finite() && a.tokens.is_finite(), "{a:?}");
        }
        let _ = scaling_laws::Allocator::new().minimize_loss(&law, &CostModel::SixND, 1e21);
        if let Ok(d) = IsoFlopDesign::new(vec![1e18, 1e19], 3) {
            let _ = simulate(&law, &d, Noise::LogNormal { sigma: 0.01 }, 1);
        }
    }
    if let Ok(law) = serde_json::from_str::<DataConstrainedLaw>(text) {
        let _ = format!("{law:?}");
    }
    if let Ok(law) = serde_json::from_str::<PowerLaw>(text) {
        let _ = law.predict(10.0);
    }
    if let Ok(law) = serde_json::from_str::<SigmoidLaw>(text) {
        let _ = format!("{law:?}");
    }
    if let Ok(law) = serde_json::from_str::<Bnsl>(text) {
        let _ = law.predict_many(&[1.0, 1e3, 1e9]);
    }
    if let Ok(d) = serde_json::from_str::<IsoFlopDesign>(text) {
        let _ = simulate(
            &ChinchillaLaw::hoffmann_2022_unrounded(),
            &d,
            Noise::LogNormal { sigma: 0.01 },
            1,
        );
    }
    if let Ok(cov) = serde_json::from_str::<Covariance>(text) {
        let g = vec![1.0; cov.params.len()];
        let _ = cov.try_delta_variance(&g);
        let _ = cov.draws(4, 1);
        let _ = scaling_laws::diagnostics::wald_test(&cov, &cov.params.clone());
    }
    // a belief whose covariance is not 5 x 5 (it skips Belief::with_covariance)
    if let Ok(b) = serde_json::from_str::<scaling_laws::design::Belief>(text) {
        use scaling_laws::design::{DesignScorer, Target};
        let s = DesignScorer::new(Noise::LogNormal { sigma: 0.01 })
            .truths(2)
            .replicates(1);
        let t = [Target::OptimalParams { flops: 1e22 }];
        let _ = s.fisher(&b, &[(1e8, 2e9), (4e8, 8e9), (1.6e9, 3.2e10)], &t);
    }
    // a bootstrap whose names, estimates, intervals and draws disagree in length
    if let Ok(b) = serde_json::from_str::<scaling_laws::uncertainty::Bootstrap>(text) {
        for name in b.names.iter().chain(std::iter::once(&String::new())) {
            let _ = b.interval(name);
            let _ = b.std_error(name);
            let _ = b.covariance(&[name.as_str()]);
        }
        let _ = b.to_string();
    }
});

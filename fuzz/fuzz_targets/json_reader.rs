//! Any text through the JSON readers of runs, schedules, loss curves and laws.
#![no_main]
use libfuzzer_sys::fuzz_target;
use scaling_laws::data::{runs_from_json, runs_to_json};
use scaling_laws::laws::multipower::MultiPowerLaw;
use scaling_laws::schedule::{LossCurve, Schedule};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(runs) = runs_from_json(text) {
        let json = runs_to_json(&runs).expect("writing runs that were read");
        assert_eq!(runs_from_json(&json).expect("reading back"), runs);
    }
    if let Ok(s) = serde_json::from_str::<Schedule>(text) {
        let _ = s.s1(s.len());
    }
    if let Ok(c) = serde_json::from_str::<LossCurve>(text) {
        let law = MultiPowerLaw {
            l0: 2.0,
            a: 0.5,
            alpha: 0.5,
            b: 400.0,
            c: 2.0,
            beta: 0.6,
            gamma: 0.6,
        };
        let _ = law.try_predict(c.schedule(), c.steps());
    }
    if let Ok(law) = serde_json::from_str::<MultiPowerLaw>(text) {
        if let Ok(s) = Schedule::cosine(1e-3, 1e-4, 300) {
            let _ = law.try_predict(&s, &[1, 150, 300]);
        }
    }
});

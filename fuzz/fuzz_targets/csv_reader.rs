//! Any bytes through the CSV reader; whatever it accepts must survive a write-then-read round
//! trip unchanged.
#![no_main]
use libfuzzer_sys::fuzz_target;
use scaling_laws::data::{read_runs_csv_from_reader, write_runs_csv, CsvOptions};

fuzz_target!(|data: &[u8]| {
    for options in [
        CsvOptions::default(),
        CsvOptions::default().with_empty_optional_cells(true),
    ] {
        if let Ok(runs) = read_runs_csv_from_reader(data, &options) {
            let mut out = Vec::new();
            write_runs_csv(&mut out, &runs).expect("writing runs that were read");
            let back = read_runs_csv_from_reader(out.as_slice(), &CsvOptions::default())
                .expect("reading back what was written");
            assert_eq!(back, runs, "CSV round trip changed the runs");
        }
    }
});

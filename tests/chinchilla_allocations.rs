//! Issue 19 item 3: allocations in the Chinchilla bootstrap's resample loop. A counting global
//! allocator (this binary only) counts the allocations
//! of a bootstrap of `k` and of `2k` resamples on one thread: the difference is `k` resamples'
//! worth, the full-data fit and the set-up being the same in both. It must be 0.

use scaling_laws::uncertainty::BootstrapOptions;
use scaling_laws::ChinchillaFitter;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

/// The bench's 240 runs (the Speed table's data sets, written once).
#[path = "../scripts/harness/src/jobs.rs"]
mod jobs;

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn bootstrap_allocations_per_resample() {
    let runs = jobs::bootstrap_runs();
    let count = |resamples: usize| {
        let opts = BootstrapOptions {
            resamples,
            seed: 1,
            parallel: false,
            ..Default::default()
        };
        let fitter = ChinchillaFitter::new().parallel(false);
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        let boot = fitter.bootstrap(&runs, &opts, &[1e24]).unwrap();
        let after = ALLOCATIONS.load(Ordering::Relaxed);
        assert_eq!(boot.n_failed, 0);
        assert_eq!(boot.n_not_converged, 0);
        after - before
    };
    let k = 50;
    // once first, so that the per-thread buffers of the resample loop have grown before the
    // two counted runs (a one-off per thread, not a per-resample cost)
    count(k);
    let (small, large) = (count(k), count(2 * k));
    let per = (large as f64 - small as f64) / k as f64;
    println!(
        "allocations per resample: {per:.2} ({small} for {k} resamples, {large} for {})",
        2 * k
    );
    // measured 0.00: the same number of allocations for k and 2k resamples (1.00 while each
    // resample's row of `Bootstrap::draws` was a `Vec<f64>` of its own; 60.6 before the
    // per-thread resample scratch: the local solver's workspace and results, the certificate's
    // buffers, the resample's weights; 69.5 before the resample fits stopped copying the runs).
    // What a bootstrap allocates (the draws' one matrix, the outcomes, one column per
    // interval, the full-data fit) does not grow in number with the resamples.
    assert_eq!(large, small, "{per} allocations per resample");
}

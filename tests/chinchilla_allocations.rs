//! Issue 19 item 3: allocations in the Chinchilla bootstrap's resample loop. A counting global
//! allocator (this binary only) counts the allocations
//! of a bootstrap of `k` and of `2k` resamples on one thread: the difference is `k` resamples'
//! worth, the full-data fit and the set-up being the same in both. It must be 0.

use scaling_laws::uncertainty::{Bootstrap, BootstrapOptions};
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

/// Allocations of `boot(options)` for `k` and for `2k` resamples on one thread, after a first
/// run that lets the per-thread buffers grow.
fn allocations(boot: impl Fn(&BootstrapOptions) -> Bootstrap) -> (usize, u64, u64) {
    let count = |resamples: usize| {
        let opts = BootstrapOptions {
            resamples,
            seed: 1,
            parallel: false,
            ..Default::default()
        };
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        let b = boot(&opts);
        let after = ALLOCATIONS.load(Ordering::Relaxed);
        assert_eq!(b.n_failed, 0);
        assert_eq!(b.n_not_converged, 0);
        after - before
    };
    let k = 50;
    // once first, so that the per-thread buffers of the resample loop have grown before the
    // two counted runs (a one-off per thread, not a per-resample cost)
    count(k);
    (k, count(k), count(2 * k))
}

#[test]
fn bootstrap_allocations_per_resample() {
    let runs = jobs::bootstrap_runs();
    let fitter = ChinchillaFitter::new().parallel(false);
    let (k, small, large) = allocations(|o| fitter.bootstrap(&runs, o, &[1e24]).unwrap());
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

    // The same through the fitted law's `bootstrap` (its five parameters; in this test, not
    // one of its own, as the counter is global and tests run at once): 0 as well, 1.00 while a
    // law's parameter values came back as a `Vec`.
    let fit = fitter.fit(&runs).unwrap();
    let (k, small, large) = allocations(|o| fit.bootstrap(o, None).unwrap());
    let per = (large as f64 - small as f64) / k as f64;
    println!(
        "fitted law's bootstrap: {per:.2} ({small} for {k}, {large} for {})",
        2 * k
    );
    assert_eq!(
        large, small,
        "{per} allocations per resample of the fitted law's bootstrap"
    );
}

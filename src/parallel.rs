//! Deterministic parallel helpers: work indexed `0..n` (or chunked) whose output is in index
//! order whatever the number of threads, so results never depend on the thread count. With the
//! `parallel` feature off (or `parallel = false`) they run sequentially.

/// Runs `f(0..n)` in order, on several threads when asked and available; output in index order.
pub(crate) fn run_indexed<T, F>(n: usize, parallel: bool, f: F) -> Vec<T>
where
    T: Send,
    F: Fn(usize) -> T + Sync,
{
    #[cfg(feature = "parallel")]
    {
        if parallel && n > 1 {
            use rayon::prelude::*;
            return (0..n).into_par_iter().map(&f).collect();
        }
    }
    let _ = parallel;
    (0..n).map(f).collect()
}

/// Calls `f(k, chunk)` on the consecutive `chunk`-long pieces of `data` (the last may be
/// shorter), on several threads when asked and available; results in chunk order.
pub(crate) fn run_chunks_mut<T, F>(data: &mut [f64], chunk: usize, parallel: bool, f: F) -> Vec<T>
where
    T: Send,
    F: Fn(usize, &mut [f64]) -> T + Sync,
{
    let chunk = chunk.max(1);
    #[cfg(feature = "parallel")]
    {
        if parallel && data.len() > chunk {
            use rayon::prelude::*;
            return data
                .par_chunks_mut(chunk)
                .enumerate()
                .map(|(k, c)| f(k, c))
                .collect();
        }
    }
    let _ = parallel;
    data.chunks_mut(chunk)
        .enumerate()
        .map(|(k, c)| f(k, c))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_output_is_in_index_order_and_equals_sequential() {
        let seq = run_indexed(257, false, |i| (i as f64).sqrt());
        let par = run_indexed(257, true, |i| (i as f64).sqrt());
        assert_eq!(seq, par);
        assert_eq!(par[16], 4.0);
        let mut a: Vec<f64> = (0..1000).map(|i| i as f64).collect();
        let mut b = a.clone();
        let sa = run_chunks_mut(&mut a, 64, false, |k, c| {
            c.iter_mut().for_each(|v| *v *= 2.0);
            (k, c.len())
        });
        let sb = run_chunks_mut(&mut b, 64, true, |k, c| {
            c.iter_mut().for_each(|v| *v *= 2.0);
            (k, c.len())
        });
        assert_eq!((a, sa.clone()), (b, sb));
        assert_eq!(sa.len(), 16);
        assert_eq!(sa[15], (15, 1000 - 15 * 64));
        assert!(run_indexed(0, true, |i| i).is_empty());
    }
}

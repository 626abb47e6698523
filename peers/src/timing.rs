//! Alternating timed runs: every round runs each contestant once, in an
//! order rotated each round, so the machine's drift (other builds on the
//! shared cores) reaches all of them alike; medians are reported.

use std::time::{Duration, Instant};

use anyhow::Result;
use indicatif::ProgressBar;

/// The median of `samples` (sorted in place).
pub fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    let n = samples.len();
    if n % 2 == 1 {
        samples[n / 2]
    } else {
        (samples[n / 2 - 1] + samples[n / 2]) / 2
    }
}

/// Run each of `runs` once per round, `rounds` rounds, rotating who goes
/// first; `run(i, round)` does contestant `i`'s work and returns a value
/// that must be the same for every contestant within a round (so a peer
/// that computes something else fails the comparison instead of winning
/// it). Returns each contestant's median time.
pub fn alternate<V: PartialEq + std::fmt::Debug>(
    contestants: usize,
    rounds: u32,
    progress: &ProgressBar,
    mut run: impl FnMut(usize, u32) -> Result<V>,
) -> Result<Vec<Duration>> {
    let mut samples = vec![Vec::with_capacity(rounds as usize); contestants];
    for round in 0..rounds {
        let mut first: Option<(usize, V)> = None;
        for k in 0..contestants {
            let i = (k + round as usize) % contestants;
            let start = Instant::now();
            let value = run(i, round)?;
            samples[i].push(start.elapsed());
            progress.inc(1);
            match &first {
                None => first = Some((i, value)),
                Some((j, expected)) => {
                    anyhow::ensure!(*expected == value, "round {round}: contestant {i} got {value:?}, contestant {j} {expected:?}")
                }
            }
        }
    }
    Ok(samples.iter_mut().map(|s| median(s)).collect())
}

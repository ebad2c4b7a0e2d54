//! Runs a list of jobs with at most `limit` pending at once and answers
//! their outcomes in the list's order, whatever order they finish in.

/// What starting a job gave.
pub enum Started<P, R> {
    /// Under way: `finish` collects it.
    Pending(P),
    /// Done already (it could not start): its outcome.
    Done(R),
}

/// Starts job `i` with `start`, waits with `ready` for positions among the
/// pending ones that are done, and collects each with `finish`.
pub fn in_order<P, R>(
    count: usize,
    limit: usize,
    mut start: impl FnMut(usize) -> Started<P, R>,
    mut ready: impl FnMut(&[&P]) -> Vec<usize>,
    mut finish: impl FnMut(usize, P) -> R,
) -> Vec<R> {
    let limit = limit.max(1);
    let mut outcomes: Vec<Option<R>> = (0..count).map(|_| None).collect();
    let mut next = 0;
    let mut pending: Vec<(usize, P)> = Vec::new();
    loop {
        while pending.len() < limit && next < count {
            match start(next) {
                Started::Pending(job) => pending.push((next, job)),
                Started::Done(outcome) => outcomes[next] = Some(outcome),
            }
            next += 1;
        }
        if pending.is_empty() {
            break;
        }
        let waiting: Vec<&P> = pending.iter().map(|(_, job)| job).collect();
        let mut done = ready(&waiting);
        done.retain(|&position| position < pending.len());
        if done.is_empty() {
            // Nothing reported ready: finishing the oldest waits for it.
            done.push(0);
        }
        // Highest first, so each removal leaves the lower positions alone.
        done.sort_unstable_by(|a, b| b.cmp(a));
        done.dedup();
        for position in done {
            let (i, job) = pending.swap_remove(position);
            outcomes[i] = Some(finish(i, job));
        }
    }
    // Every job was started once and its outcome kept once.
    outcomes.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[test]
    fn outcomes_keep_the_list_order_and_the_limit_holds() {
        let most_pending = Cell::new(0);
        let outcomes = in_order(
            10,
            3,
            |i| {
                if i == 4 {
                    Started::Done(-1)
                } else {
                    Started::Pending(i)
                }
            },
            |pending| {
                most_pending.set(most_pending.get().max(pending.len()));
                // The newest finishes first, and two at once when it can.
                let last = pending.len() - 1;
                if last > 0 {
                    vec![last - 1, last]
                } else {
                    vec![last]
                }
            },
            |i, job| {
                assert_eq!(i, job);
                i as i32 * 10
            },
        );
        assert_eq!(outcomes, [0, 10, 20, 30, -1, 50, 60, 70, 80, 90]);
        assert_eq!(most_pending.get(), 3);
    }

    #[test]
    fn a_wait_that_names_nothing_still_makes_progress() {
        let outcomes = in_order(
            3,
            2,
            Started::<usize, usize>::Pending,
            |_| Vec::new(),
            |i, _| i,
        );
        assert_eq!(outcomes, [0, 1, 2]);
    }
}

//! The one table the bench prints, and the figures the regression check
//! compares with a saved run.

use std::collections::BTreeMap;
use std::path::Path;

#[derive(Default)]
pub struct Row {
    pub measure: String,
    pub value: f64,
    pub baseline_name: String,
    pub baseline: f64,
    pub unit: &'static str,
    pub target: String,
    /// The lowest and highest ratio of the interleaved rounds.
    pub spread: Option<(f64, f64)>,
    /// Whether the regression check looks at this row, and how.
    pub check: Option<Check>,
}

/// A figure the regression check holds to a saved run.
pub struct Check {
    /// Its name in the saved file.
    pub name: &'static str,
    pub better: Better,
    pub figure: Figure,
}

/// Which figure of a row the check holds to the saved run. A run is saved
/// as each row's value or ratio of medians, the figures that move least
/// between runs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    /// The value itself (a size): ratios carry over between runs, absolute
    /// times do not.
    Value,
    /// This run's best round against the saved median. What else runs on
    /// the machine only ever makes a round worse, and one slow round of the
    /// fake made a saved best round an outlier (1.34x, against 1.02x to
    /// 1.09x since), so the check fails only if even the best round is
    /// worse than the saved median: the gateway's reads.
    BestRound,
    /// The ratio of the medians against the saved one: the listing's best
    /// round is the one whose native baseline was slowest; it moved between
    /// 2.59x and 4.19x over six runs whose medians were 4.22x to 4.64x.
    Median,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
}

/// Worse than the saved run by more than this fails the check.
const TOLERANCE: f64 = 0.20;

impl Row {
    fn ratio(&self) -> Option<f64> {
        (self.baseline > 0.0).then(|| self.value / self.baseline)
    }

    /// The figure this run is held to the saved one by (see [`Figure`]).
    fn checked_figure(&self) -> Option<(&'static str, Better, f64)> {
        let check = self.check.as_ref()?;
        let figure = match (check.figure, self.spread, check.better) {
            (Figure::Value, _, _) => self.value,
            (Figure::BestRound, Some((_, high)), Better::Higher) => high,
            (Figure::BestRound, Some((low, _)), Better::Lower) => low,
            (Figure::BestRound | Figure::Median, _, _) => self.ratio()?,
        };
        Some((check.name, check.better, figure))
    }

    /// The figure a saved run keeps: the value or the ratio of the medians.
    fn saved_figure(&self) -> Option<(&'static str, f64)> {
        let check = self.check.as_ref()?;
        let figure = match check.figure {
            Figure::Value => self.value,
            Figure::BestRound | Figure::Median => self.ratio()?,
        };
        Some((check.name, figure))
    }
}

pub fn print(rows: &[Row]) {
    println!(
        "| measure | value | baseline (same run) | baseline value | ratio (spread) | goal |\n|---|---:|---|---:|---:|---|"
    );
    for row in rows {
        let ratio = match (row.ratio(), row.spread) {
            (Some(ratio), Some((low, high))) => {
                format!("{ratio:.2}x ({low:.2}-{high:.2})")
            }
            (Some(ratio), None) => format!("{ratio:.2}x"),
            (None, _) => "-".into(),
        };
        println!(
            "| {} | {} {} | {} | {} {} | {} | {} |",
            row.measure,
            figure(row.value),
            row.unit,
            row.baseline_name,
            figure(row.baseline),
            row.unit,
            ratio,
            row.target
        );
    }
}

/// The saved runs, one per machine (its CPU model and core count): the
/// ratios to the fake and to the on-demand allocator differ between two
/// machines by more than the check's tolerance, so a run is only held to
/// one saved on a machine like it.
type SavedRuns = BTreeMap<String, BTreeMap<String, f64>>;

fn saved_runs(path: &Path) -> Result<SavedRuns, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map_err(|error| {
            format!(
                "{} is not a set of saved runs (one per machine): {error}",
                path.display()
            )
        }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(SavedRuns::new()),
        Err(error) => Err(format!("reading {}: {error}", path.display())),
    }
}

/// Saves the checked figures of `rows` at `path` as `machine`'s run,
/// keeping the other machines' runs; a file of another form (one run, as
/// an older bench wrote it) is replaced.
pub fn save(rows: &[Row], machine: &str, path: &Path) {
    let mut runs = saved_runs(path).unwrap_or_else(|problem| {
        eprintln!("replacing it: {problem}");
        SavedRuns::new()
    });
    let figures = rows
        .iter()
        .filter_map(Row::saved_figure)
        .map(|(name, figure)| (name.to_owned(), figure))
        .collect();
    runs.insert(machine.to_owned(), figures);
    let text = serde_json::to_string_pretty(&runs).unwrap();
    std::fs::write(path, text + "\n").unwrap();
}

/// `machine`'s run saved at `path`; `Err` says why there is none.
pub fn saved_run(machine: &str, path: &Path) -> Result<BTreeMap<String, f64>, String> {
    let mut runs = saved_runs(path)?;
    runs.remove(machine).ok_or_else(|| {
        format!(
            "no run saved for this machine ({machine}) in {}; saved: {}. Save one from \
             main first (`scripts/bench-check --save`), then check the change",
            path.display(),
            runs.keys().cloned().collect::<Vec<_>>().join("; ")
        )
    })
}

/// The checked figures of `rows` that are worse than `saved` by more than
/// [`TOLERANCE`], each as a line saying by how much.
pub fn regressions(rows: &[Row], saved: &BTreeMap<String, f64>) -> Vec<String> {
    let mut worse = Vec::new();
    for (name, better, now) in rows.iter().filter_map(Row::checked_figure) {
        let Some(&before) = saved.get(name) else {
            continue;
        };
        let regressed = match better {
            Better::Higher => now < before * (1.0 - TOLERANCE),
            Better::Lower => now > before * (1.0 + TOLERANCE),
        };
        if regressed {
            worse.push(format!("{name}: {now:.3} now, {before:.3} saved"));
        }
    }
    worse
}

fn figure(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

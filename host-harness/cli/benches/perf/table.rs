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
    /// The value itself (a size) rather than its ratio to the baseline:
    /// ratios carry over between machines, absolute times do not.
    pub absolute: bool,
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

    /// The figure the check compares: of interleaved rounds, the best
    /// round's ratio. What else runs on the machine only ever makes a round
    /// worse, so the best round moves least between runs (the median of the
    /// gateway's 8-connection reads moved by a quarter between quiet runs).
    fn checked_figure(&self) -> Option<(&'static str, Better, f64)> {
        let check = self.check.as_ref()?;
        let figure = match (check.absolute, self.spread, check.better) {
            (true, _, _) => self.value,
            (false, Some((_, high)), Better::Higher) => high,
            (false, Some((low, _)), Better::Lower) => low,
            (false, None, _) => self.ratio()?,
        };
        Some((check.name, check.better, figure))
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

/// Writes the checked figures of `rows` to `path` as JSON.
pub fn save(rows: &[Row], path: &Path) {
    let figures: BTreeMap<&str, f64> = rows
        .iter()
        .filter_map(Row::checked_figure)
        .map(|(name, _, figure)| (name, figure))
        .collect();
    let text = serde_json::to_string_pretty(&figures).unwrap();
    std::fs::write(path, text + "\n").unwrap();
}

/// The checked figures of `rows` that are worse than those saved at `path`
/// by more than [`TOLERANCE`], each as a line saying by how much.
pub fn regressions(rows: &[Row], path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("reading the saved run {}: {error}", path.display()));
    let saved: BTreeMap<String, f64> = serde_json::from_str(&text).unwrap();
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

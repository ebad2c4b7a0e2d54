//! Charts of a `delivery-insights` answer, drawn as SVG by the gateway so
//! the page needs no charting script, a CLI can write the same files, and
//! every chart carries a text alternative that states its figures.
//!
//! The charts read `rollup.weeks` (oldest first). A week without a sample
//! (`null`) is a gap in a line, never a zero.

mod svg;

use serde_json::Value;

use svg::{BLUE, Frame, ORANGE, Series, Shape, VERMILLION};

/// One chart: its name (the URL's `{name}.svg`), a caption, a text
/// alternative with its figures, and the drawing.
#[derive(Clone, Debug)]
pub struct Chart {
    pub name: &'static str,
    pub title: String,
    pub alt: String,
    pub svg: String,
}

const NAMES: &[&str] = &[
    "deployments",
    "pipeline-duration",
    "pipeline-success",
    "review-flow",
];

/// Every chart [`delivery_charts`] draws, in its order.
pub fn chart_names() -> &'static [&'static str] {
    NAMES
}

/// All the charts of a `delivery-insights` answer.
pub fn delivery_charts(insights: &Value) -> Vec<Chart> {
    NAMES
        .iter()
        .filter_map(|name| delivery_chart(insights, name))
        .collect()
}

/// One chart by name; `None` for a name not in [`chart_names`].
pub fn delivery_chart(insights: &Value, name: &str) -> Option<Chart> {
    let weeks = Weeks::of(insights);
    let name = *NAMES.iter().find(|known| **known == name)?;
    let (title, alt, svg) = match name {
        "deployments" => deployments(&weeks),
        "pipeline-duration" => pipeline_duration(&weeks),
        "pipeline-success" => pipeline_success(&weeks),
        _ => review_flow(&weeks),
    };
    Some(Chart {
        name,
        title,
        alt,
        svg,
    })
}

/// The weeks of the rollup, with the labels their axis shows.
struct Weeks<'a> {
    workspace: String,
    rows: Vec<&'a Value>,
    labels: Vec<String>,
}

impl<'a> Weeks<'a> {
    fn of(insights: &'a Value) -> Self {
        let rows: Vec<&Value> = insights["rollup"]["weeks"]
            .as_array()
            .map(|weeks| weeks.iter().collect())
            .unwrap_or_default();
        let labels = rows
            .iter()
            .map(|week| day_month(week["starts_on"].as_str().unwrap_or_default()))
            .collect();
        Self {
            workspace: insights["workspace"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            rows,
            labels,
        }
    }

    fn values(&self, field: &str, scale: f64) -> Vec<Option<f64>> {
        self.rows
            .iter()
            .map(|week| week[field].as_f64().map(|v| v * scale))
            .collect()
    }

    /// "over 12 weeks, from 31 Aug to 16 Nov"
    fn span(&self) -> String {
        match (self.labels.first(), self.labels.last()) {
            (Some(first), Some(last)) => format!(
                "over {} week{}, from {first} to {last}",
                self.labels.len(),
                if self.labels.len() == 1 { "" } else { "s" }
            ),
            _ => "with no weeks in the window".into(),
        }
    }

    fn title(&self, what: &str) -> String {
        if self.workspace.is_empty() {
            what.to_owned()
        } else {
            format!("{what} in {}", self.workspace)
        }
    }

    fn frame<'f>(
        &'f self,
        name: &'f str,
        title: &'f str,
        desc: &'f str,
        unit: &'f str,
    ) -> Frame<'f> {
        Frame {
            name,
            title,
            desc,
            weeks: &self.labels,
            unit,
            fixed_top: None,
        }
    }
}

/// `2026-08-31T00:00:00Z` as `31 Aug`; anything else as it came, cut short.
fn day_month(stamp: &str) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = stamp.get(5..7).and_then(|m| m.parse::<usize>().ok());
    let day = stamp.get(8..10).and_then(|d| d.parse::<u32>().ok());
    match (month, day) {
        (Some(month @ 1..=12), Some(day)) => format!("{day} {}", MONTHS[month - 1]),
        _ => stamp.chars().take(10).collect(),
    }
}

/// Values as a list, a missing one in words.
fn listed(values: &[Option<f64>], unit: &str, missing: &str) -> String {
    values
        .iter()
        .map(|v| match v {
            Some(v) => format!("{}{unit}", svg::number(*v)),
            None => missing.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn deployments(weeks: &Weeks) -> (String, String, String) {
    let all = weeks.values("deployments", 1.0);
    let failed = weeks.values("failed_deployments", 1.0);
    let succeeded: Vec<Option<f64>> = all
        .iter()
        .zip(&failed)
        .map(|(all, failed)| Some((all.unwrap_or(0.0) - failed.unwrap_or(0.0)).max(0.0)))
        .collect();
    let total: f64 = all.iter().flatten().sum();
    let failed_total: f64 = failed.iter().flatten().sum();
    let counts: Vec<Option<f64>> = all.iter().map(|v| Some(v.unwrap_or(0.0))).collect();
    let title = weeks.title("Deployments per week");
    let alt = format!(
        "Deployments per week {}: {} ({} in all, {} failed)",
        weeks.span(),
        listed(&counts, "", "0"),
        svg::number(total),
        svg::number(failed_total),
    );
    let series = [
        Series {
            label: "Successful".into(),
            colour: BLUE,
            shape: Shape::Solid,
            values: succeeded,
        },
        Series {
            label: "Failed".into(),
            colour: VERMILLION,
            shape: Shape::Hatched,
            values: failed,
        },
    ];
    let drawing = svg::bars(&weeks.frame("deployments", &title, &alt, ""), &series);
    (title, alt, drawing)
}

fn pipeline_duration(weeks: &Weeks) -> (String, String, String) {
    // Minutes read better than seconds at a pipeline's scale.
    let p50 = weeks.values("duration_p50_seconds", 1.0 / 60.0);
    let p90 = weeks.values("duration_p90_seconds", 1.0 / 60.0);
    let title = weeks.title("Pipeline duration");
    let alt = format!(
        "Pipeline duration per week {}, in minutes. Median: {}. 90th percentile: {}.",
        weeks.span(),
        listed(&p50, "", "no runs"),
        listed(&p90, "", "no runs"),
    );
    let series = [
        Series {
            label: "Median (p50)".into(),
            colour: BLUE,
            shape: Shape::Solid,
            values: p50,
        },
        Series {
            label: "90th percentile (p90)".into(),
            colour: ORANGE,
            shape: Shape::Hatched,
            values: p90,
        },
    ];
    let drawing = svg::lines(
        &weeks.frame("pipeline-duration", &title, &alt, " min"),
        &series,
    );
    (title, alt, drawing)
}

fn pipeline_success(weeks: &Weeks) -> (String, String, String) {
    let rate = weeks.values("success_rate", 100.0);
    let runs: f64 = weeks.values("runs", 1.0).iter().flatten().sum();
    let successful: f64 = weeks.values("successful_runs", 1.0).iter().flatten().sum();
    let overall = if runs > 0.0 {
        format!(
            "{}% of {} runs in all",
            svg::number(100.0 * successful / runs),
            svg::number(runs)
        )
    } else {
        "no runs in all".into()
    };
    let title = weeks.title("Pipeline success rate");
    let alt = format!(
        "Pipeline success rate per week {}: {} ({overall})",
        weeks.span(),
        listed(&rate, "%", "no runs"),
    );
    let series = [Series {
        label: "Successful runs".into(),
        colour: BLUE,
        shape: Shape::Solid,
        values: rate,
    }];
    let mut frame = weeks.frame("pipeline-success", &title, &alt, "%");
    frame.fixed_top = Some(100.0);
    let drawing = svg::lines(&frame, &series);
    (title, alt, drawing)
}

fn review_flow(weeks: &Weeks) -> (String, String, String) {
    let first = weeks.values("time_to_first_review_median_hours", 1.0);
    let merge = weeks.values("time_to_merge_median_hours", 1.0);
    let merged: f64 = weeks.values("merged", 1.0).iter().flatten().sum();
    let title = weeks.title("Review flow");
    let alt = format!(
        "Median hours per week {}. To first review: {}. To merge: {}. {} pull requests merged in all.",
        weeks.span(),
        listed(&first, "", "none"),
        listed(&merge, "", "none"),
        svg::number(merged),
    );
    let series = [
        Series {
            label: "Time to first review".into(),
            colour: BLUE,
            shape: Shape::Solid,
            values: first,
        },
        Series {
            label: "Time to merge".into(),
            colour: ORANGE,
            shape: Shape::Hatched,
            values: merge,
        },
    ];
    let drawing = svg::lines(&weeks.frame("review-flow", &title, &alt, " h"), &series);
    (title, alt, drawing)
}

#[cfg(test)]
mod tests;

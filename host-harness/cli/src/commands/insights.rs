//! `insights`: the delivery dashboard in a terminal, one row per repository
//! with the rollup last, and its charts written as SVG files for reports.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use atom_gateway::charts;
use atom_runtime::{Sandbox, Tenant};
use clap::Args;
use comfy_table::{ContentArrangement, Table, presets};
use serde_json::{Value, json};

use crate::commands::call::print_outcome;
use crate::output::Output;

#[derive(Args)]
pub struct InsightsArgs {
    /// The workspace's slug.
    workspace: String,
    /// Only these repositories (comma-separated slugs).
    #[arg(long, value_delimiter = ',')]
    repos: Vec<String>,
    /// The window's length in weeks (1 to 26; default 12).
    #[arg(long)]
    weeks: Option<u32>,
    /// The window's end, RFC 3339 (default: now).
    #[arg(long)]
    until: Option<String>,
    /// Repositories sampled when --repos is not given (1 to 50; default 10).
    #[arg(long)]
    max_repositories: Option<u32>,
    /// The most upstream requests to spend (10 to 1000; default 120).
    #[arg(long)]
    max_requests: Option<u32>,
    /// Write every chart as `<name>.svg` into this directory.
    #[arg(long)]
    charts: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Output::Table)]
    output: Output,
}

impl InsightsArgs {
    fn params(&self) -> Value {
        let mut params = json!({ "workspace": self.workspace });
        let mut set = |key: &str, value: Value| {
            if !value.is_null() {
                params[key] = value;
            }
        };
        if !self.repos.is_empty() {
            set("repo_slugs", json!(self.repos));
        }
        set("weeks", json!(self.weeks));
        set("until", json!(self.until));
        set("max_repositories", json!(self.max_repositories));
        set("max_requests", json!(self.max_requests));
        params
    }
}

pub async fn run(
    sandbox: &Sandbox,
    tenant: &Tenant,
    args: InsightsArgs,
) -> anyhow::Result<ExitCode> {
    let outcome = sandbox
        .execute(tenant, "delivery-insights", &args.params().to_string())
        .await
        .map(|json| serde_json::from_str::<Value>(&json).unwrap_or(Value::String(json)));
    let report = match outcome {
        Ok(report) => report,
        Err(failure) => return Ok(print_outcome(Err(failure), args.output)),
    };
    if let Some(dir) = &args.charts {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("could not create {}", dir.display()))?;
        for chart in charts::delivery_charts(&report) {
            let path = dir.join(format!("{}.svg", chart.name));
            std::fs::write(&path, &chart.svg)
                .with_context(|| format!("could not write {}", path.display()))?;
            eprintln!("wrote {} ({})", path.display(), chart.title);
        }
    }
    match args.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        Output::Table => print!("{}", render(&report)),
    }
    Ok(ExitCode::SUCCESS)
}

/// The report as a person reads it: the window, one row per repository
/// and the rollup, then what needs attention and what was left out.
pub fn render(report: &Value) -> String {
    let mut text = format!(
        "{} · {} weeks from {} to {}\n",
        report["workspace"].as_str().unwrap_or_default(),
        report["weeks"],
        date(&report["window_start"]),
        date(&report["window_end"]),
    );
    let mut table = Table::new();
    table
        .load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header([
            "repository",
            "deploys/week",
            "lead time",
            "change failures",
            "time to restore",
            "pipelines",
            "reviews",
        ]);
    let repositories = report["repositories"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for repository in &repositories {
        let source = match repository["deployment_source"].as_str() {
            Some("main_branch_pipelines") => " (main-branch runs)",
            Some("none") => " (no deployments)",
            _ => "",
        };
        let name = format!(
            "{}{source}",
            repository["repo_slug"].as_str().unwrap_or_default()
        );
        table.add_row(row(name, &repository["figures"]));
    }
    table.add_row(row("all repositories".to_owned(), &report["rollup"]));
    text.push_str(&table.to_string());
    text.push('\n');
    for item in report["attention"].as_array().into_iter().flatten() {
        text.push_str(&format!(
            "needs attention: {}: {}\n",
            item["repo_slug"].as_str().unwrap_or_default(),
            item["detail"].as_str().unwrap_or_default()
        ));
    }
    for item in report["left_out"].as_array().into_iter().flatten() {
        text.push_str(&format!(
            "left out: {} ({}): {}\n",
            item["repo_slug"].as_str().unwrap_or_default(),
            item["reason"].as_str().unwrap_or_default(),
            item["detail"].as_str().unwrap_or_default()
        ));
    }
    if let Some(n) = report["not_sampled"].as_u64().filter(|n| *n > 0) {
        text.push_str(&format!(
            "not sampled: {n} more repositories of the workspace (--max-repositories or --repos)\n"
        ));
    }
    text.push_str(&format!(
        "upstream requests: {}\n",
        report["upstream_requests"]
    ));
    text
}

fn row(name: String, figures: &Value) -> Vec<String> {
    let dora = &figures["dora"];
    let pipelines = &figures["pipelines"];
    let review = &figures["review"];
    vec![
        name,
        banded(
            format!(
                "{:.1}",
                dora["deployments_per_week"].as_f64().unwrap_or(0.0)
            ),
            &dora["deployment_frequency_band"],
        ),
        banded(
            duration(&dora["lead_time"]["median_hours"]),
            &dora["lead_time_band"],
        ),
        banded(
            percent(&dora["change_failure_rate"]),
            &dora["change_failure_band"],
        ),
        banded(
            duration(&dora["time_to_restore"]["median_hours"]),
            &dora["time_to_restore_band"],
        ),
        format!(
            "{} ok · p50 {}",
            percent(&pipelines["success_rate"]),
            seconds(&pipelines["duration_p50_seconds"])
        ),
        format!(
            "{} merged · {} waiting",
            review["merged"], review["waiting_for_review"]
        ),
    ]
}

fn banded(value: String, band: &Value) -> String {
    match band.as_str() {
        Some(band) => format!("{value} ({band})"),
        None => value,
    }
}

fn percent(value: &Value) -> String {
    value
        .as_f64()
        .map_or_else(|| "—".to_owned(), |v| format!("{:.0} %", v * 100.0))
}

fn duration(hours: &Value) -> String {
    match hours.as_f64() {
        None => "—".to_owned(),
        Some(h) if h < 1.0 => format!("{:.0} min", h * 60.0),
        Some(h) if h < 48.0 => format!("{h:.1} h"),
        Some(h) => format!("{:.1} d", h / 24.0),
    }
}

fn seconds(value: &Value) -> String {
    match value.as_f64() {
        None => "—".to_owned(),
        Some(s) if s < 120.0 => format!("{s:.0} s"),
        Some(s) => format!("{:.1} min", s / 60.0),
    }
}

fn date(value: &Value) -> &str {
    value.as_str().and_then(|s| s.get(..10)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_the_unit_a_person_would_use() {
        assert_eq!(duration(&json!(0.5)), "30 min");
        assert_eq!(duration(&json!(20.0)), "20.0 h");
        assert_eq!(duration(&json!(72.0)), "3.0 d");
        assert_eq!(duration(&Value::Null), "—");
        assert_eq!(percent(&json!(0.125)), "12 %");
        assert_eq!(seconds(&json!(600.0)), "10.0 min");
    }
}

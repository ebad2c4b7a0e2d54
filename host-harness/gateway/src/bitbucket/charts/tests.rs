use serde_json::{Value, json};

use super::*;

fn week(
    starts_on: &str,
    deployments: u32,
    failed: u32,
    p50: Option<f64>,
    rate: Option<f64>,
) -> Value {
    let (runs, successful, failed_runs) = if p50.is_some() { (10, 9, 1) } else { (0, 0, 0) };
    json!({
        "starts_on": starts_on, "deployments": deployments, "failed_deployments": failed,
        "lead_time_median_hours": 20.0, "time_to_restore_median_hours": null,
        "runs": runs, "successful_runs": successful, "failed_runs": failed_runs,
        "success_rate": rate, "duration_p50_seconds": p50,
        "duration_p90_seconds": p50.map(|p| p * 2.5),
        "merged": 3, "time_to_merge_median_hours": p50.map(|_| 10.0),
        "time_to_first_review_median_hours": 2.5,
    })
}

fn sample(workspace: &str) -> Value {
    json!({
        "workspace": workspace,
        "window_start": "2026-08-31T00:00:00Z", "window_end": "2026-09-21T00:00:00Z", "weeks": 3,
        "rollup": { "weeks": [
            week("2026-08-31T00:00:00Z", 3, 0, Some(240.0), Some(0.9)),
            week("2026-09-07T00:00:00Z", 5, 2, None, None),
            week("2026-09-14T00:00:00Z", 4, 1, Some(300.0), Some(0.8)),
        ]},
    })
}

/// A small XML check: tags balance, one root, attribute values quoted, and
/// every `&` starts one of XML's own entities.
fn assert_well_formed(svg: &str) {
    let mut open: Vec<String> = Vec::new();
    let mut roots = 0;
    let mut rest = svg;
    while let Some(start) = rest.find('<') {
        assert_text(&rest[..start]);
        let end = rest[start..].find('>').expect("a tag that ends") + start;
        let tag = &rest[start + 1..end];
        assert!(!tag.contains('<'), "a '<' inside a tag: {tag}");
        assert_eq!(tag.matches('"').count() % 2, 0, "unbalanced quotes: {tag}");
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(open.pop().as_deref(), Some(name), "closing {name}");
        } else {
            let name = tag.split_whitespace().next().unwrap().trim_end_matches('/');
            if open.is_empty() {
                roots += 1;
            }
            if !tag.ends_with('/') {
                open.push(name.to_owned());
            }
        }
        rest = &rest[end + 1..];
    }
    assert_text(rest);
    assert!(open.is_empty(), "left open: {open:?}");
    assert_eq!(roots, 1, "one root element");
}

fn assert_text(text: &str) {
    assert!(!text.contains('>'), "a bare '>' in text: {text}");
    for (at, _) in text.match_indices('&') {
        let entity = &text[at..];
        assert!(
            ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"]
                .iter()
                .any(|e| entity.starts_with(e)),
            "a bare '&' in {text}"
        );
    }
}

#[test]
fn every_named_chart_is_drawn_and_well_formed() {
    let charts = delivery_charts(&sample("atom-labs"));
    let names: Vec<&str> = charts.iter().map(|c| c.name).collect();
    assert_eq!(names, chart_names());
    for chart in &charts {
        assert_well_formed(&chart.svg);
        assert!(
            chart
                .svg
                .starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 640 300\"")
        );
        assert!(chart.svg.contains(r#"role="img""#));
        let labelled = format!(r#"aria-labelledby="{0}-title {0}-desc""#, chart.name);
        assert!(chart.svg.contains(&labelled), "{}", chart.name);
        assert!(
            chart
                .svg
                .contains(&format!(r#"<title id="{}-title">"#, chart.name))
        );
        assert!(
            chart
                .svg
                .contains(&format!(r#"<desc id="{}-desc">"#, chart.name))
        );
        assert!(!chart.svg.contains("<script") && !chart.svg.contains("<style"));
        let own = chart.svg.replace("http://www.w3.org/2000/svg", "");
        assert!(!own.contains("http"), "nothing fetched from elsewhere");
        assert!(chart.svg.contains("31 Aug"), "week labels on the axis");
    }
    assert!(delivery_chart(&sample("atom-labs"), "pie").is_none());
}

#[test]
fn the_text_alternative_states_the_figures() {
    let charts = delivery_charts(&sample("atom-labs"));
    let alt = |name: &str| charts.iter().find(|c| c.name == name).unwrap().alt.clone();
    assert_eq!(
        alt("deployments"),
        "Deployments per week over 3 weeks, from 31 Aug to 14 Sep: 3, 5, 4 (12 in all, 3 failed)"
    );
    assert_eq!(
        alt("pipeline-duration"),
        "Pipeline duration per week over 3 weeks, from 31 Aug to 14 Sep, in minutes. \
         Median: 4, no runs, 5. 90th percentile: 10, no runs, 12.5."
    );
    assert_eq!(
        alt("pipeline-success"),
        "Pipeline success rate per week over 3 weeks, from 31 Aug to 14 Sep: 90%, no runs, 80% (90% of 20 runs in all)"
    );
    assert!(alt("review-flow").contains("To first review: 2.5, 2.5, 2.5. To merge: 10, none, 10."));
    for chart in &charts {
        // The drawing carries the same words for whoever opens it alone.
        assert!(
            chart.svg.contains(&svg::escape(&chart.alt)),
            "{}",
            chart.name
        );
        assert!(chart.title.contains("atom-labs"));
    }
}

#[test]
fn a_week_without_a_sample_is_a_gap_not_a_zero() {
    let chart = delivery_chart(&sample("atom-labs"), "pipeline-success").unwrap();
    // Two pieces of line, one either side of the empty week, and two markers.
    let line = chart
        .svg
        .split("<path d=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap();
    assert_eq!(line.matches('M').count(), 2, "{line}");
    assert_eq!(line.matches('L').count(), 0, "{line}");
    assert_eq!(
        chart.svg.matches("<circle").count(),
        2 + 1,
        "two values and the legend's marker"
    );
    assert!(!chart.svg.contains("7 Sep: Successful runs 0"));
}

#[test]
fn hostile_names_stay_text() {
    let hostile = r#"<script>alert("x")</script>&"#;
    let mut insights = sample(hostile);
    insights["rollup"]["weeks"][0]["starts_on"] = json!("<img src=x onerror=alert(1)>");
    insights["repositories"] = json!([{"repo_slug": "<script>", "figures": {}}]);
    for chart in delivery_charts(&insights) {
        assert_well_formed(&chart.svg);
        assert!(!chart.svg.contains("<script"), "{}", chart.name);
        assert!(!chart.svg.contains("<img"), "{}", chart.name);
        assert!(
            chart.svg.contains("&lt;script&gt;"),
            "the name is shown, as text"
        );
        // The title and alt are plain text for the page to set as text.
        assert!(chart.title.contains(hostile));
    }
}

#[test]
fn an_answer_without_weeks_still_draws() {
    for chart in delivery_charts(&json!({"workspace": "atom-labs"})) {
        assert_well_formed(&chart.svg);
        assert!(chart.svg.contains("No weeks in the window"));
        assert!(
            chart.alt.contains("with no weeks in the window"),
            "{}",
            chart.alt
        );
    }
}

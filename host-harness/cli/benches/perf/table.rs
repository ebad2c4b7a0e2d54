//! The one table the bench prints.

pub struct Row {
    pub measure: String,
    pub value: f64,
    pub baseline_name: String,
    pub baseline: f64,
    pub unit: &'static str,
    pub target: String,
}

pub fn print(rows: &[Row]) {
    println!(
        "| measure | value | baseline (same run) | baseline value | ratio | target |\n|---|---:|---|---:|---:|---|"
    );
    for row in rows {
        let ratio = if row.baseline > 0.0 {
            format!("{:.2}x", row.value / row.baseline)
        } else {
            "-".into()
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

fn figure(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

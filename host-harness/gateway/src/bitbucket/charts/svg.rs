//! Drawing: one SVG string per chart, bars or lines over weekly buckets,
//! with value ticks, week labels and a legend. Only presentation attributes,
//! no `<style>`, no script, no external font: the image is served under
//! `default-src 'none'` and must read the same wherever it is opened.

use std::fmt::Write;

/// The drawing's own size; `viewBox` lets it scale to its container.
const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 300.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 16.0;
/// Room for the legend above the plot.
const TOP: f64 = 40.0;
/// Room for the week labels below it.
const BOTTOM: f64 = 40.0;

const TEXT: &str = "#1d2430";
const WHITE: &str = "#ffffff";
const MUTED: &str = "#5d6778";
const GRID: &str = "#d8dce2";
const FONT: &str = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";

/// Okabe–Ito colours, told apart with the common colour-vision deficiencies;
/// each series also differs by shape (marker, dash or hatching).
pub const BLUE: &str = "#0072B2";
pub const ORANGE: &str = "#E69F00";
pub const VERMILLION: &str = "#D55E00";

/// How a series is told apart without its colour.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Bars filled solid; lines solid with round markers.
    Solid,
    /// Bars hatched; lines dashed with square markers.
    Hatched,
}

pub struct Series {
    pub label: String,
    pub colour: &'static str,
    pub shape: Shape,
    /// One per week; `None` is a gap, never a zero.
    pub values: Vec<Option<f64>>,
}

/// What every chart has: its name (for unique ids), accessible title and
/// description, the weeks' labels and how a value tick reads.
pub struct Frame<'a> {
    pub name: &'a str,
    pub title: &'a str,
    pub desc: &'a str,
    pub weeks: &'a [String],
    /// Appended to every tick ("%", " h", " min").
    pub unit: &'a str,
    /// A fixed top of the value axis (100 for a percentage), else from the data.
    pub fixed_top: Option<f64>,
}

/// XML text and attribute escaping: whatever a tenant named things, it is
/// text in the drawing, never markup.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 forbids would make the whole image fail to load.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A number as a person reads it: whole when it is, else one decimal.
pub fn number(value: f64) -> String {
    if (value - value.round()).abs() < 0.05 {
        format!("{}", value.round() as i64)
    } else {
        format!("{value:.1}")
    }
}

/// Stacked bars, first series at the bottom.
pub fn bars(frame: &Frame, stacks: &[Series]) -> String {
    let totals: Vec<f64> = (0..frame.weeks.len())
        .map(|i| stacks.iter().filter_map(|s| value(s, i)).sum())
        .collect();
    let plot = Plot::new(frame, totals.iter().copied());
    let mut svg = plot.open(frame, stacks, Legend::Swatches);
    let bar = plot.band() * 0.6;
    for i in 0..frame.weeks.len() {
        let mut base = 0.0;
        for (index, series) in stacks.iter().enumerate() {
            let Some(v) = value(series, i).filter(|v| *v > 0.0) else {
                continue;
            };
            let (top, bottom) = (plot.y(base + v), plot.y(base));
            let _ = write!(
                svg,
                r#"<rect x="{:.1}" y="{top:.1}" width="{bar:.1}" height="{:.1}" fill="{}"><title>{}: {}</title></rect>"#,
                plot.x(i) - bar / 2.0,
                bottom - top,
                fill(frame, index, series),
                escape(&frame.weeks[i]),
                escape(&format!("{} {}", series.label, number(v))),
            );
            base += v;
        }
    }
    svg.push_str("</svg>");
    svg
}

/// Lines with a marker on every value; a missing week breaks the line.
pub fn lines(frame: &Frame, series: &[Series]) -> String {
    let plot = Plot::new(
        frame,
        series
            .iter()
            .flat_map(|s| s.values.iter().flatten().copied()),
    );
    let mut svg = plot.open(frame, series, Legend::Lines);
    for s in series {
        let mut path = String::new();
        let mut pen_down = false;
        for i in 0..frame.weeks.len() {
            match value(s, i) {
                Some(v) => {
                    let step = if pen_down { 'L' } else { 'M' };
                    let _ = write!(path, "{step}{:.1} {:.1} ", plot.x(i), plot.y(v));
                    pen_down = true;
                }
                None => pen_down = false,
            }
        }
        if !path.is_empty() {
            let dash = if s.shape == Shape::Hatched {
                r#" stroke-dasharray="6 4""#
            } else {
                ""
            };
            let _ = write!(
                svg,
                r#"<path d="{}" fill="none" stroke="{}" stroke-width="2.5" stroke-linejoin="round"{dash}/>"#,
                path.trim_end(),
                s.colour,
            );
        }
        for i in 0..frame.weeks.len() {
            if let Some(v) = value(s, i) {
                let tip = format!(
                    "{}: {} {}{}",
                    frame.weeks[i],
                    s.label,
                    number(v),
                    frame.unit
                );
                svg.push_str(&marker(s, plot.x(i), plot.y(v), &escape(&tip)));
            }
        }
    }
    svg.push_str("</svg>");
    svg
}

fn value(series: &Series, week: usize) -> Option<f64> {
    series
        .values
        .get(week)
        .copied()
        .flatten()
        .filter(|v| v.is_finite())
}

fn fill(frame: &Frame, index: usize, series: &Series) -> String {
    match series.shape {
        Shape::Solid => series.colour.to_owned(),
        Shape::Hatched => format!("url(#{}-hatch-{index})", frame.name),
    }
}

fn marker(series: &Series, x: f64, y: f64, tip: &str) -> String {
    match series.shape {
        Shape::Solid => format!(
            r#"<circle cx="{x:.1}" cy="{y:.1}" r="4" fill="{}" stroke="{WHITE}" stroke-width="1.5"><title>{tip}</title></circle>"#,
            series.colour
        ),
        Shape::Hatched => format!(
            r#"<rect x="{:.1}" y="{:.1}" width="8" height="8" fill="{}" stroke="{WHITE}" stroke-width="1.5"><title>{tip}</title></rect>"#,
            x - 4.0,
            y - 4.0,
            series.colour
        ),
    }
}

/// The plot area and its value scale.
struct Plot {
    weeks: usize,
    top: f64,
    step: f64,
}

impl Plot {
    fn new(frame: &Frame, values: impl Iterator<Item = f64>) -> Self {
        let max = values.filter(|v| v.is_finite()).fold(0.0_f64, f64::max);
        let (top, step) = match frame.fixed_top {
            Some(top) => (top, top / 4.0),
            None => nice_scale(max),
        };
        Self {
            weeks: frame.weeks.len(),
            top,
            step,
        }
    }

    fn band(&self) -> f64 {
        (WIDTH - LEFT - RIGHT) / self.weeks.max(1) as f64
    }

    fn x(&self, week: usize) -> f64 {
        LEFT + self.band() * (week as f64 + 0.5)
    }

    fn y(&self, value: f64) -> f64 {
        let bottom = HEIGHT - BOTTOM;
        bottom - (value.clamp(0.0, self.top) / self.top) * (bottom - TOP)
    }

    /// The opening tag, title, description, hatchings, legend and axes.
    fn open(&self, frame: &Frame, series: &[Series], legend: Legend) -> String {
        let name = escape(frame.name);
        let mut svg = format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" aria-labelledby="{name}-title {name}-desc" font-family="{FONT}" font-size="12"><title id="{name}-title">{}</title><desc id="{name}-desc">{}</desc>"#,
            escape(frame.title),
            escape(frame.desc),
        );
        let _ = write!(
            svg,
            r#"<rect width="{WIDTH}" height="{HEIGHT}" rx="6" fill="{WHITE}"/>"#
        );
        svg.push_str("<defs>");
        for (index, s) in series.iter().enumerate() {
            let _ = write!(
                svg,
                r#"<pattern id="{name}-hatch-{index}" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="{}"/><line x1="0" y1="0" x2="0" y2="6" stroke="{WHITE}" stroke-width="2"/></pattern>"#,
                s.colour
            );
        }
        svg.push_str("</defs>");
        legend.draw(&mut svg, frame, series);
        self.axes(&mut svg, frame);
        svg
    }

    fn axes(&self, svg: &mut String, frame: &Frame) {
        let mut tick = 0.0;
        while tick <= self.top + self.step / 1000.0 {
            let y = self.y(tick);
            let _ = write!(
                svg,
                r#"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{GRID}" stroke-width="1"/><text x="{:.1}" y="{:.1}" fill="{MUTED}" text-anchor="end">{}</text>"#,
                WIDTH - RIGHT,
                LEFT - 6.0,
                y + 4.0,
                escape(&format!("{}{}", number(tick), frame.unit)),
            );
            tick += self.step;
        }
        if frame.weeks.is_empty() {
            let _ = write!(
                svg,
                r#"<text x="{:.1}" y="{:.1}" fill="{MUTED}" text-anchor="middle">No weeks in the window</text>"#,
                WIDTH / 2.0,
                HEIGHT / 2.0
            );
            return;
        }
        // At most eight labels, so they never run into each other.
        let every = frame.weeks.len().div_ceil(8);
        for (i, week) in frame.weeks.iter().enumerate() {
            if i % every != 0 {
                continue;
            }
            let _ = write!(
                svg,
                r#"<text x="{:.1}" y="{:.1}" fill="{MUTED}" text-anchor="middle">{}</text>"#,
                self.x(i),
                HEIGHT - BOTTOM + 18.0,
                escape(week)
            );
        }
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" fill="{MUTED}" text-anchor="middle">Week starting</text>"#,
            LEFT + (WIDTH - LEFT - RIGHT) / 2.0,
            HEIGHT - 6.0
        );
    }
}

/// Which key the legend shows: a swatch of the bar's fill, or a stretch of
/// the line with its marker.
#[derive(Clone, Copy)]
enum Legend {
    Swatches,
    Lines,
}

impl Legend {
    fn draw(self, svg: &mut String, frame: &Frame, series: &[Series]) {
        let (mut x, y) = (LEFT, 18.0);
        for (index, s) in series.iter().enumerate() {
            match self {
                Legend::Swatches => {
                    let _ = write!(
                        svg,
                        r#"<rect x="{x:.1}" y="{:.1}" width="14" height="14" fill="{}"/>"#,
                        y - 7.0,
                        fill(frame, index, s)
                    );
                }
                Legend::Lines => {
                    let dash = if s.shape == Shape::Hatched {
                        r#" stroke-dasharray="6 4""#
                    } else {
                        ""
                    };
                    let _ = write!(
                        svg,
                        r#"<line x1="{x:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{}" stroke-width="2.5"{dash}/>"#,
                        x + 24.0,
                        s.colour
                    );
                    svg.push_str(&marker(s, x + 12.0, y, &escape(&s.label)));
                }
            }
            let _ = write!(
                svg,
                r#"<text x="{:.1}" y="{:.1}" fill="{TEXT}">{}</text>"#,
                x + 30.0,
                y + 4.0,
                escape(&s.label)
            );
            x += 30.0 + 7.0 * s.label.chars().count() as f64 + 24.0;
        }
    }
}

/// A top for the value axis at or above `max`, in 4 or 5 round steps.
fn nice_scale(max: f64) -> (f64, f64) {
    if max <= 0.0 {
        return (4.0, 1.0);
    }
    let raw = max / 4.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    // Counts step by whole numbers.
    let step = if max >= 4.0 { step.max(1.0) } else { step };
    ((max / step).ceil() * step, step)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_are_round_and_cover_the_data() {
        assert_eq!(nice_scale(0.0), (4.0, 1.0));
        assert_eq!(nice_scale(9.0), (10.0, 2.5));
        assert_eq!(nice_scale(42.0), (60.0, 20.0));
        let (top, step) = nice_scale(700.0);
        assert!(
            (700.0..=1000.0).contains(&top) && step > 0.0,
            "{top} {step}"
        );
    }

    #[test]
    fn numbers_read_whole_or_with_one_decimal() {
        assert_eq!(number(3.0), "3");
        assert_eq!(number(20.5), "20.5");
        assert_eq!(number(0.87 * 100.0), "87");
    }

    #[test]
    fn escaping_leaves_no_markup() {
        assert_eq!(
            escape(r#"<script>"a"&'b'</script>"#),
            "&lt;script&gt;&quot;a&quot;&amp;&apos;b&apos;&lt;/script&gt;"
        );
        assert_eq!(escape("a\u{1}b"), "a b");
    }
}

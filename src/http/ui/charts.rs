//! Charts drawn on the server as inline SVG: no script, no CDN, nothing the strict CSP blocks
//! (colours are SVG presentation attributes, not `style`). Each chart scales to its container
//! through its `viewBox`, carries a `<title>` and an `aria-label`, and every label is escaped.

use std::fmt::Write;

use crate::html::text_to_html as esc;

/// A chart drawn here: markup built only from numbers, fixed strings and escaped labels, so
/// templates may show it as it is (askama does not escape an `HtmlSafe` value).
#[derive(Debug, Clone)]
pub struct Svg(String);

impl std::fmt::Display for Svg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl askama::filters::HtmlSafe for Svg {}

const INK: &str = "#1f2937";
const MUTED: &str = "#6b7280";
const GRID: &str = "#e5e7eb";
/// Created, solved, backlog.
pub const COLOURS: [&str; 3] = ["#2563eb", "#16a34a", "#d97706"];

fn max_of(values: impl Iterator<Item = i64>) -> i64 {
    values.max().unwrap_or(0).max(1)
}

/// A round step for axis lines: 1, 2 or 5 times a power of ten, about four lines high.
fn step(max: i64) -> i64 {
    let raw = (max / 4).max(1);
    let mut p = 1;
    while p * 10 <= raw {
        p *= 10;
    }
    [1, 2, 5, 10]
        .into_iter()
        .map(|m| m * p)
        .find(|s| *s >= raw)
        .unwrap_or(p * 10)
}

#[expect(clippy::cast_precision_loss, reason = "chart coordinates")]
fn scale(v: i64, max: i64, span: f64) -> f64 {
    v as f64 / max as f64 * span
}

/// Horizontal bars, one per `(label, value)`, longest scale first.
#[must_use]
pub fn bars(title: &str, items: &[(String, i64)], colour: &str) -> Svg {
    let row = 26.0;
    let (label_w, bar_w) = (150.0, 300.0);
    let height = row * items.len().max(1) as f64 + 8.0;
    let max = max_of(items.iter().map(|(_, v)| *v));
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" viewBox="0 0 {w} {height}" role="img" aria-label="{t}" preserveAspectRatio="xMinYMin meet"><title>{t}</title>"#,
        w = label_w + bar_w + 60.0,
        t = esc(title)
    );
    if items.is_empty() {
        let _ = write!(
            s,
            r#"<text x="0" y="18" fill="{MUTED}" font-size="13">No tickets</text>"#
        );
    }
    for (i, (label, v)) in items.iter().enumerate() {
        let y = row * i as f64 + 4.0;
        let w = scale(*v, max, bar_w);
        let short: String = label.chars().take(22).collect();
        let _ = write!(
            s,
            r#"<text x="{lx}" y="{ty}" text-anchor="end" fill="{INK}" font-size="13">{l}</text><rect x="{label_w}" y="{y}" width="{w:.1}" height="18" rx="2" fill="{colour}"><title>{full}: {v}</title></rect><text x="{vx:.1}" y="{ty}" fill="{MUTED}" font-size="12">{v}</text>"#,
            lx = label_w - 8.0,
            ty = y + 14.0,
            l = esc(&short),
            full = esc(label),
            vx = label_w + w + 6.0,
        );
    }
    s.push_str("</svg>");
    Svg(s)
}

/// One point of a time series: label, created, solved, backlog.
pub struct Point {
    pub label: String,
    pub created: i64,
    pub resolved: i64,
    pub backlog: i64,
}

/// Created and solved as paired columns per bucket, the backlog as a line over them.
#[must_use]
pub fn volume(title: &str, points: &[Point]) -> Svg {
    let (left, top, plot_w, plot_h) = (44.0, 10.0, 640.0, 200.0);
    let max = max_of(
        points
            .iter()
            .flat_map(|p| [p.created, p.resolved, p.backlog]),
    );
    let st = step(max);
    let max = (max + st - 1) / st * st;
    let n = points.len().max(1) as f64;
    let slot = plot_w / n;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-label="{t}" preserveAspectRatio="xMinYMin meet"><title>{t}</title>"#,
        w = left + plot_w + 10.0,
        h = top + plot_h + 40.0,
        t = esc(title)
    );
    let mut g = 0;
    while g <= max {
        let y = top + plot_h - scale(g, max, plot_h);
        let _ = write!(
            s,
            r#"<line x1="{left}" x2="{x2}" y1="{y:.1}" y2="{y:.1}" stroke="{GRID}"/><text x="{tx}" y="{ty:.1}" text-anchor="end" fill="{MUTED}" font-size="11">{g}</text>"#,
            x2 = left + plot_w,
            tx = left - 6.0,
            ty = y + 4.0
        );
        g += st;
    }
    let bar = (slot * 0.38).min(18.0);
    let label_every = (points.len() / 8).max(1);
    let mut line = String::new();
    for (i, p) in points.iter().enumerate() {
        let x = left + slot * i as f64 + slot / 2.0;
        for (k, v) in [(0, p.created), (1, p.resolved)] {
            let hgt = scale(v, max, plot_h);
            let bx = if k == 0 { x - bar } else { x };
            let _ = write!(
                s,
                r#"<rect x="{bx:.1}" y="{y:.1}" width="{bar:.1}" height="{hgt:.1}" fill="{c}"><title>{l}: {v} {what}</title></rect>"#,
                y = top + plot_h - hgt,
                c = COLOURS[k],
                l = esc(&p.label),
                what = if k == 0 { "created" } else { "solved" }
            );
        }
        let _ = write!(
            line,
            "{x:.1},{:.1} ",
            top + plot_h - scale(p.backlog, max, plot_h)
        );
        if i % label_every == 0 {
            let _ = write!(
                s,
                r#"<text x="{x:.1}" y="{y}" text-anchor="middle" fill="{MUTED}" font-size="11">{l}</text>"#,
                y = top + plot_h + 16.0,
                l = esc(&p.label)
            );
        }
    }
    let _ = write!(
        s,
        r#"<polyline points="{line}" fill="none" stroke="{c}" stroke-width="2"><title>Backlog</title></polyline>"#,
        c = COLOURS[2]
    );
    let ly = top + plot_h + 34.0;
    for (k, name) in ["Created", "Solved", "Backlog"].iter().enumerate() {
        let lx = left + 110.0 * k as f64;
        let _ = write!(
            s,
            r#"<rect x="{lx}" y="{y}" width="10" height="10" fill="{c}"/><text x="{tx}" y="{ly}" fill="{INK}" font-size="12">{name}</text>"#,
            y = ly - 9.0,
            c = COLOURS[k],
            tx = lx + 14.0
        );
    }
    s.push_str("</svg>");
    Svg(s)
}

/// Tickets per hour (columns) and weekday (rows), darker for more.
#[must_use]
pub fn heatmap(title: &str, cells: &[Vec<i64>]) -> Svg {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let (left, top, cell) = (36.0, 18.0, 24.0);
    let max = max_of(cells.iter().flatten().copied());
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-label="{t}" preserveAspectRatio="xMinYMin meet"><title>{t}</title>"#,
        w = left + cell * 24.0 + 4.0,
        h = top + cell * 7.0 + 4.0,
        t = esc(title)
    );
    for h in (0..24).step_by(3) {
        let _ = write!(
            s,
            r#"<text x="{x}" y="12" text-anchor="middle" fill="{MUTED}" font-size="11">{h:02}</text>"#,
            x = left + cell * f64::from(h) + cell / 2.0
        );
    }
    for (d, row) in cells.iter().enumerate().take(7) {
        let y = top + cell * d as f64;
        let _ = write!(
            s,
            r#"<text x="0" y="{ty}" fill="{INK}" font-size="12">{day}</text>"#,
            ty = y + 16.0,
            day = DAYS[d]
        );
        for (h, v) in row.iter().enumerate().take(24) {
            // Opacity from 0.06 (none) to 1 (the busiest hour).
            let o = 0.06 + scale(*v, max, 0.94);
            let _ = write!(
                s,
                r#"<rect x="{x}" y="{y}" width="{w}" height="{w}" rx="2" fill="{c}" fill-opacity="{o:.2}"><title>{day} {h:02}:00 — {v}</title></rect>"#,
                x = left + cell * h as f64,
                w = cell - 2.0,
                c = COLOURS[0],
                day = DAYS[d]
            );
        }
    }
    s.push_str("</svg>");
    Svg(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_and_empty_charts_say_so() {
        let svg = bars("By category", &[("<script>x</script>".into(), 3)], "#000").to_string();
        assert!(svg.contains("&lt;script&gt;"));
        assert!(!svg.contains("<script>"));
        assert!(
            bars("Empty", &[], "#000")
                .to_string()
                .contains("No tickets")
        );
        let v = volume(
            "Volume",
            &[Point {
                label: "<b>".into(),
                created: 2,
                resolved: 1,
                backlog: 5,
            }],
        )
        .to_string();
        assert!(v.contains("&lt;b&gt;") && v.contains("<polyline"));
        let h = heatmap("Peak", &vec![vec![0; 24]; 7]).to_string();
        assert_eq!(h.matches("<rect").count(), 7 * 24);
    }

    #[test]
    fn axis_steps_are_round() {
        assert_eq!(step(1), 1);
        assert_eq!(step(9), 2);
        assert_eq!(step(37), 10);
        assert_eq!(step(180), 50);
        assert_eq!(step(4_000), 1_000);
    }
}

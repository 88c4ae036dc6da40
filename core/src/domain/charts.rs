//! Charts as inline SVG, drawn on the server: no script, no CDN, readable
//! without JavaScript and by a screen reader (each chart is an image with
//! a label; the numbers are in a table next to it). Colours are SVG
//! presentation attributes (the CSP forbids inline styles) chosen to read
//! in both themes; text takes `currentColor`.

/// Escapes text for SVG/XML.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn open(width: f64, height: f64, label: &str) -> String {
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width:.0} {height:.0}" width="{width:.0}" height="{height:.0}" role="img" aria-label="{}" font-size="12" fill="currentColor">"#,
        esc(label)
    )
}

/// Nice tick values covering [lo, hi].
fn ticks(lo: f64, hi: f64, want: usize) -> Vec<f64> {
    if !lo.is_finite() || !hi.is_finite() || hi <= lo {
        return vec![lo];
    }
    let raw = (hi - lo) / want.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= raw).unwrap_or(10.0 * mag);
    let first = (lo / step).ceil();
    (0..=want * 3 + 2).map(|i| (first + i as f64) * step).take_while(|t| *t <= hi + step * 1e-9).collect()
}

fn label_width(labels: &[&str]) -> f64 {
    (labels.iter().map(|l| l.chars().count()).max().unwrap_or(4).min(32) as f64 * 7.0 + 12.0).max(60.0)
}

/// A row per item: a point at `value` and a bar from `lo` to `hi` (a
/// forest plot of ratings with their intervals).
pub fn intervals(label: &str, rows: &[(&str, f64, f64, f64)]) -> String {
    let names: Vec<&str> = rows.iter().map(|r| r.0).collect();
    let left = label_width(&names);
    let (width, row_h, top) = (left + 420.0, 22.0, 8.0);
    let height = top + row_h * rows.len() as f64 + 28.0;
    let lo = rows.iter().map(|r| r.2.min(r.1)).fold(f64::INFINITY, f64::min);
    let hi = rows.iter().map(|r| r.3.max(r.1)).fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) =
        if lo.is_finite() && hi > lo { (lo - (hi - lo) * 0.05, hi + (hi - lo) * 0.05) } else { (lo - 1.0, lo + 1.0) };
    let x = |v: f64| left + (v - lo) / (hi - lo) * (width - left - 16.0);
    let mut s = open(width, height, label);
    let axis_y = top + row_h * rows.len() as f64 + 4.0;
    for t in ticks(lo, hi, 6) {
        s += &format!(
            r##"<line x1="{0:.1}" x2="{0:.1}" y1="{top}" y2="{axis_y}" stroke="#8888" stroke-width="1"/><text x="{0:.1}" y="{1:.1}" text-anchor="middle">{2}</text>"##,
            x(t),
            axis_y + 16.0,
            fmt_num(t)
        );
    }
    for (i, (name, v, l, h)) in rows.iter().enumerate() {
        let y = top + row_h * i as f64 + row_h / 2.0;
        s += &format!(
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end" dominant-baseline="middle">{}</text><line x1="{:.1}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#3b82f6" stroke-width="3"/><circle cx="{:.1}" cy="{y:.1}" r="4.5" fill="#1d4ed8"/>"##,
            left - 8.0,
            y,
            esc(name),
            x(*l),
            x(*h),
            x(*v)
        );
    }
    s + "</svg>"
}

fn fmt_num(v: f64) -> String {
    if v.abs() >= 100.0 || v == v.round() {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// Colour of a share in [0, 1]: red (0) through grey (0.5) to blue (1).
fn diverging(p: f64) -> String {
    let p = p.clamp(0.0, 1.0);
    let (r, g, b) = if p < 0.5 {
        let t = p / 0.5;
        (220.0 + (160.0 - 220.0) * t, 60.0 + (160.0 - 60.0) * t, 60.0 + (160.0 - 60.0) * t)
    } else {
        let t = (p - 0.5) / 0.5;
        (160.0 + (37.0 - 160.0) * t, 160.0 + (99.0 - 160.0) * t, 160.0 + (235.0 - 160.0) * t)
    };
    format!("#{:02x}{:02x}{:02x}", r as u8, g as u8, b as u8)
}

/// Colour of a count in [0, max]: light to dark blue.
fn sequential(v: f64, max: f64) -> String {
    let t = if max > 0.0 { (v / max).clamp(0.0, 1.0) } else { 0.0 };
    let (r, g, b) = (219.0 + (30.0 - 219.0) * t, 234.0 + (64.0 - 234.0) * t, 254.0 + (175.0 - 254.0) * t);
    format!("#{:02x}{:02x}{:02x}", r as u8, g as u8, b as u8)
}

/// How a heatmap colours and writes its cells.
#[derive(Debug, Clone, Copy)]
pub enum Scale {
    /// Shares in [0, 1], written as percentages.
    Share,
    /// Counts from 0 to the largest.
    Count,
}

/// A square matrix: row label × column label, each cell coloured by value
/// and written inside; empty cells where there is no value.
pub fn heatmap(label: &str, names: &[&str], cells: &[Vec<Option<f64>>], scale: Scale) -> String {
    let n = names.len();
    let left = label_width(names);
    let cell = if n > 20 { 26.0 } else { 44.0 };
    let top = left.min(140.0);
    let (width, height) = (left + cell * n as f64 + 8.0, top + cell * n as f64 + 8.0);
    let max = cells.iter().flatten().flatten().fold(0.0f64, |m, v| m.max(*v));
    let mut s = open(width, height, label);
    for (j, name) in names.iter().enumerate() {
        let cx = left + cell * j as f64 + cell / 2.0;
        s += &format!(
            r#"<text x="{cx:.1}" y="{:.1}" transform="rotate(-45 {cx:.1} {:.1})" text-anchor="start">{}</text>"#,
            top - 6.0,
            top - 6.0,
            esc(name)
        );
    }
    for (i, row) in cells.iter().enumerate() {
        let y = top + cell * i as f64;
        s += &format!(
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end" dominant-baseline="middle">{}</text>"#,
            left - 6.0,
            y + cell / 2.0,
            esc(names.get(i).copied().unwrap_or(""))
        );
        for (j, v) in row.iter().enumerate() {
            let x = left + cell * j as f64;
            match v {
                Some(v) => {
                    let (fill, text) = match scale {
                        Scale::Share => (diverging(*v), format!("{:.0}", v * 100.0)),
                        Scale::Count => (sequential(*v, max), format!("{v:.0}")),
                    };
                    let dark = match scale {
                        Scale::Share => (*v - 0.5).abs() > 0.3,
                        Scale::Count => max > 0.0 && *v / max > 0.55,
                    };
                    s += &format!(
                        r##"<rect x="{x:.1}" y="{y:.1}" width="{cell}" height="{cell}" fill="{fill}" stroke="#fff8"/><text x="{:.1}" y="{:.1}" text-anchor="middle" dominant-baseline="middle" fill="{}" font-size="{}">{text}</text>"##,
                        x + cell / 2.0,
                        y + cell / 2.0,
                        if dark { "#fff" } else { "#111" },
                        if cell < 30.0 { 9 } else { 12 }
                    );
                }
                None => {
                    s += &format!(
                        r##"<rect x="{x:.1}" y="{y:.1}" width="{cell}" height="{cell}" fill="none" stroke="#8884"/>"##
                    );
                }
            }
        }
    }
    s + "</svg>"
}

/// A line through points (x label, value, lo, hi) with interval whiskers:
/// a model family's versions, or a count over time.
pub fn line(label: &str, points: &[(&str, f64, f64, f64)]) -> String {
    let (width, height, left, bottom, top) = (560.0, 220.0, 56.0, 40.0, 12.0);
    let lo = points.iter().map(|p| p.2.min(p.1)).fold(f64::INFINITY, f64::min);
    let hi = points.iter().map(|p| p.3.max(p.1)).fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) =
        if lo.is_finite() && hi > lo { (lo - (hi - lo) * 0.08, hi + (hi - lo) * 0.08) } else { (lo - 1.0, lo + 1.0) };
    let n = points.len().max(1);
    let x = |i: usize| left + (width - left - 20.0) * if n == 1 { 0.5 } else { i as f64 / (n - 1) as f64 };
    let y = |v: f64| top + (height - top - bottom) * (1.0 - (v - lo) / (hi - lo));
    let mut s = open(width, height, label);
    for t in ticks(lo, hi, 4) {
        s += &format!(
            r##"<line x1="{left}" x2="{0:.1}" y1="{1:.1}" y2="{1:.1}" stroke="#8884"/><text x="{2:.1}" y="{1:.1}" text-anchor="end" dominant-baseline="middle">{3}</text>"##,
            width - 12.0,
            y(t),
            left - 6.0,
            fmt_num(t)
        );
    }
    let path: Vec<String> = points.iter().enumerate().map(|(i, p)| format!("{:.1},{:.1}", x(i), y(p.1))).collect();
    s += &format!(r##"<polyline points="{}" fill="none" stroke="#3b82f6" stroke-width="2"/>"##, path.join(" "));
    let every = n.div_ceil(12);
    for (i, (name, v, l, h)) in points.iter().enumerate() {
        s += &format!(
            r##"<line x1="{0:.1}" x2="{0:.1}" y1="{1:.1}" y2="{2:.1}" stroke="#1d4ed8"/><circle cx="{0:.1}" cy="{3:.1}" r="3.5" fill="#1d4ed8"/>"##,
            x(i),
            y(*l),
            y(*h),
            y(*v)
        );
        if i % every == 0 {
            s += &format!(
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                x(i),
                height - bottom + 18.0,
                esc(name)
            );
        }
    }
    s + "</svg>"
}

/// Bars of counts with a label under each (a histogram); `small` draws a
/// compact one for a table cell.
pub fn bars(label: &str, items: &[(&str, i64)], small: bool) -> String {
    let (bar, gap, height, bottom) = if small { (14.0, 4.0, 34.0, 12.0) } else { (36.0, 10.0, 160.0, 22.0) };
    let width = (bar + gap) * items.len() as f64 + gap;
    let max = items.iter().map(|i| i.1).max().unwrap_or(0).max(1) as f64;
    let mut s = open(width, height, label);
    for (k, (name, v)) in items.iter().enumerate() {
        let h = (height - bottom - 4.0) * (*v as f64 / max);
        let x = gap + (bar + gap) * k as f64;
        s += &format!(
            r##"<rect x="{x:.1}" y="{:.1}" width="{bar}" height="{h:.1}" fill="#3b82f6"/><text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="{}">{}</text>"##,
            height - bottom - h,
            x + bar / 2.0,
            height - 2.0,
            if small { 9 } else { 12 },
            esc(name)
        );
        if !small {
            s += &format!(
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{v}</text>"#,
                x + bar / 2.0,
                height - bottom - h - 4.0
            );
        }
    }
    s + "</svg>"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_and_charts_are_labelled_images() {
        let svg = intervals("Ratings", &[("<b>&", 1000.0, 990.0, 1010.0)]);
        assert!(svg.contains("&lt;b&gt;&amp;"));
        assert!(!svg.contains("<b>"));
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains(r#"role="img" aria-label="Ratings""#));
    }

    #[test]
    fn a_heatmap_has_a_cell_per_pair_and_writes_shares_as_percent() {
        let svg = heatmap("Win rate", &["a", "b"], &[vec![None, Some(0.75)], vec![Some(0.25), None]], Scale::Share);
        assert_eq!(svg.matches("<rect").count(), 4);
        assert!(svg.contains(">75</text>") && svg.contains(">25</text>"));
    }

    #[test]
    fn bars_scale_to_the_largest_count() {
        let svg = bars("Strength", &[("0", 1), ("1", 4), ("2", 0), ("3", 2)], false);
        assert_eq!(svg.matches("<rect").count(), 4);
        assert!(svg.contains(r#"height="134.0""#), "the largest bar fills the plot: {svg}");
        assert!(svg.contains(r#"height="0.0""#));
    }

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(ticks(0.0, 10.0, 5), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        let t = ticks(913.0, 1087.0, 6);
        assert!(t.iter().all(|v| v % 20.0 == 0.0 || v % 50.0 == 0.0), "{t:?}");
    }

    #[test]
    fn colours_run_from_red_to_blue() {
        assert_eq!(diverging(0.0), "#dc3c3c");
        assert_eq!(diverging(0.5), "#a0a0a0");
        assert_eq!(diverging(1.0), "#2563eb");
    }
}

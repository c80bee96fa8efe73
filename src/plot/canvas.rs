//! The drawing layer shared by every figure: axes with linear or log ticks, panels of lines,
//! points, bands and markers, legends and colour bars, drawn with plotters' SVG backend.
//!
//! Figures describe what to draw in data units ([`Panel`], [`Item`]); this module cleans the
//! data (non-finite values, and values `<= 0` on a log axis, are left out and counted in a
//! note on the panel), picks the axis ranges and ticks, and renders.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::colors::colormaps::ViridisRGB;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{nothing_to_draw, ColourMap};
use crate::error::{Error, Result};

/// An RGB colour.
pub(crate) type Rgb = (u8, u8, u8);

pub(crate) const BLACK_RGB: Rgb = (0, 0, 0);
pub(crate) const GREY: Rgb = (120, 120, 120);
pub(crate) const RED: Rgb = (200, 40, 40);
pub(crate) const BLUE: Rgb = (31, 90, 170);
pub(crate) const ORANGE: Rgb = (225, 120, 20);

fn rgb(c: Rgb) -> RGBColor {
    RGBColor(c.0, c.1, c.2)
}

impl ColourMap {
    /// The colour at `t` in `[0, 1]` (clamped).
    pub(crate) fn at(self, t: f64) -> Rgb {
        let t = if t.is_finite() {
            t.clamp(0.0, 1.0)
        } else {
            0.0
        };
        match self {
            ColourMap::Viridis => {
                // Stop before the palest yellow, which is hard to see on white.
                let c: RGBColor = ViridisRGB.get_color(t * 0.88);
                (c.0, c.1, c.2)
            }
            ColourMap::Greys => {
                let v = (200.0 - 190.0 * t).round() as u8;
                (v, v, v)
            }
        }
    }
}

/// Where a panel's legend goes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum LegendAt {
    None,
    UpperRight,
    UpperLeft,
    LowerMiddle,
}

/// One thing drawn in a panel, in data units.
#[derive(Debug, Clone)]
pub(crate) enum Item {
    /// A polyline (split where a point is not drawable).
    Line {
        x: Vec<f64>,
        y: Vec<f64>,
        colour: Rgb,
        width: u32,
        dashed: bool,
        label: Option<String>,
    },
    /// Markers, one colour each (or all the same).
    Points {
        x: Vec<f64>,
        y: Vec<f64>,
        colours: Vec<Rgb>,
        radius: u32,
        filled: bool,
        label: Option<String>,
    },
    /// A shaded band between `lo` and `hi`.
    Band {
        x: Vec<f64>,
        lo: Vec<f64>,
        hi: Vec<f64>,
        colour: Rgb,
        label: Option<String>,
    },
    /// A vertical line at `x` across the panel.
    VLine {
        x: f64,
        colour: Rgb,
        label: Option<String>,
    },
    /// A horizontal line at `y` across the panel.
    HLine { y: f64, colour: Rgb },
    /// A text label next to the data point `(x, y)`.
    Text {
        x: f64,
        y: f64,
        text: String,
        colour: Rgb,
        /// Above the point (else below).
        above: bool,
    },
}

impl Item {
    pub(crate) fn line(x: Vec<f64>, y: Vec<f64>, colour: Rgb) -> Item {
        Item::Line {
            x,
            y,
            colour,
            width: 2,
            dashed: false,
            label: None,
        }
    }

    pub(crate) fn points(x: Vec<f64>, y: Vec<f64>, colour: Rgb) -> Item {
        Item::Points {
            x,
            y,
            colours: vec![colour],
            radius: 3,
            filled: true,
            label: None,
        }
    }

    /// Sets the legend label of a line, points or band.
    pub(crate) fn labelled(mut self, text: impl Into<String>) -> Item {
        match &mut self {
            Item::Line { label, .. }
            | Item::Points { label, .. }
            | Item::Band { label, .. }
            | Item::VLine { label, .. } => *label = Some(text.into()),
            _ => {}
        }
        self
    }

    pub(crate) fn dashed(mut self) -> Item {
        if let Item::Line { dashed, .. } = &mut self {
            *dashed = true;
        }
        self
    }

    pub(crate) fn width(mut self, w: u32) -> Item {
        if let Item::Line { width, .. } = &mut self {
            *width = w;
        }
        self
    }

    pub(crate) fn radius(mut self, r: u32) -> Item {
        if let Item::Points { radius, .. } = &mut self {
            *radius = r;
        }
        self
    }

    pub(crate) fn hollow(mut self) -> Item {
        if let Item::Points { filled, .. } = &mut self {
            *filled = false;
        }
        self
    }
}

/// An axis: its label, scale and (optionally forced) range.
#[derive(Debug, Clone)]
pub(crate) struct AxisSpec {
    pub label: String,
    pub log: bool,
    /// Forced range in data units (else fitted to the data with a margin).
    pub range: Option<(f64, f64)>,
}

impl AxisSpec {
    pub(crate) fn new(label: impl Into<String>, log: bool) -> AxisSpec {
        AxisSpec {
            label: label.into(),
            log,
            range: None,
        }
    }
}

/// A panel: axes, items, legend position and an optional title.
#[derive(Debug, Clone)]
pub(crate) struct Panel {
    pub title: Option<String>,
    pub x: AxisSpec,
    pub y: AxisSpec,
    pub items: Vec<Item>,
    pub legend: LegendAt,
}

/// A vertical colour bar beside a panel.
#[derive(Debug, Clone)]
pub(crate) struct ColourBar {
    pub label: String,
    pub map: ColourMap,
    pub lo: f64,
    pub hi: f64,
    pub log: bool,
}

impl ColourBar {
    /// The colour of `v` on this bar.
    pub(crate) fn colour(&self, v: f64) -> Rgb {
        let t = if self.log {
            (v.log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        };
        self.map.at(if t.is_finite() { t } else { 0.5 })
    }
}

/// The whole figure: a grid of panels, an optional colour bar to the right, a title.
#[derive(Debug, Clone)]
pub(crate) struct Figure {
    pub width: u32,
    pub height: u32,
    pub title: Option<String>,
    pub columns: usize,
    pub panels: Vec<Panel>,
    pub colour_bar: Option<ColourBar>,
    pub font: f64,
}

fn draw_err<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> Error {
    Error::Numerical(format!("drawing the figure failed: {e}"))
}

impl Figure {
    /// Renders the figure to an SVG document.
    pub(crate) fn render(&self) -> Result<String> {
        if self.width < 100 || self.height < 100 || self.width > 20_000 || self.height > 20_000 {
            return Err(Error::InvalidOption {
                name: "size".into(),
                value: format!("{}x{}", self.width, self.height),
                reason: "width and height must lie in 100..=20000 pixels".into(),
            });
        }
        if !(self.font.is_finite() && self.font >= 4.0 && self.font <= 200.0) {
            return Err(Error::InvalidOption {
                name: "font_size".into(),
                value: self.font.to_string(),
                reason: "must lie in 4..=200 pixels".into(),
            });
        }
        nothing_to_draw("panels", self.panels.is_empty())?;
        let mut svg = String::new();
        {
            let root =
                SVGBackend::with_string(&mut svg, (self.width, self.height)).into_drawing_area();
            root.fill(&WHITE).map_err(draw_err)?;
            let body = match &self.title {
                Some(t) => root
                    .titled(t, ("sans-serif", self.font * 1.3))
                    .map_err(draw_err)?,
                None => root.clone(),
            };
            let (main, bar_area) = match &self.colour_bar {
                Some(_) => {
                    let w = body.dim_in_pixel().0;
                    let bar_w = (self.font * 7.5).round() as u32;
                    let (a, b) = body.split_horizontally(w.saturating_sub(bar_w));
                    (a, Some(b))
                }
                None => (body, None),
            };
            let cols = self.columns.clamp(1, self.panels.len());
            let rows = self.panels.len().div_ceil(cols);
            let cells = main.split_evenly((rows, cols));
            for (panel, cell) in self.panels.iter().zip(cells.iter()) {
                draw_panel(cell, panel, self.font)?;
            }
            if let (Some(bar), Some(area)) = (&self.colour_bar, bar_area) {
                draw_colour_bar(&area, bar, self.font)?;
            }
            root.present().map_err(draw_err)?;
        }
        Ok(svg)
    }
}

/// A linear coordinate in drawing space with the ticks chosen here (plotters' own tick
/// choice knows nothing of log axes drawn in `log10` space).
struct TickAxis {
    lo: f64,
    hi: f64,
    major: Vec<f64>,
    minor: Vec<f64>,
}

impl Ranged for TickAxis {
    type FormatOption = plotters::coord::ranged1d::DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let f = (value - self.lo) / (self.hi - self.lo);
        let px = limit.0 as f64 + f * (limit.1 - limit.0) as f64;
        if px.is_finite() {
            px.round().clamp(-1e6, 1e6) as i32
        } else {
            limit.0
        }
    }

    fn key_points<H: plotters::coord::ranged1d::KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.minor.clone()
        } else {
            self.major.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

/// Maps data to the drawing space: `log10` on a log axis.
#[derive(Debug, Clone, Copy)]
struct Scale {
    log: bool,
}

impl Scale {
    fn ok(self, v: f64) -> bool {
        v.is_finite() && (!self.log || v > 0.0)
    }
    fn t(self, v: f64) -> f64 {
        if self.log {
            v.log10()
        } else {
            v
        }
    }
}

/// The data range of an axis from the drawable values, with a margin, in drawing space.
fn fit_range(spec: &AxisSpec, values: &[f64]) -> (f64, f64) {
    let s = Scale { log: spec.log };
    if let Some((lo, hi)) = spec.range
        && s.ok(lo)
        && s.ok(hi)
        && hi > lo
    {
        return (s.t(lo), s.t(hi));
    }
    let t: Vec<f64> = values
        .iter()
        .filter(|&&v| s.ok(v))
        .map(|&v| s.t(v))
        .collect();
    let (mut lo, mut hi) = t
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    if !(lo.is_finite() && hi.is_finite()) {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 * (1.0 + lo.abs()) {
        let w = if spec.log {
            0.5
        } else {
            0.5 * lo.abs().max(1.0)
        };
        lo -= w;
        hi += w;
    }
    let pad = 0.04 * (hi - lo);
    (lo - pad, hi + pad)
}

/// A "nice" step for about `target` intervals over `span`.
fn nice_step(span: f64, target: f64) -> f64 {
    let raw = span / target;
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let nice = if f < 1.5 {
        1.0
    } else if f < 3.5 {
        2.0
    } else if f < 7.5 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

/// Ticks of an axis in drawing space: (labelled, light).
fn ticks(log: bool, lo: f64, hi: f64) -> (Vec<f64>, Vec<f64>) {
    if !log {
        let step = nice_step(hi - lo, 5.0);
        let first = (lo / step).ceil() as i64;
        let last = (hi / step).floor() as i64;
        let major: Vec<f64> = (first..=last).map(|k| k as f64 * step).collect();
        let minor_step = step / 5.0;
        let mf = (lo / minor_step).ceil() as i64;
        let ml = (hi / minor_step).floor() as i64;
        let minor = (mf..=ml).map(|k| k as f64 * minor_step).collect();
        return (major, minor);
    }
    // Log axis, drawing space is log10.
    let d0 = lo.floor() as i64;
    let d1 = hi.ceil() as i64;
    let decades: Vec<f64> = (d0..=d1)
        .map(|k| k as f64)
        .filter(|&t| t >= lo && t <= hi)
        .collect();
    let mut minor = Vec::new();
    for k in d0..=d1 {
        for m in 2..=9 {
            let t = k as f64 + (m as f64).log10();
            if t >= lo && t <= hi {
                minor.push(t);
            }
        }
    }
    if decades.len() >= 3 {
        let stride = decades.len().div_ceil(8);
        let major = decades.iter().copied().step_by(stride).collect();
        if stride > 1 {
            minor = decades;
        }
        return (major, minor);
    }
    // Fewer than three decades: label 1, 2 and 5 times powers of ten.
    let mut major = Vec::new();
    for k in d0..=d1 {
        for m in [1.0f64, 2.0, 5.0] {
            let t = k as f64 + m.log10();
            if t >= lo - 1e-12 && t <= hi + 1e-12 {
                major.push(t);
            }
        }
    }
    if major.len() >= 3 {
        return (major, minor);
    }
    // Under half a decade: linear nice values, placed on the log axis.
    let (a, b) = (10f64.powf(lo), 10f64.powf(hi));
    let step = nice_step(b - a, 6.0);
    let first = (a / step).ceil() as i64;
    let last = (b / step).floor() as i64;
    let major = (first..=last)
        .map(|k| k as f64 * step)
        .filter(|&v| v > 0.0)
        .map(f64::log10)
        .collect();
    let ms = step / 5.0;
    let minor = ((a / ms).ceil() as i64..=(b / ms).floor() as i64)
        .map(|k| k as f64 * ms)
        .filter(|&v| v > 0.0)
        .map(f64::log10)
        .collect();
    (major, minor)
}

/// A compact label for the data value `v`: up to three significant digits in scientific
/// notation outside `[1e-3, 1e5)`, up to four in plain notation inside.
pub(crate) fn format_value(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return if v == 0.0 { "0".into() } else { v.to_string() };
    }
    let a = v.abs();
    if !(1e-3..1e5).contains(&a) {
        let mut e = a.log10().floor();
        let mut m = v / 10f64.powf(e);
        m = (m * 100.0).round() / 100.0;
        if m.abs() >= 10.0 {
            m /= 10.0;
            e += 1.0;
        }
        let ms = format!("{m:.2}");
        let ms = ms.trim_end_matches('0').trim_end_matches('.');
        format!("{ms}e{}", e as i64)
    } else {
        let digits = (3 - a.log10().floor() as i32).max(0) as usize;
        let s = format!("{v:.digits$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    }
}

/// Labels for the ticks `t` (drawing space) of one axis, with the same number of decimals
/// on a linear scale.
fn tick_labels(log: bool, t: &[f64]) -> Vec<String> {
    let values: Vec<f64> = t
        .iter()
        .map(|&t| {
            let v = if log { 10f64.powf(t) } else { t };
            // Round away representation noise.
            if v != 0.0 && v.is_finite() {
                let q = 10f64.powf(v.abs().log10().floor() - 6.0);
                (v / q).round() * q
            } else {
                v
            }
        })
        .collect();
    let plain: Vec<String> = values.iter().map(|&v| format_value(v)).collect();
    // Decades on a log axis read best as they are (0.5, 1, 2, 5); within a decade, and on a
    // linear axis, the labels share their number of decimals (2.8, 3.0, 3.2).
    let (lo, hi) = values.iter().fold((f64::INFINITY, 0f64), |(a, b), v| {
        (a.min(v.abs()), b.max(v.abs()))
    });
    let spans_decades = log && hi >= 10.0 * lo;
    if spans_decades || plain.iter().any(|s| s.contains('e')) {
        return plain;
    }
    let decimals = plain
        .iter()
        .map(|s| s.split('.').nth(1).map_or(0, str::len))
        .max()
        .unwrap_or(0);
    values.iter().map(|v| format!("{v:.decimals$}")).collect()
}

#[cfg(test)]
fn tick_label(log: bool, t: f64) -> String {
    tick_labels(log, &[t]).remove(0)
}

/// Splits a polyline at undrawable points and thins it to at most ~4 points per pixel column
/// (first, min, max and last of each column), which keeps its look exactly.
fn segments(x: &[f64], y: &[f64], sx: Scale, sy: Scale, xr: (f64, f64)) -> Vec<Vec<(f64, f64)>> {
    let mut out = Vec::new();
    let mut cur: Vec<(f64, f64)> = Vec::new();
    for (&a, &b) in x.iter().zip(y) {
        if sx.ok(a) && sy.ok(b) {
            cur.push((sx.t(a), sy.t(b)));
        } else if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    let buckets = 800.0;
    out.into_iter()
        .map(|seg| {
            if seg.len() <= 3000 {
                return seg;
            }
            let w = (xr.1 - xr.0) / buckets;
            let mut thin: Vec<(f64, f64)> = Vec::new();
            let mut i = 0;
            while i < seg.len() {
                let col = ((seg[i].0 - xr.0) / w).floor();
                let mut j = i;
                let (mut imin, mut imax) = (i, i);
                while j < seg.len() && ((seg[j].0 - xr.0) / w).floor() == col {
                    if seg[j].1 < seg[imin].1 {
                        imin = j;
                    }
                    if seg[j].1 > seg[imax].1 {
                        imax = j;
                    }
                    j += 1;
                }
                let mut idx = vec![i, imin, imax, j - 1];
                idx.sort_unstable();
                idx.dedup();
                thin.extend(idx.into_iter().map(|k| seg[k]));
                i = j;
            }
            thin
        })
        .collect()
}

/// Values of every item along one axis, for fitting the range.
fn axis_values(items: &[Item], want_x: bool) -> Vec<f64> {
    let mut v = Vec::new();
    for it in items {
        match it {
            Item::Line { x, y, .. } | Item::Points { x, y, .. } => {
                v.extend(if want_x { x } else { y });
            }
            Item::Band { x, lo, hi, .. } => {
                if want_x {
                    v.extend(x);
                } else {
                    v.extend(lo);
                    v.extend(hi);
                }
            }
            Item::VLine { x, .. } if want_x => v.push(*x),
            Item::HLine { y, .. } if !want_x => v.push(*y),
            Item::Text { x, y, .. } => v.push(if want_x { *x } else { *y }),
            _ => {}
        }
    }
    v
}

/// Counts data values an item cannot draw (non-finite, or `<= 0` on a log axis).
fn undrawable(items: &[Item], sx: Scale, sy: Scale) -> usize {
    let mut n = 0;
    for it in items {
        match it {
            Item::Line { x, y, .. } | Item::Points { x, y, .. } => {
                n += x
                    .iter()
                    .zip(y)
                    .filter(|&(&a, &b)| !(sx.ok(a) && sy.ok(b)))
                    .count();
            }
            Item::Band { x, lo, hi, .. } => {
                n += x
                    .iter()
                    .zip(lo.iter().zip(hi))
                    .filter(|&(&a, (&l, &h))| !(sx.ok(a) && sy.ok(l) && sy.ok(h)))
                    .count();
            }
            _ => {}
        }
    }
    n
}

fn draw_panel(area: &DrawingArea<SVGBackend<'_>, Shift>, panel: &Panel, font: f64) -> Result<()> {
    let sx = Scale { log: panel.x.log };
    let sy = Scale { log: panel.y.log };
    let xr = fit_range(&panel.x, &axis_values(&panel.items, true));
    let yr = fit_range(&panel.y, &axis_values(&panel.items, false));
    let (xmaj, xmin) = ticks(panel.x.log, xr.0, xr.1);
    let (ymaj, ymin) = ticks(panel.y.log, yr.0, yr.1);
    let (xmaj_c, ymaj_c) = (xmaj.clone(), ymaj.clone());
    let mut builder = ChartBuilder::on(area);
    builder
        .margin((font * 0.8) as i32)
        .x_label_area_size((font * 3.2) as i32)
        .y_label_area_size((font * 4.6) as i32);
    if let Some(t) = &panel.title {
        builder.caption(t, ("sans-serif", font * 1.05));
    }
    let x_coord = TickAxis {
        lo: xr.0,
        hi: xr.1,
        major: xmaj_c,
        minor: xmin,
    };
    let y_coord = TickAxis {
        lo: yr.0,
        hi: yr.1,
        major: ymaj_c,
        minor: ymin,
    };
    let mut chart = builder
        .build_cartesian_2d(x_coord, y_coord)
        .map_err(draw_err)?;
    let x_labels: Vec<(f64, String)> = xmaj
        .iter()
        .copied()
        .zip(tick_labels(panel.x.log, &xmaj))
        .collect();
    let y_labels: Vec<(f64, String)> = ymaj
        .iter()
        .copied()
        .zip(tick_labels(panel.y.log, &ymaj))
        .collect();
    let lookup = |labels: &[(f64, String)], t: f64| {
        labels
            .iter()
            .min_by(|a, b| (a.0 - t).abs().total_cmp(&(b.0 - t).abs()))
            .map(|l| l.1.clone())
            .unwrap_or_default()
    };
    let xf = |t: &f64| lookup(&x_labels, *t);
    let yf = |t: &f64| lookup(&y_labels, *t);
    chart
        .configure_mesh()
        .x_desc(panel.x.label.as_str())
        .y_desc(panel.y.label.as_str())
        .x_label_formatter(&xf)
        .y_label_formatter(&yf)
        .label_style(("sans-serif", font * 0.85))
        .axis_desc_style(("sans-serif", font))
        .bold_line_style(RGBColor(215, 215, 215))
        .light_line_style(RGBColor(240, 240, 240))
        .draw()
        .map_err(draw_err)?;

    let mut any_label = false;
    for item in &panel.items {
        match item {
            Item::Band {
                x,
                lo,
                hi,
                colour,
                label,
            } => {
                let mut upper = Vec::new();
                let mut lower = Vec::new();
                for ((&a, &l), &h) in x.iter().zip(lo).zip(hi) {
                    if sx.ok(a) && sy.ok(l) && sy.ok(h) {
                        upper.push((sx.t(a), sy.t(h)));
                        lower.push((sx.t(a), sy.t(l)));
                    }
                }
                if upper.len() < 2 {
                    continue;
                }
                lower.reverse();
                upper.extend(lower);
                let c = rgb(*colour).mix(0.25);
                let ann = chart
                    .draw_series(std::iter::once(Polygon::new(upper, c.filled())))
                    .map_err(draw_err)?;
                if let Some(l) = label {
                    any_label = true;
                    let f = font;
                    ann.label(l.as_str()).legend(move |(px, py)| {
                        Rectangle::new(
                            [
                                (px, py - (f * 0.4) as i32),
                                (px + (f * 1.4) as i32, py + (f * 0.4) as i32),
                            ],
                            c.filled(),
                        )
                    });
                }
            }
            Item::Line {
                x,
                y,
                colour,
                width,
                dashed,
                label,
            } => {
                let style = rgb(*colour).stroke_width(*width);
                let mut first = true;
                for seg in segments(x, y, sx, sy, xr) {
                    let ann = if *dashed {
                        chart
                            .draw_series(DashedLineSeries::new(
                                seg,
                                (font * 0.55) as u32,
                                (font * 0.35) as u32,
                                style,
                            ))
                            .map_err(draw_err)?
                    } else {
                        chart
                            .draw_series(LineSeries::new(seg, style))
                            .map_err(draw_err)?
                    };
                    if first && let Some(l) = label {
                        any_label = true;
                        let f = font;
                        let dashed = *dashed;
                        ann.label(l.as_str()).legend(move |(px, py)| {
                            let w = (f * 1.4) as i32;
                            if dashed {
                                PathElement::new(vec![(px, py), (px + w / 2 - 2, py)], style)
                            } else {
                                PathElement::new(vec![(px, py), (px + w, py)], style)
                            }
                        });
                    }
                    first = false;
                }
            }
            Item::Points {
                x,
                y,
                colours,
                radius,
                filled,
                label,
            } => {
                let mut pts = Vec::new();
                for (i, (&a, &b)) in x.iter().zip(y).enumerate() {
                    if sx.ok(a) && sy.ok(b) {
                        let c = colours
                            .get(i)
                            .or(colours.first())
                            .copied()
                            .unwrap_or(BLACK_RGB);
                        pts.push(((sx.t(a), sy.t(b)), c));
                    }
                }
                let (r, filled) = (*radius, *filled);
                let ann = chart
                    .draw_series(pts.into_iter().map(|(p, c)| {
                        let style = if filled {
                            rgb(c).filled()
                        } else {
                            rgb(c).stroke_width(2)
                        };
                        Circle::new(p, r, style)
                    }))
                    .map_err(draw_err)?;
                if let Some(l) = label {
                    any_label = true;
                    let c = colours.first().copied().unwrap_or(BLACK_RGB);
                    let f = font;
                    ann.label(l.as_str()).legend(move |(px, py)| {
                        let style = if filled {
                            rgb(c).filled()
                        } else {
                            rgb(c).stroke_width(2)
                        };
                        Circle::new((px + (f * 0.7) as i32, py), r, style)
                    });
                }
            }
            Item::VLine { x, colour, label } => {
                if !sx.ok(*x) {
                    continue;
                }
                let t = sx.t(*x);
                let style = rgb(*colour).stroke_width(2);
                let ann = chart
                    .draw_series(DashedLineSeries::new(
                        vec![(t, yr.0), (t, yr.1)],
                        (font * 0.4) as u32,
                        (font * 0.4) as u32,
                        style,
                    ))
                    .map_err(draw_err)?;
                if let Some(l) = label {
                    any_label = true;
                    let f = font;
                    ann.label(l.as_str()).legend(move |(px, py)| {
                        PathElement::new(
                            vec![
                                (px + (f * 0.7) as i32, py - (f * 0.5) as i32),
                                (px + (f * 0.7) as i32, py + (f * 0.5) as i32),
                            ],
                            style,
                        )
                    });
                }
            }
            Item::HLine { y, colour } => {
                if !sy.ok(*y) {
                    continue;
                }
                let t = sy.t(*y);
                chart
                    .draw_series(LineSeries::new(
                        vec![(xr.0, t), (xr.1, t)],
                        rgb(*colour).stroke_width(1),
                    ))
                    .map_err(draw_err)?;
            }
            Item::Text {
                x,
                y,
                text,
                colour,
                above,
            } => {
                if !(sx.ok(*x) && sy.ok(*y)) {
                    continue;
                }
                let (px, py) = chart.backend_coord(&(sx.t(*x), sy.t(*y)));
                let (w, _) = area.dim_in_pixel();
                let (ax, _) = area.get_base_pixel();
                // Put the text left of the point when it would run off the right edge.
                let est = (font * 0.55 * text.chars().count() as f64) as i32;
                let right = px + est + 8 < ax + w as i32;
                let c = rgb(*colour);
                let style = TextStyle::from(("sans-serif", font * 0.85).into_font())
                    .color(&c)
                    .pos(Pos::new(
                        if right { HPos::Left } else { HPos::Right },
                        if *above { VPos::Bottom } else { VPos::Top },
                    ));
                let root_x = if right { px + 7 } else { px - 7 };
                let root_y = if *above { py - 6 } else { py + 6 };
                let (bx, by) = area.get_base_pixel();
                area.draw_text(text, &style, (root_x - bx, root_y - by))
                    .map_err(draw_err)?;
            }
        }
    }
    if any_label && panel.legend != LegendAt::None {
        let pos = match panel.legend {
            LegendAt::UpperLeft => SeriesLabelPosition::UpperLeft,
            LegendAt::LowerMiddle => SeriesLabelPosition::LowerMiddle,
            _ => SeriesLabelPosition::UpperRight,
        };
        chart
            .configure_series_labels()
            .position(pos)
            .label_font(("sans-serif", font * 0.85))
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(180, 180, 180))
            .legend_area_size((font * 1.8) as i32)
            .draw()
            .map_err(draw_err)?;
    }
    let skipped = undrawable(&panel.items, sx, sy);
    if skipped > 0 {
        let note = format!(
            "{skipped} value(s) not drawn: non-finite{}",
            if panel.x.log || panel.y.log {
                " or <= 0 on a log axis"
            } else {
                ""
            }
        );
        let (w, h) = area.dim_in_pixel();
        let c = rgb(RED);
        let style = TextStyle::from(("sans-serif", font * 0.75).into_font())
            .color(&c)
            .pos(Pos::new(HPos::Right, VPos::Bottom));
        area.draw_text(&note, &style, (w as i32 - 4, h as i32 - 2))
            .map_err(draw_err)?;
    }
    Ok(())
}

fn draw_colour_bar(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    bar: &ColourBar,
    font: f64,
) -> Result<()> {
    let s = Scale { log: bar.log };
    let (lo, hi) = if s.ok(bar.lo) && s.ok(bar.hi) && bar.hi > bar.lo {
        (s.t(bar.lo), s.t(bar.hi))
    } else {
        (0.0, 1.0)
    };
    let (w, h) = area.dim_in_pixel();
    let top = (font * 2.6) as i32;
    let bottom = h as i32 - (font * 4.0) as i32;
    if bottom <= top + 10 {
        return Ok(());
    }
    let x0 = (font * 0.6) as i32;
    let x1 = x0 + (font * 1.2) as i32;
    let steps = 64;
    let span = (bottom - top) as f64;
    for k in 0..steps {
        let ya = bottom - (span * k as f64 / steps as f64).round() as i32;
        let yb = bottom - (span * (k + 1) as f64 / steps as f64).round() as i32;
        let c = bar.map.at((k as f64 + 0.5) / steps as f64);
        area.draw(&Rectangle::new([(x0, yb), (x1, ya)], rgb(c).filled()))
            .map_err(draw_err)?;
    }
    area.draw(&Rectangle::new(
        [(x0, top), (x1, bottom)],
        BLACK.stroke_width(1),
    ))
    .map_err(draw_err)?;
    let (major, _) = ticks(bar.log, lo, hi);
    let labels = tick_labels(bar.log, &major);
    let label_style = TextStyle::from(("sans-serif", font * 0.8).into_font())
        .pos(Pos::new(HPos::Left, VPos::Center));
    for (t, text) in major.into_iter().zip(labels) {
        let y = bottom - ((t - lo) / (hi - lo) * span).round() as i32;
        area.draw(&PathElement::new(vec![(x1, y), (x1 + 4, y)], BLACK))
            .map_err(draw_err)?;
        area.draw_text(&text, &label_style, (x1 + 6, y))
            .map_err(draw_err)?;
    }
    let desc = TextStyle::from(("sans-serif", font * 0.9).into_font())
        .pos(Pos::new(HPos::Center, VPos::Bottom));
    area.draw_text(
        &bar.label,
        &desc,
        ((w as i32 / 2).max(x1), top - (font * 0.6) as i32),
    )
    .map_err(draw_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_ticks_are_decades_over_wide_ranges() {
        let (major, _) = ticks(true, 18.2, 23.9);
        assert_eq!(major, vec![19.0, 20.0, 21.0, 22.0, 23.0]);
        assert_eq!(tick_label(true, 21.0), "1e21");
    }

    #[test]
    fn narrow_log_ranges_get_readable_ticks() {
        // Loss from 2.0 to 3.5 on a log axis: linear nice values.
        let (major, _) = ticks(true, 2f64.log10(), 3.5f64.log10());
        let labels = tick_labels(true, &major);
        assert_eq!(
            labels,
            ["2.0", "2.2", "2.4", "2.6", "2.8", "3.0", "3.2", "3.4"]
        );
        // Over decades, 1-2-5 labels as they are.
        let (major, _) = ticks(true, 0.3f64.log10(), 8f64.log10());
        assert_eq!(tick_labels(true, &major), ["0.5", "1", "2", "5"]);
    }

    #[test]
    fn values_format_plainly() {
        assert_eq!(format_value(0.25), "0.25");
        assert_eq!(format_value(5.76e23), "5.76e23");
        assert_eq!(format_value(2285.752153), "2286");
        assert_eq!(tick_labels(false, &[2.8, 3.0, 3.2]), ["2.8", "3.0", "3.2"]);
        assert_eq!(format_value(72000.0), "72000");
        assert_eq!(format_value(3e-4), "3e-4");
    }
}

//! SVG figures of data, fits and their uncertainty (feature `plot`).
//!
//! One function per figure family, each taking the crate's own types and a [`PlotOptions`]
//! (size, title, log axes, colour map, font size, axis labels) and returning the SVG document
//! as a `String`; [`write_svg`] saves one. The families are the figures the field reads
//! scaling laws from:
//!
//! - [`metric_vs_compute`]: a bounded metric against compute (Khatri et al. 2025, Fig. 1): the
//!   points, their bias-corrected EMA ([`crate::smoothing::ema`]), the fitted sigmoid
//!   ([`crate::fit_sigmoid`]), the fit/holdout cut and the extrapolation with a band;
//! - [`loss_by_level`]: loss against parameters, tokens or compute with one line per level of
//!   a third variable and a log colour bar (Kaplan et al. 2020, Figs. 1-4);
//! - [`loss_vs_flops`]: loss against FLOPs coloured by model size with the fitted law's
//!   compute-optimal frontier, and [`compute_optimal`]: `N_opt` and `D_opt` against FLOPs
//!   with the fitted power law, a bootstrap band and annotated points (Hoffmann et al. 2022,
//!   Figs. 1-3);
//! - [`loss_curve_grid`]: real (solid) against predicted (dashed) loss curves, one panel per
//!   curve (Luo et al. 2025, multi-power law);
//! - [`lr_schedules`] and [`loss_vs_lr_area`]: learning-rate schedules, and loss against the
//!   learning rate summed over steps `S1` (Luo et al. 2025; Tissue et al. 2024);
//! - [`isoflop_profiles`]: IsoFLOP profiles with their vertices
//!   ([`crate::isoflop::approach2`]); [`residuals`]: the residuals of any fit.
//!
//! Colours come from a perceptually uniform map ([`ColourMap::Viridis`] by default). Values
//! that cannot be drawn (non-finite, or `<= 0` on a log axis) are left out and the panel says
//! how many, in red, in its lower right corner. Only the SVG backend is built: plotters'
//! bitmap backend needs a font library for text (font-kit and fontconfig, or a font file
//! shipped with the crate), and the default build stays free of system libraries. Render the
//! SVG with any browser or `rsvg-convert` for a PNG.
//!
//! ```
//! use scaling_laws::plot::{residuals, PlotOptions, ResidualKind};
//! let x = [1e8, 1e9, 1e10];
//! let svg = residuals(&x, &[3.1, 2.6, 2.2], &[3.0, 2.65, 2.2], ResidualKind::Relative,
//!                     &PlotOptions::default())?;
//! assert!(svg.starts_with("<svg"));
//! # Ok::<(), scaling_laws::Error>(())
//! ```

mod canvas;

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::data::Run;
use crate::error::{check, Error, Result};
use crate::isoflop::{Approach2Result, IsoFlopGroup, VertexEstimator};
use crate::laws::multipower::MultiPowerLaw;
use crate::laws::{ChinchillaLaw, SigmoidLaw};
use crate::numeric::quantile;
use crate::schedule::{LossCurve, Schedule};
use crate::smoothing::EmaWeight;
use crate::uncertainty::Bootstrap;
use canvas::{
    AxisSpec, ColourBar, Figure, Item, LegendAt, Panel, Rgb, BLACK_RGB, BLUE, GREY, ORANGE, RED,
};

/// A perceptually uniform colour map for ordered levels (model size, budget, step).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ColourMap {
    /// Viridis (van der Walt and Smith, matplotlib's default; Nuñez et al. 2018): dark blue
    /// to yellow, uniform in lightness, readable by colour-blind readers and in grey. The
    /// palest tenth is left out so that lines stay visible on white.
    #[default]
    Viridis,
    /// Light to dark grey, for print.
    Greys,
}

/// Size, title, scales, colours and labels of a figure. Every field has a default; the
/// figure functions document their own default scales and labels.
///
/// ```
/// use scaling_laws::plot::PlotOptions;
/// let opts = PlotOptions { title: Some("My fit".into()), log_y: Some(true), ..Default::default() };
/// assert_eq!((opts.width, opts.height), (900, 600));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PlotOptions {
    /// Width in pixels (100 to 20000; default 900).
    pub width: u32,
    /// Height in pixels (100 to 20000; default 600; grids scale it by their rows).
    pub height: u32,
    /// A title above the figure.
    pub title: Option<String>,
    /// Log x axis (`None`: the figure's default, usually log for compute, parameters and
    /// tokens).
    pub log_x: Option<bool>,
    /// Log y axis (`None`: the figure's default).
    pub log_y: Option<bool>,
    /// The colour map for ordered levels.
    pub colour_map: ColourMap,
    /// Base font size in pixels (default 16; tick labels are 85% of it).
    pub font_size: f64,
    /// Replaces the figure's x axis label.
    pub x_label: Option<String>,
    /// Replaces the figure's y axis label.
    pub y_label: Option<String>,
}

impl Default for PlotOptions {
    fn default() -> Self {
        PlotOptions {
            width: 900,
            height: 600,
            title: None,
            log_x: None,
            log_y: None,
            colour_map: ColourMap::Viridis,
            font_size: 16.0,
            x_label: None,
            y_label: None,
        }
    }
}

impl PlotOptions {
    fn x_axis(&self, label: &str, log: bool) -> AxisSpec {
        AxisSpec::new(
            self.x_label.clone().unwrap_or_else(|| label.to_string()),
            self.log_x.unwrap_or(log),
        )
    }

    fn y_axis(&self, label: &str, log: bool) -> AxisSpec {
        AxisSpec::new(
            self.y_label.clone().unwrap_or_else(|| label.to_string()),
            self.log_y.unwrap_or(log),
        )
    }

    fn figure(&self, panels: Vec<Panel>, columns: usize, bar: Option<ColourBar>) -> Figure {
        Figure {
            width: self.width,
            height: self.height,
            title: self.title.clone(),
            columns,
            panels,
            colour_bar: bar,
            font: self.font_size,
        }
    }
}

/// A band around a curve, for example a bootstrap or prediction interval: at each `x`, the
/// `lower` and `upper` bounds of a `level` interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Band {
    /// Positions, increasing.
    pub x: Vec<f64>,
    /// Lower bounds, one per position.
    pub lower: Vec<f64>,
    /// Upper bounds, one per position.
    pub upper: Vec<f64>,
    /// The interval's level (for example 0.95), shown in the legend.
    pub level: f64,
}

impl Band {
    /// The pointwise percentile band of curves drawn at `x` (for example refits on bootstrap
    /// resamples or parametric draws): `draws[k][i]` is draw `k` at `x[i]`. Non-finite draws
    /// are ignored at that position.
    ///
    /// ```
    /// use scaling_laws::plot::Band;
    /// let draws: Vec<Vec<f64>> = (0..=100).map(|k| vec![k as f64, 2.0 * k as f64]).collect();
    /// let band = Band::from_draws(vec![1.0, 2.0], &draws, 0.9)?;
    /// // 5th and 95th percentiles of 0..=100 (numpy.quantile: 5 and 95), the second doubled.
    /// assert!((band.lower[0] - 5.0).abs() < 1e-9 && (band.upper[1] - 190.0).abs() < 1e-9);
    /// # Ok::<(), scaling_laws::Error>(())
    /// ```
    ///
    /// # Errors
    /// A draw whose length differs from `x`; no draws; a level outside `(0, 1)`.
    pub fn from_draws(x: Vec<f64>, draws: &[Vec<f64>], level: f64) -> Result<Band> {
        check_level(level)?;
        if draws.is_empty() {
            return Err(Error::TooFewPoints {
                what: "draws for a band".into(),
                needed: 1,
                found: 0,
            });
        }
        for d in draws {
            check::same_len("positions and a draw", x.len(), d.len())?;
        }
        let q = (1.0 - level) / 2.0;
        let (mut lower, mut upper) = (Vec::new(), Vec::new());
        for i in 0..x.len() {
            let col: Vec<f64> = draws
                .iter()
                .map(|d| d[i])
                .filter(|v| v.is_finite())
                .collect();
            lower.push(quantile(&col, q));
            upper.push(quantile(&col, 1.0 - q));
        }
        Ok(Band {
            x,
            lower,
            upper,
            level,
        })
    }

    /// The band of one quantity across budgets from a Chinchilla bootstrap
    /// ([`crate::ChinchillaFitter::bootstrap`]): `quantity` is `"N_opt"`, `"D_opt"` or
    /// `"D/N"`, read from the intervals named `"N_opt(<budget>)"` and so on, sorted by budget.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] when the bootstrap has no interval of that quantity.
    pub fn from_bootstrap(bootstrap: &Bootstrap, quantity: &str) -> Result<Band> {
        let prefix = format!("{quantity}(");
        let mut rows: Vec<(f64, f64, f64, f64)> = bootstrap
            .names
            .iter()
            .zip(&bootstrap.intervals)
            .filter_map(|(name, iv)| {
                let c = name.strip_prefix(&prefix)?.strip_suffix(')')?;
                let c: f64 = c.parse().ok()?;
                Some((c, iv.lower, iv.upper, iv.level))
            })
            .collect();
        if rows.is_empty() {
            return Err(Error::InvalidOption {
                name: "quantity".into(),
                value: quantity.into(),
                reason: "the bootstrap has no interval named like \"<quantity>(<budget>)\"".into(),
            });
        }
        rows.sort_by(|a, b| a.0.total_cmp(&b.0));
        Ok(Band {
            x: rows.iter().map(|r| r.0).collect(),
            lower: rows.iter().map(|r| r.1).collect(),
            upper: rows.iter().map(|r| r.2).collect(),
            level: rows[0].3,
        })
    }

    fn validate(&self) -> Result<()> {
        check::same_len(
            "band positions and lower bounds",
            self.x.len(),
            self.lower.len(),
        )?;
        check::same_len(
            "band positions and upper bounds",
            self.x.len(),
            self.upper.len(),
        )?;
        check_level(self.level)
    }

    fn item(&self, colour: Rgb) -> Item {
        Item::Band {
            x: self.x.clone(),
            lo: self.lower.clone(),
            hi: self.upper.clone(),
            colour,
            label: Some(format!("{:.0}% band", 100.0 * self.level)),
        }
    }
}

fn check_level(level: f64) -> Result<()> {
    if level > 0.0 && level < 1.0 {
        Ok(())
    } else {
        Err(Error::InvalidOption {
            name: "level".into(),
            value: level.to_string(),
            reason: "must lie in (0, 1)".into(),
        })
    }
}

/// `n` points evenly spaced in log between `lo` and `hi` (both > 0).
fn log_grid(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let (a, b) = (lo.ln(), hi.ln());
    (0..n)
        .map(|i| (a + (b - a) * i as f64 / (n - 1) as f64).exp())
        .collect()
}

fn finite_range(values: impl IntoIterator<Item = f64>, positive: bool) -> Option<(f64, f64)> {
    let (lo, hi) = values
        .into_iter()
        .filter(|v| v.is_finite() && (!positive || *v > 0.0))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    (lo <= hi).then_some((lo, hi))
}

// ---------------------------------------------------------------------------------------------
// 1. Metric against compute.

/// What [`metric_vs_compute`] draws: the observed metric and, optionally, its smoothing, a
/// fitted sigmoid, the fit/holdout cut, a band and how far to extrapolate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricFigure {
    /// Compute of each evaluation (for example GPU-hours or FLOPs), > 0.
    pub compute: Vec<f64>,
    /// The metric at each evaluation (for example pass rate).
    pub metric: Vec<f64>,
    /// The bias-corrected EMA to draw over the points (default `Smoothing(0.9)`; `None`: no
    /// smoothed line).
    pub smoothing: Option<EmaWeight>,
    /// A fitted law to draw (solid up to the cut, dashed beyond it).
    pub law: Option<SigmoidLaw>,
    /// The compute up to which the law was fitted; points beyond it are drawn hollow.
    pub cut: Option<f64>,
    /// A band around the law (for example from refits on bootstrap resamples).
    pub band: Option<Band>,
    /// Draw the law out to this compute (default: the largest compute).
    pub extrapolate_to: Option<f64>,
    /// Name of the metric with its unit, for the y axis (default `"Metric"`).
    pub metric_label: String,
    /// Name of compute with its unit, for the x axis (default `"Compute (GPU-hours)"`).
    pub compute_label: String,
}

impl MetricFigure {
    /// The points only, smoothed with `Smoothing(0.9)`.
    pub fn new(compute: Vec<f64>, metric: Vec<f64>) -> MetricFigure {
        MetricFigure {
            compute,
            metric,
            smoothing: Some(EmaWeight::Smoothing(0.9)),
            law: None,
            cut: None,
            band: None,
            extrapolate_to: None,
            metric_label: "Metric".into(),
            compute_label: "Compute (GPU-hours)".into(),
        }
    }

    crate::builder::setters! {
        /// Adds a fitted law.
        with_law(law: SigmoidLaw) => law = Some;
        /// Marks the fit/holdout cut.
        with_cut(cut: f64) => cut = Some;
        /// Adds a band around the law.
        with_band(band: Band) => band = Some;
        /// Sets the smoothing (`None`: no smoothed line).
        with_smoothing(smoothing: Option<EmaWeight>) => smoothing;
        /// Extends the law to this compute.
        with_extrapolation_to(compute: f64) => extrapolate_to = Some;
    }

    /// Sets the axis names (with units).
    pub fn with_labels(mut self, compute: &str, metric: &str) -> MetricFigure {
        self.compute_label = compute.into();
        self.metric_label = metric.into();
        self
    }
}

/// A metric against compute (Khatri et al. 2025, Fig. 1): the points (hollow beyond the cut),
/// their bias-corrected EMA, the fitted sigmoid (solid where fitted, dashed where
/// extrapolated), the cut as a vertical line, and the band. Default scales: log compute,
/// linear metric.
///
/// # Errors
/// Lengths that differ; no points; an invalid smoothing weight; a band whose lengths differ
/// or whose level is outside `(0, 1)`; invalid options.
pub fn metric_vs_compute(figure: &MetricFigure, options: &PlotOptions) -> Result<String> {
    check::same_len(
        "compute and metric",
        figure.compute.len(),
        figure.metric.len(),
    )?;
    nothing_to_draw("points", figure.compute.is_empty())?;
    let x = options.x_axis(&figure.compute_label, true);
    let mut items = Vec::new();
    if let Some(band) = &figure.band {
        band.validate()?;
        items.push(band.item(BLUE));
    }
    let cut = figure.cut.unwrap_or(f64::INFINITY);
    let (mut fx, mut fy, mut hx, mut hy) = (vec![], vec![], vec![], vec![]);
    for (&c, &m) in figure.compute.iter().zip(&figure.metric) {
        if c <= cut {
            fx.push(c);
            fy.push(m);
        } else {
            hx.push(c);
            hy.push(m);
        }
    }
    items.push(
        Item::points(fx, fy, GREY)
            .radius(3)
            .labelled(if figure.cut.is_some() {
                "fitted points"
            } else {
                "points"
            }),
    );
    if !hx.is_empty() {
        items.push(
            Item::points(hx, hy, GREY)
                .radius(3)
                .hollow()
                .labelled("held-out points"),
        );
    }
    if let Some(w) = figure.smoothing {
        // Smooth in order of compute, over the finite values only.
        let mut pairs: Vec<(f64, f64)> = figure
            .compute
            .iter()
            .zip(&figure.metric)
            .map(|(&c, &m)| (c, m))
            .filter(|(c, m)| c.is_finite() && m.is_finite())
            .collect();
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let vals: Vec<f64> = pairs.iter().map(|p| p.1).collect();
        let s = crate::smoothing::ema(&vals, w)?;
        let xs = pairs.iter().map(|p| p.0).collect();
        items.push(Item::line(xs, s, ORANGE).labelled("EMA (bias-corrected)"));
    }
    if let Some(law) = &figure.law {
        let (lo, hi) = finite_range(figure.compute.iter().copied(), x.log).unwrap_or((1.0, 10.0));
        let hi = figure.extrapolate_to.filter(|v| *v > hi).unwrap_or(hi);
        let grid: Vec<f64> = if x.log && lo > 0.0 {
            log_grid(lo, hi, 300)
        } else {
            (0..300)
                .map(|i| lo + (hi - lo) * i as f64 / 299.0)
                .collect()
        };
        let (inside, beyond): (Vec<f64>, Vec<f64>) = grid.iter().partition(|&&c| c <= cut);
        let mut beyond = beyond;
        if let (Some(&last), false) = (inside.last(), beyond.is_empty()) {
            beyond.insert(0, last);
        }
        let name = format!(
            "sigmoid fit: A = {:.3}, B = {:.2}, C_mid = {}",
            law.a,
            law.b,
            canvas::format_value(law.c_mid)
        );
        if !inside.is_empty() {
            let y = law.predict_many(&inside);
            items.push(Item::line(inside, y, BLUE).width(3).labelled(name.clone()));
        }
        if beyond.len() > 1 {
            let y = law.predict_many(&beyond);
            let line = Item::line(beyond, y, BLUE).width(3).dashed();
            items.push(if figure.cut.is_some() {
                line.labelled("extrapolation")
            } else {
                line.labelled(name)
            });
        }
    }
    if let Some(c) = figure.cut {
        items.push(Item::VLine {
            x: c,
            colour: RED,
            label: Some(format!("fit/holdout cut ({})", canvas::format_value(c))),
        });
    }
    let panel = Panel {
        title: None,
        x,
        y: options.y_axis(&figure.metric_label, false),
        items,
        legend: LegendAt::UpperLeft,
    };
    options.figure(vec![panel], 1, None).render()
}

// ---------------------------------------------------------------------------------------------
// 2. Loss against a variable, one line per level of another.

/// A column of a [`Run`], for axes and levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RunField {
    /// Parameters `N`.
    Params,
    /// Training tokens `D`.
    Tokens,
    /// Training compute `C` (FLOPs).
    Flops,
    /// Final loss.
    Loss,
}

impl RunField {
    fn get(self, run: &Run) -> f64 {
        match self {
            RunField::Params => run.params(),
            RunField::Tokens => run.tokens(),
            RunField::Flops => run.flops(),
            RunField::Loss => run.loss(),
        }
    }

    fn label(self) -> &'static str {
        match self {
            RunField::Params => "Parameters N",
            RunField::Tokens => "Training tokens D",
            RunField::Flops => "Training compute C (FLOPs)",
            RunField::Loss => "Loss (nats/token)",
        }
    }

    fn bar_label(self) -> &'static str {
        match self {
            RunField::Params => "Parameters",
            RunField::Tokens => "Tokens",
            RunField::Flops => "FLOPs",
            RunField::Loss => "Loss",
        }
    }
}

/// Groups runs by `level` (sorted): a run joins the current group while its level is within
/// `rel_tol` of the level before it.
fn group_levels(runs: &[Run], level: RunField, rel_tol: f64) -> Vec<(f64, Vec<&Run>)> {
    let mut sorted: Vec<&Run> = runs.iter().collect();
    sorted.sort_by(|a, b| level.get(a).total_cmp(&level.get(b)));
    let mut groups: Vec<(f64, Vec<&Run>)> = Vec::new();
    for r in sorted {
        let v = level.get(r);
        match groups.last_mut() {
            Some((prev, g)) if (v - *prev).abs() <= rel_tol * prev.abs() => {
                g.push(r);
                *prev = v;
            }
            _ => groups.push((v, vec![r])),
        }
    }
    // Label each group by its geometric mean level.
    groups
        .into_iter()
        .map(|(_, g)| {
            let m = (g.iter().map(|r| level.get(r).ln()).sum::<f64>() / g.len() as f64).exp();
            (m, g)
        })
        .collect()
}

/// Loss against `x` with one line per level of `level` (sorted by level, runs form one level
/// while each is within 10% of the one before), coloured on a log colour bar: Kaplan et al.'s (2020) figures of loss
/// against parameters per token budget, or Hoffmann et al.'s (2022, Fig. 3) IsoFLOP curves
/// (x = parameters, level = FLOPs). Default scales: log-log.
///
/// # Errors
/// No runs; `x` or `level` equal to [`RunField::Loss`] (draw loss on the y axis); invalid
/// options.
pub fn loss_by_level(
    runs: &[Run],
    x: RunField,
    level: RunField,
    options: &PlotOptions,
) -> Result<String> {
    let (panel, bar) = levels_panel(runs, x, level, options)?;
    options.figure(vec![panel], 1, Some(bar)).render()
}

fn levels_panel(
    runs: &[Run],
    x: RunField,
    level: RunField,
    options: &PlotOptions,
) -> Result<(Panel, ColourBar)> {
    nothing_to_draw("runs", runs.is_empty())?;
    for (name, f) in [("x", x), ("level", level)] {
        if f == RunField::Loss {
            return Err(Error::InvalidOption {
                name: name.into(),
                value: "loss".into(),
                reason: "loss is drawn on the y axis; choose params, tokens or flops".into(),
            });
        }
    }
    let groups = group_levels(runs, level, 0.10);
    grouped_panel(&groups, x, level, options)
}

fn grouped_panel(
    groups: &[(f64, Vec<&Run>)],
    x: RunField,
    level: RunField,
    options: &PlotOptions,
) -> Result<(Panel, ColourBar)> {
    let (lo, hi) = finite_range(groups.iter().map(|g| g.0), true).unwrap_or((1.0, 10.0));
    let bar = ColourBar {
        label: level.bar_label().into(),
        map: options.colour_map,
        lo,
        hi: if hi > lo { hi } else { lo * 10.0 },
        log: true,
    };
    let mut items = Vec::new();
    for (lv, g) in groups {
        let mut pts: Vec<(f64, f64)> = g.iter().map(|r| (x.get(r), r.loss())).collect();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        let c = bar.colour(*lv);
        let (xs, ys): (Vec<f64>, Vec<f64>) = pts.into_iter().unzip();
        items.push(Item::line(xs.clone(), ys.clone(), c));
        items.push(Item::points(xs, ys, c).radius(3));
    }
    let panel = Panel {
        title: None,
        x: options.x_axis(x.label(), true),
        y: options.y_axis(RunField::Loss.label(), true),
        items,
        legend: LegendAt::None,
    };
    Ok((panel, bar))
}

// ---------------------------------------------------------------------------------------------
// 3. Loss against FLOPs, and the compute-optimal allocation.

/// Loss against FLOPs, each run coloured by its parameters on a log colour bar, with the
/// fitted law's compute-optimal frontier `L*(C)` ([`ChinchillaLaw::optimal_loss`]) drawn
/// over the runs' compute range (Hoffmann et al. 2022, Fig. 2 and 4). Default scales: log-log.
///
/// # Errors
/// No runs; invalid options. A law without a compute-optimal frontier (an exponent `<= 0`)
/// draws no frontier.
pub fn loss_vs_flops(
    runs: &[Run],
    law: Option<&ChinchillaLaw>,
    options: &PlotOptions,
) -> Result<String> {
    nothing_to_draw("runs", runs.is_empty())?;
    let (lo, hi) = finite_range(runs.iter().map(Run::params), true).unwrap_or((1.0, 10.0));
    let bar = ColourBar {
        label: "Parameters".into(),
        map: options.colour_map,
        lo,
        hi: if hi > lo { hi } else { lo * 10.0 },
        log: true,
    };
    let mut items = vec![Item::Points {
        x: runs.iter().map(Run::flops).collect(),
        y: runs.iter().map(Run::loss).collect(),
        colours: runs.iter().map(|r| bar.colour(r.params())).collect(),
        radius: 4,
        filled: true,
        label: Some("runs (colour: N)".into()),
    }];
    if let (Some(law), Some((c0, c1))) = (law, finite_range(runs.iter().map(Run::flops), true)) {
        let grid = log_grid(c0, c1, 200);
        let y: Vec<f64> = grid
            .iter()
            .map(|&c| law.optimal_loss(c).unwrap_or(f64::NAN))
            .collect();
        if y.iter().any(|v| v.is_finite()) {
            items.push(Item::line(grid, y, RED).width(3).labelled(format!(
                "compute-optimal L*(C), E = {:.2}, alpha = {:.2}, beta = {:.2}",
                law.e, law.alpha, law.beta
            )));
        }
    }
    let panel = Panel {
        title: None,
        x: options.x_axis(RunField::Flops.label(), true),
        y: options.y_axis(RunField::Loss.label(), true),
        items,
        legend: LegendAt::UpperRight,
    };
    options.figure(vec![panel], 1, Some(bar)).render()
}

/// A labelled point on the compute-optimal figure: for example Hoffmann et al.'s projection
/// of 67B parameters and 1.5T tokens at Gopher's budget of 5.76e23 FLOPs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mark {
    /// Compute (FLOPs).
    pub flops: f64,
    /// Parameters at that compute (drawn on the `N_opt` panel).
    pub params: f64,
    /// Tokens at that compute (drawn on the `D_opt` panel).
    pub tokens: f64,
    /// The label, for example `"Hoffmann et al.: 67B"`; the value is appended.
    pub label: String,
}

impl Mark {
    /// Hoffmann et al.'s (2022, Fig. 1 and Table 3) projection at Gopher's budget: 67B
    /// parameters and 1.5T tokens at 5.76e23 FLOPs (their approach 1).
    pub fn hoffmann_gopher_budget() -> Mark {
        Mark {
            flops: 5.76e23,
            params: 67e9,
            tokens: 1.5e12,
            label: "Hoffmann et al.".into(),
        }
    }
}

fn si(v: f64) -> String {
    let a = v.abs();
    let (d, s) = if a >= 1e12 {
        (1e12, "T")
    } else if a >= 1e9 {
        (1e9, "B")
    } else if a >= 1e6 {
        (1e6, "M")
    } else if a >= 1e3 {
        (1e3, "k")
    } else {
        (1.0, "")
    };
    let x = v / d;
    if x >= 100.0 {
        format!("{x:.0}{s}")
    } else {
        format!("{:.*}", if x >= 10.0 { 1 } else { 2 }, x)
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
            + s
    }
}

/// Compute-optimal parameters `N_opt(C)` and tokens `D_opt(C)` against FLOPs, in two panels:
/// the fitted law's power laws ([`ChinchillaLaw::compute_optimal`]) over `flops = (lo, hi)`,
/// the bootstrap band where `bootstrap` has `N_opt(<budget>)` and `D_opt(<budget>)`
/// intervals ([`crate::ChinchillaFitter::bootstrap`] with a grid of budgets), the
/// per-budget IsoFLOP vertices of `vertices` if given (approach 2), and the labelled `marks`
/// (Hoffmann et al. 2022, Fig. 3). Default scales: log-log.
///
/// # Errors
/// A range that is not `0 < lo < hi` (finite); a law without a compute-optimal allocation
/// (an exponent `<= 0`); invalid options.
pub fn compute_optimal(
    law: &ChinchillaLaw,
    flops: (f64, f64),
    bootstrap: Option<&Bootstrap>,
    vertices: Option<&Approach2Result>,
    marks: &[Mark],
    options: &PlotOptions,
) -> Result<String> {
    check::positive("flops range start", None, flops.0)?;
    check::positive("flops range end", None, flops.1)?;
    if !(flops.1 > flops.0) {
        return Err(Error::InvalidOption {
            name: "flops".into(),
            value: format!("({}, {})", flops.0, flops.1),
            reason: "the end must exceed the start".into(),
        });
    }
    law.validate_for_allocation()?;
    let grid = log_grid(flops.0, flops.1, 200);
    let alloc: Vec<_> = grid
        .iter()
        .map(|&c| law.compute_optimal(c))
        .collect::<Result<_>>()?;
    let mut panels = Vec::new();
    for (quantity, exponent, pick) in [
        ("N_opt", law.n_opt_exponent(), 0usize),
        ("D_opt", law.d_opt_exponent(), 1usize),
    ] {
        let get = |a: &crate::laws::Allocation| if pick == 0 { a.params } else { a.tokens };
        let mut items = Vec::new();
        if let Some(b) = bootstrap
            && let Ok(band) = Band::from_bootstrap(b, quantity)
        {
            let label = format!("{:.0}% bootstrap band", 100.0 * band.level);
            items.push(band.item(BLUE).labelled(label));
        }
        items.push(
            Item::line(grid.clone(), alloc.iter().map(get).collect(), BLUE)
                .width(3)
                .labelled(format!("fitted law: {quantity} ~ C^{exponent:.3}")),
        );
        if let Some(v) = vertices {
            let (mut xs, mut ys) = (vec![], vec![]);
            for b in &v.budgets {
                if let Some(vx) = b.vertex(VertexEstimator::Parabola)
                    && vx.interior
                {
                    xs.push(b.flops);
                    ys.push(if pick == 0 { vx.params } else { vx.tokens });
                }
            }
            if !xs.is_empty() {
                items.push(
                    Item::points(xs, ys, GREY)
                        .radius(5)
                        .labelled("IsoFLOP vertices (approach 2)"),
                );
            }
        }
        for m in marks {
            let y = if pick == 0 { m.params } else { m.tokens };
            let fitted = law.compute_optimal(m.flops).ok().map(|a| get(&a));
            // The higher of the two labels goes above its point, the other below.
            let mark_above = fitted.is_some_and(|v| y > v);
            items.push(Item::points(vec![m.flops], vec![y], RED).radius(6).hollow());
            items.push(Item::Text {
                x: m.flops,
                y,
                text: format!(
                    "{}: {} at {} FLOPs",
                    m.label,
                    si(y),
                    canvas::format_value(m.flops)
                ),
                colour: RED,
                above: mark_above,
            });
            if let Some(v) = fitted {
                items.push(Item::points(vec![m.flops], vec![v], BLUE).radius(5));
                items.push(Item::Text {
                    x: m.flops,
                    y: v,
                    text: format!("this fit: {}", si(v)),
                    colour: BLUE,
                    above: !mark_above,
                });
            }
        }
        let ylabel = if pick == 0 {
            "Compute-optimal parameters N_opt"
        } else {
            "Compute-optimal tokens D_opt"
        };
        panels.push(Panel {
            title: None,
            x: options.x_axis(RunField::Flops.label(), true),
            y: options.y_axis(ylabel, true),
            items,
            legend: LegendAt::UpperLeft,
        });
    }
    let mut opts = options.clone();
    if opts.width == PlotOptions::default().width {
        opts.width = 1400;
    }
    opts.figure(panels, 2, None).render()
}

// ---------------------------------------------------------------------------------------------
// 4. Real against predicted loss curves.

/// One panel of [`loss_curve_grid`]: a real curve and a law's prediction at its steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurvePanel {
    /// The panel's title, for example the schedule's name.
    pub title: String,
    /// Steps (updates).
    pub steps: Vec<f64>,
    /// Observed loss at each step.
    pub real: Vec<f64>,
    /// Predicted loss at each step.
    pub predicted: Vec<f64>,
    /// Whether the law was fitted on this curve (else the panel is a held-out prediction).
    pub fitted_on: bool,
}

impl CurvePanel {
    /// A panel from a curve and predictions at its steps.
    ///
    /// # Errors
    /// Predictions whose length differs from the curve's.
    pub fn new(
        title: impl Into<String>,
        curve: &LossCurve,
        predicted: Vec<f64>,
        fitted_on: bool,
    ) -> Result<CurvePanel> {
        check::same_len("curve steps and predictions", curve.len(), predicted.len())?;
        Ok(CurvePanel {
            title: title.into(),
            steps: curve.steps().iter().map(|&s| s as f64).collect(),
            real: curve.loss().to_vec(),
            predicted,
            fitted_on,
        })
    }

    /// A panel with the multi-power law's predictions ([`MultiPowerLaw::try_predict`]).
    ///
    /// # Errors
    /// As [`MultiPowerLaw::try_predict`].
    pub fn multipower(
        title: impl Into<String>,
        curve: &LossCurve,
        law: &MultiPowerLaw,
        fitted_on: bool,
    ) -> Result<CurvePanel> {
        let p = law.try_predict(curve.schedule(), curve.steps())?;
        CurvePanel::new(title, curve, p, fitted_on)
    }
}

/// A grid of panels, one per curve: the real loss solid, the prediction dashed, the
/// panel's title marked "(fit)" or "(held out)" (Luo et al. 2025, Fig. 1). Columns: 3 (fewer
/// for fewer panels); the height grows with the rows. Default scales: linear steps, linear
/// loss.
///
/// # Errors
/// No panels; lengths that differ within a panel; invalid options.
pub fn loss_curve_grid(panels: &[CurvePanel], options: &PlotOptions) -> Result<String> {
    nothing_to_draw("curves", panels.is_empty())?;
    let mut out = Vec::new();
    for p in panels {
        check::same_len("panel steps and real loss", p.steps.len(), p.real.len())?;
        check::same_len(
            "panel steps and predictions",
            p.steps.len(),
            p.predicted.len(),
        )?;
        out.push(Panel {
            title: Some(format!(
                "{} ({})",
                p.title,
                if p.fitted_on { "fit" } else { "held out" }
            )),
            x: options.x_axis("Step (updates)", false),
            y: options.y_axis("Loss (nats/token)", false),
            items: vec![
                Item::line(p.steps.clone(), p.real.clone(), BLUE).labelled("real"),
                Item::line(p.steps.clone(), p.predicted.clone(), ORANGE)
                    .width(2)
                    .dashed()
                    .labelled("predicted"),
            ],
            legend: LegendAt::UpperRight,
        });
    }
    let cols = panels.len().min(3);
    let rows = panels.len().div_ceil(cols);
    let mut opts = options.clone();
    let d = PlotOptions::default();
    if opts.width == d.width {
        opts.width = 460 * cols as u32;
    }
    if opts.height == d.height {
        opts.height = 360 * rows as u32 + if opts.title.is_some() { 40 } else { 0 };
    }
    opts.figure(out, cols, None).render()
}

// ---------------------------------------------------------------------------------------------
// 5. Schedules, and loss against the summed learning rate.

fn categorical(map: ColourMap, i: usize, n: usize) -> Rgb {
    map.at(if n <= 1 {
        0.0
    } else {
        i as f64 / (n - 1) as f64
    })
}

/// Line widths that shrink with the drawing order, so that lines drawn later on the same path
/// (schedules that agree until they decay) leave the earlier ones visible.
fn overlap_width(i: usize, n: usize) -> u32 {
    (2 + n.saturating_sub(i + 1)).min(6) as u32
}

/// Line `i` of `n` overlapping lines named `name`: its categorical colour and its
/// [`overlap_width`].
fn overlapping_line(
    x: Vec<f64>,
    y: Vec<f64>,
    i: usize,
    n: usize,
    name: &str,
    map: ColourMap,
) -> Item {
    Item::line(x, y, categorical(map, i, n))
        .width(overlap_width(i, n))
        .labelled(name)
}

fn schedule_panel(schedules: &[(&str, &Schedule)], options: &PlotOptions) -> Panel {
    let items = schedules
        .iter()
        .enumerate()
        .map(|(i, (name, s))| {
            let x: Vec<f64> = (1..=s.len()).map(|t| t as f64).collect();
            let n = schedules.len();
            overlapping_line(x, s.lrs().to_vec(), i, n, name, options.colour_map)
        })
        .collect();
    Panel {
        title: None,
        x: options.x_axis("Step (updates)", false),
        y: options.y_axis("Learning rate", false),
        items,
        legend: LegendAt::LowerMiddle,
    }
}

/// Learning-rate schedules, one line per schedule, against the step. Default scales: linear.
///
/// # Errors
/// No schedules; invalid options.
pub fn lr_schedules(schedules: &[(&str, &Schedule)], options: &PlotOptions) -> Result<String> {
    nothing_to_draw("schedules", schedules.is_empty())?;
    options
        .figure(vec![schedule_panel(schedules, options)], 1, None)
        .render()
}

/// Two panels (Luo et al. 2025, Fig. 2): the curves' learning-rate schedules against the step,
/// and their loss against the learning rate summed over the steps taken,
/// `S1(t) = eta_1 + ... + eta_t` ([`Schedule::s1`]). Under a constant rate the loss is a
/// power law in `S1`; where a schedule decays, its curve drops below that line (the
/// annealing bonus). Default scales: linear schedules; log `S1`, linear loss.
///
/// # Errors
/// No curves; invalid options.
pub fn loss_vs_lr_area(curves: &[(&str, &LossCurve)], options: &PlotOptions) -> Result<String> {
    nothing_to_draw("curves", curves.is_empty())?;
    let schedules: Vec<(&str, &Schedule)> =
        curves.iter().map(|(n, c)| (*n, c.schedule())).collect();
    // The x/y overrides apply to the right panel.
    let left_opts = PlotOptions {
        x_label: None,
        y_label: None,
        log_x: None,
        log_y: None,
        ..options.clone()
    };
    let left = schedule_panel(&schedules, &left_opts);
    let items = curves
        .iter()
        .enumerate()
        .map(|(i, (name, c))| {
            let area = c.schedule().cumulative_area();
            let x: Vec<f64> = c
                .steps()
                .iter()
                .map(|&s| area.get(s).copied().unwrap_or(f64::NAN))
                .collect();
            let n = curves.len();
            overlapping_line(x, c.loss().to_vec(), i, n, name, options.colour_map)
        })
        .collect();
    let right = Panel {
        title: None,
        x: options.x_axis("Summed learning rate S1", true),
        y: options.y_axis("Loss (nats/token)", false),
        items,
        legend: LegendAt::UpperRight,
    };
    let mut opts = options.clone();
    if opts.width == PlotOptions::default().width {
        opts.width = 1400;
    }
    opts.figure(vec![left, right], 2, None).render()
}

// ---------------------------------------------------------------------------------------------
// 6. IsoFLOP profiles and residuals.

/// IsoFLOP profiles (Hoffmann et al. 2022, Fig. 3 left): loss against parameters for each
/// budget, coloured by budget on a log colour bar, with each budget's parabola vertex from
/// `result` ([`crate::isoflop::approach2`]) as a large hollow marker (red when it lies
/// outside the sampled sizes and was excluded from the fit). Default scales: log-log.
///
/// # Errors
/// No groups; invalid options.
pub fn isoflop_profiles(
    groups: &[IsoFlopGroup],
    result: Option<&Approach2Result>,
    options: &PlotOptions,
) -> Result<String> {
    nothing_to_draw("IsoFLOP groups", groups.is_empty())?;
    let levels: Vec<(f64, Vec<&Run>)> = groups
        .iter()
        .map(|g| (g.flops(), g.runs().iter().collect()))
        .collect();
    let (mut panel, bar) = grouped_panel(&levels, RunField::Params, RunField::Flops, options)?;
    if let Some(res) = result {
        let (mut xs, mut ys, mut cs) = (vec![], vec![], vec![]);
        let (mut ox, mut oy) = (vec![], vec![]);
        for b in &res.budgets {
            if let Some(v) = b.vertex(VertexEstimator::Parabola) {
                if v.interior {
                    xs.push(v.params);
                    ys.push(v.loss);
                    cs.push(bar.colour(b.flops));
                } else {
                    ox.push(v.params);
                    oy.push(v.loss);
                }
            }
        }
        panel.items.push(Item::Points {
            x: xs,
            y: ys,
            colours: cs,
            radius: 8,
            filled: false,
            label: Some("parabola vertex (approach 2)".into()),
        });
        if !ox.is_empty() {
            panel.items.push(
                Item::points(ox, oy, RED)
                    .radius(8)
                    .hollow()
                    .labelled("vertex outside sampled sizes"),
            );
        }
        panel.legend = LegendAt::UpperRight;
    }
    options.figure(vec![panel], 1, Some(bar)).render()
}

/// How [`residuals`] measures the misfit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ResidualKind {
    /// `observed - predicted`, in the data's units.
    Absolute,
    /// `log(observed / predicted)`, about the relative error (the scale Chinchilla fits use).
    #[default]
    Relative,
}

/// The residuals of any fit against `x` (for example parameters or compute), with a zero line.
/// Default scales: log x, linear residuals.
///
/// # Errors
/// Lengths that differ; no points; invalid options.
pub fn residuals(
    x: &[f64],
    observed: &[f64],
    predicted: &[f64],
    kind: ResidualKind,
    options: &PlotOptions,
) -> Result<String> {
    check::same_len("x and observed", x.len(), observed.len())?;
    check::same_len("x and predicted", x.len(), predicted.len())?;
    nothing_to_draw("points", x.is_empty())?;
    let r: Vec<f64> = observed
        .iter()
        .zip(predicted)
        .map(|(&o, &p)| match kind {
            ResidualKind::Absolute => o - p,
            ResidualKind::Relative => (o / p).ln(),
        })
        .collect();
    let label = match kind {
        ResidualKind::Absolute => "Residual: observed - predicted",
        ResidualKind::Relative => "Residual: log(observed / predicted)",
    };
    let panel = Panel {
        title: None,
        x: options.x_axis("x", true),
        y: options.y_axis(label, false),
        items: vec![
            Item::HLine {
                y: 0.0,
                colour: BLACK_RGB,
            },
            Item::points(x.to_vec(), r, BLUE)
                .radius(4)
                .labelled("residuals"),
        ],
        legend: LegendAt::UpperRight,
    };
    options.figure(vec![panel], 1, None).render()
}

/// Writes an SVG document to `path`.
///
/// # Errors
/// [`Error::Io`] naming the path when the file cannot be written.
pub fn write_svg(path: impl AsRef<Path>, svg: &str) -> Result<()> {
    let path = path.as_ref();
    std::fs::write(path, svg).map_err(|e| Error::Io(format!("{}: {e}", path.display())))
}

/// [`Error::TooFewPoints`] naming `what` when there is none of it to draw.
pub(crate) fn nothing_to_draw(what: &str, empty: bool) -> Result<()> {
    if empty {
        return Err(Error::TooFewPoints {
            what: format!("{what} to draw"),
            needed: 1,
            found: 0,
        });
    }
    Ok(())
}

//! The figures' structure, read back from the SVG with an XML parser: series and point counts,
//! axis labels, log ticks where asked, no NaN or out-of-canvas coordinates, and errors for
//! inputs that cannot be drawn.
#![cfg(feature = "plot")]

use scaling_laws::datasets::{multipower_curves, MultiPowerModel};
use scaling_laws::isoflop::{approach2, Approach2Options, IsoFlopGroup};
use scaling_laws::laws::SigmoidLaw;
use scaling_laws::plot::{
    compute_optimal, isoflop_profiles, loss_by_level, loss_curve_grid, loss_vs_flops,
    loss_vs_lr_area, lr_schedules, metric_vs_compute, residuals, write_svg, Band, CurvePanel, Mark,
    MetricFigure, PlotOptions, ResidualKind, RunField,
};
use scaling_laws::schedule::{LossCurve, Schedule};
use scaling_laws::simulate::{simulate, IsoFlopDesign, Noise};
use scaling_laws::uncertainty::{Bootstrap, Interval};
use scaling_laws::{ChinchillaLaw, Run};

/// A polyline: (stroke, stroke-width, points).
type Polyline = (String, f64, Vec<(f64, f64)>);

/// What a figure contains, read from its SVG.
struct Svg {
    width: f64,
    height: f64,
    /// (cx, cy, r, fill, stroke)
    circles: Vec<(f64, f64, f64, String, String)>,
    /// (stroke, stroke-width, points)
    polylines: Vec<Polyline>,
    polygons: usize,
    /// (x, y, text)
    texts: Vec<(f64, f64, String)>,
    rects: usize,
}

fn num(node: roxmltree::Node, attr: &str) -> f64 {
    let v: f64 = node
        .attribute(attr)
        .unwrap_or_else(|| panic!("<{}> without {attr}", node.tag_name().name()))
        .parse()
        .unwrap_or_else(|e| panic!("{attr} of <{}>: {e}", node.tag_name().name()));
    assert!(v.is_finite(), "{attr} = {v}");
    v
}

fn parse(svg: &str) -> Svg {
    assert!(
        !svg.contains("NaN") && !svg.contains("inf"),
        "non-finite text in the SVG"
    );
    let doc = roxmltree::Document::parse(svg).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    let mut out = Svg {
        width: num(root, "width"),
        height: num(root, "height"),
        circles: vec![],
        polylines: vec![],
        polygons: 0,
        texts: vec![],
        rects: 0,
    };
    let inside = |x: f64, y: f64, out: &Svg| {
        assert!(
            (-1.0..=out.width + 1.0).contains(&x) && (-1.0..=out.height + 1.0).contains(&y),
            "({x}, {y}) outside the {}x{} canvas",
            out.width,
            out.height
        );
    };
    for n in root.descendants().filter(|n| n.is_element()) {
        let attr = |a: &str| n.attribute(a).unwrap_or("").to_string();
        match n.tag_name().name() {
            "circle" => {
                let (x, y) = (num(n, "cx"), num(n, "cy"));
                inside(x, y, &out);
                out.circles
                    .push((x, y, num(n, "r"), attr("fill"), attr("stroke")));
            }
            "polyline" | "polygon" => {
                let pts: Vec<(f64, f64)> = attr("points")
                    .split_whitespace()
                    .map(|p| {
                        let (a, b) = p.split_once(',').expect("x,y");
                        let (a, b): (f64, f64) = (a.parse().unwrap(), b.parse().unwrap());
                        assert!(a.is_finite() && b.is_finite());
                        (a, b)
                    })
                    .collect();
                for &(x, y) in &pts {
                    inside(x, y, &out);
                }
                if n.tag_name().name() == "polygon" {
                    out.polygons += 1;
                } else {
                    let w = attr("stroke-width").parse().unwrap_or(1.0);
                    out.polylines.push((attr("stroke"), w, pts));
                }
            }
            "text" => {
                let t = n.text().unwrap_or("").trim().to_string();
                out.texts.push((num(n, "x"), num(n, "y"), t));
            }
            "rect" => out.rects += 1,
            "line" => {
                for (a, b) in [("x1", "y1"), ("x2", "y2")] {
                    inside(num(n, a), num(n, b), &out);
                }
            }
            _ => {}
        }
    }
    out
}

impl Svg {
    fn has_text(&self, s: &str) -> bool {
        self.texts.iter().any(|t| t.2 == s)
    }
    fn text_containing(&self, s: &str) -> bool {
        self.texts.iter().any(|t| t.2.contains(s))
    }
    fn circles_with(&self, fill: &str, r: f64) -> usize {
        self.circles
            .iter()
            .filter(|c| c.3 == fill && c.2 == r)
            .count()
    }
    fn lines_with(&self, stroke: &str) -> usize {
        self.polylines.iter().filter(|p| p.0 == stroke).count()
    }
    /// x of the tick label `s` (the labels under the x axis).
    fn label_x(&self, s: &str) -> f64 {
        self.texts
            .iter()
            .find(|t| t.2 == s)
            .unwrap_or_else(|| panic!("no tick label {s}"))
            .0
    }
}

const BLUE: &str = "#1F5AAA";
const GREY: &str = "#787878";
const ORANGE: &str = "#E17814";
const RED: &str = "#C82828";

fn sigmoid_data(n: usize) -> (Vec<f64>, Vec<f64>, SigmoidLaw) {
    let law = SigmoidLaw::new(0.3, 0.6, 2.0, 1_000.0).unwrap();
    let c: Vec<f64> = (1..=n).map(|i| 100.0 * i as f64).collect();
    let m = law.predict_many(&c);
    (c, m, law)
}

#[test]
fn metric_figure_has_points_fit_cut_band_and_log_ticks() {
    let (c, m, law) = sigmoid_data(40);
    let grid: Vec<f64> = c.clone();
    let band = Band {
        x: grid.clone(),
        lower: law.predict_many(&grid).iter().map(|v| v - 0.02).collect(),
        upper: law.predict_many(&grid).iter().map(|v| v + 0.02).collect(),
        level: 0.95,
    };
    let fig = MetricFigure::new(c, m)
        .with_law(law)
        .with_cut(2_000.0)
        .with_band(band);
    let svg = parse(&metric_vs_compute(&fig, &PlotOptions::default()).unwrap());
    // 20 fitted points (filled) and 20 held-out points (hollow), each plus a legend marker.
    assert_eq!(svg.circles_with(GREY, 3.0), 21);
    assert_eq!(
        svg.circles
            .iter()
            .filter(|c| c.4 == GREY && c.3 == "none")
            .count(),
        21
    );
    // The EMA: one line and its legend sample; the fit: one solid line, a dashed
    // extrapolation (many dashes), legend samples.
    assert_eq!(svg.lines_with(ORANGE), 2);
    assert!(svg.lines_with(BLUE) > 5);
    assert_eq!(svg.polygons, 1, "one band");
    assert!(svg.has_text("Compute (GPU-hours)") && svg.has_text("Metric"));
    assert!(svg.text_containing("fit/holdout cut (2000)"));
    // Log x: 100, 200, 500, 1000, 2000 are placed by their logarithms.
    let (x100, x200, x1000) = (svg.label_x("100"), svg.label_x("200"), svg.label_x("1000"));
    let frac = (x200 - x100) / (x1000 - x100);
    assert!((frac - 2f64.log10()).abs() < 0.02, "{frac}");
}

#[test]
fn metric_figure_linear_axes_when_asked() {
    let (c, m, _) = sigmoid_data(30);
    let fig = MetricFigure::new(c, m).with_smoothing(None);
    let opts = PlotOptions {
        log_x: Some(false),
        ..Default::default()
    };
    let svg = parse(&metric_vs_compute(&fig, &opts).unwrap());
    assert_eq!(svg.lines_with(ORANGE), 0, "no smoothing asked");
    // Linear x: 1000, 2000, 3000 evenly spaced.
    let (a, b, d) = (
        svg.label_x("1000"),
        svg.label_x("2000"),
        svg.label_x("3000"),
    );
    assert!(((b - a) - (d - b)).abs() <= 1.0);
}

fn grid_runs() -> Vec<Run> {
    let design = IsoFlopDesign::log_spaced(1e18, 1e21, 4, 6).unwrap();
    simulate(
        &ChinchillaLaw::besiroglu_2024(),
        &design,
        Noise::LogNormal { sigma: 0.005 },
        3,
    )
    .unwrap()
}

#[test]
fn loss_by_level_draws_one_line_per_budget_and_a_log_colour_bar() {
    let runs = grid_runs();
    let svg = loss_by_level(
        &runs,
        RunField::Params,
        RunField::Flops,
        &PlotOptions::default(),
    )
    .unwrap();
    let svg = parse(&svg);
    // Four budgets: four coloured lines of six points each.
    let series: Vec<_> = svg
        .polylines
        .iter()
        .filter(|p| p.1 >= 2.0 && p.0 != "#000000")
        .collect();
    assert_eq!(series.len(), 4);
    assert!(series.iter().all(|p| p.2.len() == 6));
    assert_eq!(svg.circles.len(), 24);
    assert!(svg.has_text("Parameters N") && svg.has_text("Loss (nats/token)"));
    assert!(svg.has_text("FLOPs"), "colour bar label");
    // The colour bar's decade labels.
    for t in ["1e18", "1e19", "1e20", "1e21"] {
        assert!(svg.has_text(t), "{t}");
    }
    assert!(svg.rects >= 64, "the colour bar's strip");
    assert!(loss_by_level(
        &runs,
        RunField::Loss,
        RunField::Flops,
        &PlotOptions::default()
    )
    .is_err());
}

#[test]
fn loss_vs_flops_colours_runs_and_draws_the_frontier() {
    let runs = grid_runs();
    let law = ChinchillaLaw::besiroglu_2024();
    let svg = parse(&loss_vs_flops(&runs, Some(&law), &PlotOptions::default()).unwrap());
    assert_eq!(
        svg.circles.len(),
        runs.len() + 1,
        "runs and a legend marker"
    );
    let fills: std::collections::HashSet<_> = svg.circles.iter().map(|c| c.3.clone()).collect();
    assert!(fills.len() >= 6, "sizes get distinct colours");
    assert_eq!(svg.lines_with(RED), 2, "the frontier and its legend sample");
    assert!(svg.has_text("Training compute C (FLOPs)"));
}

#[test]
fn compute_optimal_has_two_panels_bands_and_the_hoffmann_annotation() {
    let law = ChinchillaLaw::hoffmann_2022();
    let budgets = [1e20, 1e22, 1e24];
    let mut names = vec![];
    let mut intervals = vec![];
    for &c in &budgets {
        let a = law.compute_optimal(c).unwrap();
        for (q, v) in [("N_opt", a.params), ("D_opt", a.tokens)] {
            names.push(format!("{q}({c:e})"));
            intervals.push(Interval::new(v, 0.8 * v, 1.25 * v, 0.9));
        }
    }
    let boot = Bootstrap::from_parts(names, intervals, Default::default()).unwrap();
    let svg = compute_optimal(
        &law,
        (1e19, 1e25),
        Some(&boot),
        None,
        &[Mark::hoffmann_gopher_budget()],
        &PlotOptions::default(),
    )
    .unwrap();
    let svg = parse(&svg);
    assert_eq!(svg.polygons, 2, "a band per panel");
    assert!(svg.has_text("90% bootstrap band"));
    assert!(svg.has_text("Hoffmann et al.: 67B at 5.76e23 FLOPs"));
    assert!(svg.has_text("Hoffmann et al.: 1.5T at 5.76e23 FLOPs"));
    assert!(svg.has_text("Compute-optimal parameters N_opt"));
    assert!(svg.has_text("Compute-optimal tokens D_opt"));
    for t in ["1e19", "1e22", "1e25"] {
        assert!(svg.has_text(t), "{t}");
    }
    assert!(compute_optimal(&law, (1e20, 1e19), None, None, &[], &PlotOptions::default()).is_err());
}

#[test]
fn loss_curve_grid_has_one_panel_per_curve() {
    let curves = multipower_curves(MultiPowerModel::M25);
    let panels: Vec<CurvePanel> = curves
        .iter()
        .map(|c| {
            let p = c.curve.loss().iter().map(|l| l * 1.01).collect();
            CurvePanel::new(&c.name, &c.curve, p, c.is_training()).unwrap()
        })
        .collect();
    let svg = parse(&loss_curve_grid(&panels, &PlotOptions::default()).unwrap());
    assert_eq!(svg.width, 3.0 * 460.0);
    let titles = svg
        .texts
        .iter()
        .filter(|t| t.2.ends_with("(fit)") || t.2.ends_with("(held out)"))
        .count();
    assert_eq!(titles, 9);
    assert_eq!(
        svg.texts.iter().filter(|t| t.2.ends_with("(fit)")).count(),
        3
    );
    // One solid real curve and its legend sample per panel; predictions are dashed.
    assert_eq!(svg.lines_with(BLUE), 18);
    assert!(svg.lines_with(ORANGE) > 9 * 10);
    assert_eq!(
        svg.texts.iter().filter(|t| t.2 == "Step (updates)").count(),
        9
    );
    let c = &curves[0].curve;
    assert!(CurvePanel::new("x", c, vec![1.0], true).is_err());
}

#[test]
fn schedules_and_lr_area() {
    let s1 = Schedule::constant(1e-3, 1000).unwrap();
    let s2 = Schedule::cosine(1e-3, 1e-4, 1000).unwrap();
    let svg = parse(
        &lr_schedules(
            &[("constant", &s1), ("cosine", &s2)],
            &PlotOptions::default(),
        )
        .unwrap(),
    );
    let series: Vec<_> = svg.polylines.iter().filter(|p| p.1 >= 2.0).collect();
    assert_eq!(series.len(), 4, "two schedules and their legend samples");
    assert!(svg.has_text("constant") && svg.has_text("cosine"));
    assert!(svg.has_text("Learning rate"));

    let steps: Vec<usize> = (1..=10).map(|k| 100 * k).collect();
    let loss = |s: &Schedule| -> Vec<f64> {
        let a = s.cumulative_area();
        steps.iter().map(|&t| 2.0 + a[t].powf(-0.3)).collect()
    };
    let c1 = LossCurve::new(s1.clone(), steps.clone(), loss(&s1)).unwrap();
    let c2 = LossCurve::new(s2.clone(), steps.clone(), loss(&s2)).unwrap();
    let svg = parse(
        &loss_vs_lr_area(
            &[("constant", &c1), ("cosine", &c2)],
            &PlotOptions::default(),
        )
        .unwrap(),
    );
    assert!(svg.has_text("Summed learning rate S1"));
    let series: Vec<_> = svg.polylines.iter().filter(|p| p.1 >= 2.0).collect();
    assert_eq!(
        series.len(),
        8,
        "two panels of two lines and legend samples"
    );
    // The loss panel's lines have one point per observed step.
    assert_eq!(series.iter().filter(|p| p.2.len() == 10).count(), 2);
}

#[test]
fn isoflop_profiles_mark_each_vertex() {
    let runs = grid_runs();
    let budgets = [1e18, 1e19, 1e20, 1e21];
    let groups: Vec<IsoFlopGroup> = budgets
        .iter()
        .map(|&c| {
            let g: Vec<Run> = runs
                .iter()
                .filter(|r| (r.flops() / c - 1.0).abs() < 0.05)
                .cloned()
                .collect();
            IsoFlopGroup::new(c, g).unwrap()
        })
        .collect();
    let res = approach2(&groups, &Approach2Options::new()).unwrap();
    let interior = res
        .budgets
        .iter()
        .filter(|b| b.parabola.is_some_and(|v| v.interior))
        .count();
    let svg = parse(&isoflop_profiles(&groups, Some(&res), &PlotOptions::default()).unwrap());
    let vertices = svg.circles.iter().filter(|c| c.2 == 8.0).count();
    assert_eq!(vertices, interior + 1, "vertices and a legend marker");
    assert!(interior >= 3);
    assert_eq!(svg.circles.iter().filter(|c| c.2 == 3.0).count(), 24);
    assert!(isoflop_profiles(&[], None, &PlotOptions::default()).is_err());
}

#[test]
fn residuals_count_points_and_skip_what_cannot_be_drawn() {
    let x = [1e8, 2e8, 4e8, f64::NAN, -1.0];
    let obs = [3.0, 2.9, 2.8, 2.7, 2.6];
    let pred = [3.01, 2.88, 2.8, 2.7, 2.6];
    let svg = residuals(
        &x,
        &obs,
        &pred,
        ResidualKind::Absolute,
        &PlotOptions::default(),
    )
    .unwrap();
    let svg = parse(&svg);
    assert_eq!(svg.circles_with(BLUE, 4.0), 3 + 1);
    assert!(svg.has_text("2 value(s) not drawn: non-finite or <= 0 on a log axis"));
    assert!(svg.has_text("Residual: observed - predicted"));
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let o = PlotOptions::default();
    assert!(residuals(&[], &[], &[], ResidualKind::Relative, &o).is_err());
    assert!(residuals(&[1.0], &[1.0, 2.0], &[1.0], ResidualKind::Relative, &o).is_err());
    let tiny = PlotOptions {
        width: 0,
        ..Default::default()
    };
    assert!(residuals(&[1.0], &[1.0], &[1.0], ResidualKind::Relative, &tiny).is_err());
    let font = PlotOptions {
        font_size: f64::NAN,
        ..Default::default()
    };
    assert!(residuals(&[1.0], &[1.0], &[1.0], ResidualKind::Relative, &font).is_err());
    assert!(loss_by_level(&[], RunField::Params, RunField::Flops, &o).is_err());
    assert!(metric_vs_compute(&MetricFigure::new(vec![], vec![]), &o).is_err());
    assert!(Band::from_draws(vec![1.0], &[], 0.9).is_err());
    assert!(Band::from_draws(vec![1.0], &[vec![1.0]], 1.5).is_err());
    // All points undrawable: still a figure, with the note.
    let svg = residuals(
        &[f64::NAN, f64::INFINITY],
        &[1.0, 1.0],
        &[1.0, 1.0],
        ResidualKind::Relative,
        &o,
    )
    .unwrap();
    assert!(parse(&svg).text_containing("not drawn"));
    // Single point and duplicates.
    let svg = metric_vs_compute(&MetricFigure::new(vec![5.0, 5.0], vec![0.3, 0.3]), &o).unwrap();
    parse(&svg);
    assert!(write_svg("/nonexistent-dir/x.svg", &svg).is_err());
}

//! A figure as data (layers of lines, bands, bars, markers, an optional heat map) and
//! the one function that draws it, on the SVG and the PNG backend alike.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::axis::Axis;
use super::text::Crisp;

/// Width and height of every picture, in pixels.
pub(crate) const SIZE: (u32, u32) = (1000, 700);
const FONT: &str = "sans-serif";
const TITLE_PX: f64 = 26.0;
const AXIS_DESC_PX: f64 = 19.0;
const TICK_PX: f64 = 16.0;
const LEGEND_PX: f64 = 15.0;
const CAPTION_PX: f64 = 15.0;
const PANEL_TITLE_PX: f64 = 19.0;
/// Space under and left of the plotting area for the ticks and the axis names.
const X_LABEL_AREA: u32 = 58;
const Y_LABEL_AREA: u32 = 84;
const MARGIN: u32 = 18;
/// A band keeps at most this many points (half of them per edge).
const MAX_POINTS: usize = 4000;

/// Colours for up to ten groups (matplotlib's "tab10" with red last, since red marks
/// divergence), then evenly spaced hues.
pub(crate) fn palette(n: usize) -> Vec<RGBColor> {
    const TAB10: [RGBColor; 10] = [
        RGBColor(0x1f, 0x77, 0xb4),
        RGBColor(0xff, 0x7f, 0x0e),
        RGBColor(0x2c, 0xa0, 0x2c),
        RGBColor(0x94, 0x67, 0xbd),
        RGBColor(0x8c, 0x56, 0x4b),
        RGBColor(0xe3, 0x77, 0xc2),
        RGBColor(0x7f, 0x7f, 0x7f),
        RGBColor(0xbc, 0xbd, 0x22),
        RGBColor(0x17, 0xbe, 0xcf),
        RGBColor(0xd6, 0x27, 0x28),
    ];
    if n <= TAB10.len() {
        return TAB10[..n].to_vec();
    }
    (0..n)
        .map(|i| {
            let hue = i as f64 / n as f64;
            // Alternate lightness so that neighbouring hues still differ.
            let light = if i % 2 == 0 { 0.42 } else { 0.58 };
            let (r, g, b) = hsl_to_rgb(hue, 0.7, light);
            RGBColor(r, g, b)
        })
        .collect()
}

/// Colours for groups given by their variants: distinct colours while there are at
/// most ten groups; beyond that one hue per variant, light to dark over its groups
/// (in sweep order), so a crowded legend still reads as families.
pub(crate) fn colors_for(variants: &[&str]) -> Vec<RGBColor> {
    if variants.len() <= 10 {
        return palette(variants.len());
    }
    let mut distinct: Vec<&str> = Vec::new();
    for v in variants {
        if !distinct.contains(v) {
            distinct.push(v);
        }
    }
    if distinct.len() > 10 {
        return palette(variants.len());
    }
    let bases = palette(distinct.len());
    let mut seen = vec![0usize; distinct.len()];
    variants
        .iter()
        .map(|v| {
            let k = distinct.iter().position(|d| d == v).unwrap_or(0);
            let m = variants.iter().filter(|o| *o == v).count();
            let i = seen[k];
            seen[k] += 1;
            let (h, s, _) = rgb_to_hsl(bases[k]);
            let l = if m > 1 {
                0.64 - 0.36 * i as f64 / (m - 1) as f64
            } else {
                0.45
            };
            let (r, g, b) = hsl_to_rgb(h, s, l);
            RGBColor(r, g, b)
        })
        .collect()
}

fn rgb_to_hsl(c: RGBColor) -> (f64, f64, f64) {
    let (r, g, b) = (
        f64::from(c.0) / 255.0,
        f64::from(c.1) / 255.0,
        f64::from(c.2) / 255.0,
    );
    let max = r.max(g).max(b);
    let min = r.min(g).min(b);
    let l = (max + min) / 2.0;
    let d = max - min;
    if d < 1e-12 {
        return (0.0, 0.0, l);
    }
    let s = d / (1.0 - (2.0 * l - 1.0).abs());
    let h = if max == r {
        ((g - b) / d).rem_euclid(6.0)
    } else if max == g {
        (b - r) / d + 2.0
    } else {
        (r - g) / d + 4.0
    } / 6.0;
    (h, s, l)
}

fn hsl_to_rgb(h: f64, s: f64, l: f64) -> (u8, u8, u8) {
    let q = if l < 0.5 {
        l * (1.0 + s)
    } else {
        l + s - l * s
    };
    let p = 2.0 * l - q;
    let channel = |t: f64| {
        let t = t.rem_euclid(1.0);
        let v = if t < 1.0 / 6.0 {
            p + (q - p) * 6.0 * t
        } else if t < 0.5 {
            q
        } else if t < 2.0 / 3.0 {
            p + (q - p) * (2.0 / 3.0 - t) * 6.0
        } else {
            p
        };
        (v * 255.0).round().clamp(0.0, 255.0) as u8
    };
    (channel(h + 1.0 / 3.0), channel(h), channel(h - 1.0 / 3.0))
}

/// The red of divergence markers.
pub(crate) const DIVERGED: RGBColor = RGBColor(0xe0, 0x10, 0x10);

/// A marker's shape.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Shape {
    /// A filled disc with a dark rim.
    Dot,
    /// A ring.
    Ring,
    /// A diagonal cross.
    Cross,
}

/// One marker, `dx` pixels right of its point.
#[derive(Clone, Debug)]
pub(crate) struct Marker {
    pub x: f64,
    pub y: f64,
    pub dx: i32,
    pub shape: Shape,
    pub color: RGBColor,
    pub size: u32,
}

/// A polyline; non-finite points break it.
#[derive(Clone, Debug)]
pub(crate) struct Line {
    pub points: Vec<(f64, f64)>,
    pub color: RGBColor,
    pub width: u32,
    pub alpha: f64,
    pub dashed: bool,
    /// A white line under it, so that it stands out on a coloured background.
    pub halo: bool,
}

impl Line {
    /// A plain solid line.
    pub fn solid(points: Vec<(f64, f64)>, color: RGBColor, width: u32) -> Self {
        Line {
            points,
            color,
            width,
            alpha: 1.0,
            dashed: false,
            halo: false,
        }
    }
}

/// A shaded region between `lo` and `hi` over `x`: `(x, lo, hi)`.
#[derive(Clone, Debug)]
pub(crate) struct Band {
    pub points: Vec<(f64, f64, f64)>,
    pub color: RGBColor,
}

/// A vertical error bar with caps.
#[derive(Clone, Debug)]
pub(crate) struct ErrorBar {
    pub x: f64,
    pub lo: f64,
    pub hi: f64,
    pub dx: i32,
    pub color: RGBColor,
}

/// How a legend entry is drawn.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Key {
    /// A line sample.
    Line(RGBColor),
    /// A line sample over a shaded band.
    Band(RGBColor),
    /// A line sample with a marker on it.
    LineMarker(RGBColor, Shape),
    /// A marker alone.
    Marker(RGBColor, Shape),
}

/// A coloured cell of a heat map: `[x0, x1] × [y0, y1]`.
#[derive(Clone, Debug)]
pub(crate) struct Cell {
    pub x: (f64, f64),
    pub y: (f64, f64),
    pub color: RGBColor,
}

/// A heat map under the data, with contour lines.
#[derive(Clone, Debug)]
pub(crate) struct Heat {
    pub cells: Vec<Cell>,
    pub isolines: Vec<Vec<(f64, f64)>>,
}

/// A colour scale beside the chart: its axis, its bands `(lo, hi, colour)` and its name.
#[derive(Clone, Debug)]
pub(crate) struct ColorBar {
    pub axis: Axis,
    pub bands: Vec<(f64, f64, RGBColor)>,
    pub label: String,
}

/// A shaded strip across the top of the plotting area, from `from` (a fraction of
/// its height) up, named in the tick-label column beside it.
#[derive(Clone, Debug)]
pub(crate) struct Strip {
    pub from: f64,
    pub fill: RGBColor,
    pub label: String,
    pub label_color: RGBColor,
}

/// Everything one picture shows.
#[derive(Clone, Debug)]
pub(crate) struct Figure {
    pub title: String,
    /// A line under the title (the experiment's description).
    pub caption: Option<String>,
    pub x_label: String,
    pub y_label: String,
    pub x: Axis,
    pub y: Axis,
    pub heat: Option<Heat>,
    /// A colour scale beside the chart (the heat map's, or the swept value's).
    pub color_bar: Option<ColorBar>,
    /// A shaded strip across the top, from this fraction of the height up.
    pub top_strip: Option<Strip>,
    pub bands: Vec<Band>,
    pub lines: Vec<Line>,
    pub error_bars: Vec<ErrorBar>,
    pub markers: Vec<Marker>,
    pub legend: Vec<(String, Key)>,
}

impl Figure {
    /// An empty figure with these axes.
    pub fn new(title: String, x_label: &str, y_label: &str, x: Axis, y: Axis) -> Self {
        Figure {
            title,
            caption: None,
            x_label: x_label.to_owned(),
            y_label: y_label.to_owned(),
            x,
            y,
            heat: None,
            color_bar: None,
            top_strip: None,
            bands: Vec::new(),
            lines: Vec::new(),
            error_bars: Vec::new(),
            markers: Vec::new(),
            legend: Vec::new(),
        }
    }
}

/// Small multiples: one chart per panel in a grid, under one title, caption, colour bar
/// and legend.
#[derive(Clone, Debug)]
pub(crate) struct Panels {
    pub title: String,
    pub caption: Option<String>,
    /// The charts, filled in row by row; each one's title names its panel.
    pub panels: Vec<Figure>,
    /// A colour scale shared by the panels.
    pub color_bar: Option<ColorBar>,
    /// Entries shared by the panels.
    pub legend: Vec<(String, Key)>,
}

impl Panels {
    /// Columns and rows of the grid, and the picture's size.
    fn layout(&self) -> (usize, usize, (u32, u32)) {
        let n = self.panels.len().max(1);
        let columns = if n <= 4 { n } else { n.div_ceil(2).min(4) };
        let rows = n.div_ceil(columns);
        let (panel_w, panel_h) = if n <= 4 { (560, 520) } else { (440, 400) };
        let side = if self.color_bar.is_some() { 130 } else { 0 }
            + if self.legend.is_empty() { 0 } else { 330 };
        (
            columns,
            rows,
            (columns as u32 * panel_w + side, rows as u32 * panel_h + 110),
        )
    }
}

/// A picture waiting to be written: one chart, or small multiples.
#[derive(Clone, Debug)]
pub(crate) enum Drawn {
    Chart(Box<Figure>),
    Grid(Box<Panels>),
}

/// The two files every picture is written as.
#[derive(Clone, Copy, Debug)]
enum Format {
    Svg,
    Png,
}

impl Format {
    fn extension(self) -> &'static str {
        match self {
            Format::Svg => "svg",
            Format::Png => "png",
        }
    }
}

impl Drawn {
    /// Writes `<dir>/<name>.svg` or `<dir>/<name>.png`.
    fn save(&self, dir: &Path, name: &str, format: Format) -> Result<PathBuf> {
        match self {
            Drawn::Chart(figure) => save_as(dir, name, format, SIZE, &**figure),
            Drawn::Grid(panels) => save_as(dir, name, format, panels.layout().2, &**panels),
        }
    }
}

/// Writes every picture of `pending` into `dir` as SVG and PNG, each file on its own on up
/// to `threads` threads (drawing is most of an experiment's closing work); returns the files
/// in `pending`'s order, or the first error in that order.
pub(crate) fn save_all(
    dir: &Path,
    pending: &[(String, Drawn)],
    threads: usize,
) -> Result<Vec<PathBuf>> {
    let files: Vec<(&str, &Drawn, Format)> = pending
        .iter()
        .flat_map(|(name, drawn)| {
            [Format::Svg, Format::Png].map(|format| (name.as_str(), drawn, format))
        })
        .collect();
    super::map_ordered(&files, threads, |&(name, drawn, format)| {
        drawn.save(dir, name, format)
    })
    .into_iter()
    .collect()
}

/// What can be drawn on any backend.
trait Drawing {
    fn draw_on<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB>;
}

impl Drawing for Figure {
    fn draw_on<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        draw(root, self)
    }
}

impl Drawing for Panels {
    fn draw_on<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        draw_panels(root, self)
    }
}

fn save_as(
    dir: &Path,
    name: &str,
    format: Format,
    size: (u32, u32),
    item: &impl Drawing,
) -> Result<PathBuf> {
    let file = dir.join(format!("{name}.{}", format.extension()));
    let drawn = match format {
        Format::Svg => render(SVGBackend::new(&file, size), item),
        Format::Png => render(Crisp(BitMapBackend::new(&file, size)), item),
    };
    drawn.with_context(|| format!("drawing {}", file.display()))?;
    Ok(file)
}

/// Draws `item` on `backend` and writes it out (the backend is dropped, so its file closed).
fn render<DB: DrawingBackend>(backend: DB, item: &impl Drawing) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let root = backend.into_drawing_area();
    item.draw_on(&root)?;
    root.present()?;
    Ok(())
}

type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

fn font(px: f64) -> TextStyle<'static> {
    TextStyle::from((FONT, px).into_font()).color(&BLACK)
}

/// The title and, under it, the caption (broken into two lines when long); the area left.
fn headed<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    title_px: f64,
    caption: Option<&str>,
) -> Result<DrawingArea<DB, Shift>, DrawingAreaErrorKind<DB::ErrorType>> {
    let mut area = root.titled(title, font(title_px))?;
    if let Some(caption) = caption {
        let (width, _) = area.dim_in_pixel();
        let style = font(CAPTION_PX).color(&RGBColor(70, 70, 70));
        let lines = wrap(caption, |t| {
            area.estimate_text_size(t, &style)
                .is_ok_and(|(w, _)| w + 40 <= width)
        });
        for line in lines {
            area = area.titled(&line, style.clone())?;
        }
    }
    Ok(area)
}

/// `text` in at most two lines that `fits`, the second shortened with an ellipsis if need be.
fn wrap(text: &str, fits: impl Fn(&str) -> bool) -> Vec<String> {
    if fits(text) {
        return vec![text.to_owned()];
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut first = String::new();
    let mut rest = 0;
    for (i, word) in words.iter().enumerate() {
        let candidate = if first.is_empty() {
            (*word).to_owned()
        } else {
            format!("{first} {word}")
        };
        if !first.is_empty() && !fits(&candidate) {
            rest = i;
            break;
        }
        first = candidate;
        rest = i + 1;
    }
    let mut second = words[rest..].join(" ");
    while !second.is_empty() && !fits(&second) {
        let cut: String = second
            .chars()
            .take(second.chars().count().saturating_sub(8))
            .collect();
        second = format!("{}…", cut.trim_end_matches('…').trim_end());
        if cut.is_empty() {
            break;
        }
    }
    if second.is_empty() {
        vec![first]
    } else {
        vec![first, second]
    }
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, fig: &Figure) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let area = headed(root, &fig.title, TITLE_PX, fig.caption.as_deref())?;
    draw_chart(root, &area, fig)
}

fn draw_panels<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    panels: &Panels,
) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let area = headed(root, &panels.title, TITLE_PX, panels.caption.as_deref())?;
    let (columns, rows, _) = panels.layout();
    let (width, _) = area.dim_in_pixel();
    let legend_w = legend_width(&area, &panels.legend)?;
    let bar_w = if panels.color_bar.is_some() { 130 } else { 0 };
    let (grid, side) = area.split_horizontally(width.saturating_sub(legend_w + bar_w));
    let (bar, legend) = side.split_horizontally(bar_w);
    for (cell, fig) in grid
        .split_evenly((rows, columns))
        .iter()
        .zip(&panels.panels)
    {
        let inner = cell.titled(&fig.title, font(PANEL_TITLE_PX))?;
        draw_chart(cell, &inner, fig)?;
    }
    if let Some(color_bar) = &panels.color_bar {
        draw_color_bar(&bar, color_bar)?;
    }
    draw_legend(&legend, &panels.legend)
}

/// The chart of `fig` (its axes, layers, colour bar and legend) in `area`; `root` is the
/// area whose pixel coordinates the strip's label uses.
fn draw_chart<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    area: &DrawingArea<DB, Shift>,
    fig: &Figure,
) -> DrawResult<DB> {
    let (width, _) = area.dim_in_pixel();

    let legend_w = legend_width(area, &fig.legend)?;
    let bar_w = if fig.color_bar.is_some() { 120 } else { 0 };
    let plot_w = width.saturating_sub(legend_w + bar_w);
    let (plot, rest) = area.split_horizontally(plot_w);
    let (bar, legend) = rest.split_horizontally(bar_w);

    let mut chart = ChartBuilder::on(&plot)
        .margin(MARGIN)
        .x_label_area_size(X_LABEL_AREA)
        .y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d(fig.x, fig.y)?;

    let x_desc = fig.x_label.clone();
    let y_desc = fig.y_label.clone();
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(x_desc)
        .y_desc(y_desc)
        .x_labels(9)
        .y_labels(9)
        .label_style(font(TICK_PX))
        .axis_desc_style(font(AXIS_DESC_PX));
    if fig.heat.is_some() {
        // Grid lines would only clutter the contour lines.
        mesh.disable_mesh();
    } else {
        mesh.bold_line_style(BLACK.mix(0.16))
            .light_line_style(BLACK.mix(0.05));
    }
    mesh.draw()?;

    let (x, y) = (fig.x, fig.y);
    if let Some(heat) = &fig.heat {
        chart.draw_series(heat.cells.iter().map(|c| {
            Rectangle::new(
                [
                    (x.clamp(c.x.0), y.clamp(c.y.0)),
                    (x.clamp(c.x.1), y.clamp(c.y.1)),
                ],
                c.color.filled(),
            )
        }))?;
        let style = ShapeStyle::from(BLACK.mix(0.28)).stroke_width(1);
        for line in &heat.isolines {
            for piece in clip(&x, &y, line) {
                chart.draw_series(std::iter::once(PathElement::new(piece, style)))?;
            }
        }
    }
    if let Some(strip) = &fig.top_strip {
        chart.draw_series(std::iter::once(Rectangle::new(
            [(x.lo(), y.at(strip.from)), (x.hi(), y.hi())],
            strip.fill.filled(),
        )))?;
        // Beside the strip, where a tick label would be: inside, markers may sit.
        let (px, py) = chart.backend_coord(&(x.lo(), y.at((strip.from + 1.0) / 2.0)));
        let (base_x, base_y) = root.get_base_pixel();
        root.draw(&Text::new(
            strip.label.clone(),
            (px - 8 - base_x, py - base_y),
            font(TICK_PX)
                .color(&strip.label_color)
                .pos(Pos::new(HPos::Right, VPos::Center)),
        ))?;
    }
    for band in &fig.bands {
        let pts = thin_band(&x, &band.points);
        // A polygon per run of finite points, so a gap does not join across.
        for run in pts.split(|(bx, lo, hi)| !(bx.is_finite() && lo.is_finite() && hi.is_finite())) {
            if run.len() < 2 {
                continue;
            }
            let mut poly: Vec<(f64, f64)> =
                run.iter().map(|(bx, _, hi)| (*bx, y.clamp(*hi))).collect();
            poly.extend(run.iter().rev().map(|(bx, lo, _)| (*bx, y.clamp(*lo))));
            chart.draw_series(std::iter::once(Polygon::new(
                poly,
                band.color.mix(0.18).filled(),
            )))?;
        }
    }
    for bar_ in &fig.error_bars {
        let style = ShapeStyle::from(bar_.color).stroke_width(2);
        let (lo, hi) = (y.clamp(bar_.lo), y.clamp(bar_.hi));
        let dx = bar_.dx;
        // An end that runs off the axis (`mean − std ≤ 0` on a log axis) gets no cap,
        // so that it reads as continuing.
        for (end, value) in [(lo, bar_.lo), (hi, bar_.hi)] {
            if (0.0..=1.0).contains(&y.frac(value)) {
                chart.draw_series(std::iter::once(
                    EmptyElement::at((bar_.x, end))
                        + PathElement::new(vec![(dx - 5, 0), (dx + 5, 0)], style),
                ))?;
            }
        }
        // The vertical stroke, in pixels so it can be offset like its marker.
        let top = chart.backend_coord(&(bar_.x, hi));
        let bottom = chart.backend_coord(&(bar_.x, lo));
        chart.draw_series(std::iter::once(
            EmptyElement::at((bar_.x, lo))
                + PathElement::new(vec![(dx, 0), (dx, top.1 - bottom.1)], style),
        ))?;
    }
    for line in &fig.lines {
        let pts = thin(&x, &y, &line.points);
        for piece in clip(&x, &y, &pts)
            .into_iter()
            .flat_map(|p| split_at_reversals(&x, &y, p))
        {
            if line.halo {
                let halo = ShapeStyle::from(WHITE.mix(0.8)).stroke_width(line.width + 3);
                chart.draw_series(std::iter::once(PathElement::new(piece.clone(), halo)))?;
            }
            let style = ShapeStyle::from(line.color.mix(line.alpha)).stroke_width(line.width);
            if line.dashed {
                chart.draw_series(std::iter::once(DashedPathElement::new(piece, 6, 5, style)))?;
            } else {
                chart.draw_series(std::iter::once(PathElement::new(piece, style)))?;
            }
        }
    }
    for m in &fig.markers {
        // Off the chart (a diverging curve past a capped axis) is not drawn at its edge.
        if !((0.0..=1.0).contains(&x.frac(m.x)) && (0.0..=1.0).contains(&y.frac(m.y))) {
            continue;
        }
        let at = (m.x, m.y);
        match m.shape {
            Shape::Dot => chart.draw_series(std::iter::once(
                EmptyElement::at(at)
                    + Circle::new((m.dx, 0), m.size, m.color.filled())
                    + Circle::new((m.dx, 0), m.size, BLACK.mix(0.8).stroke_width(1)),
            ))?,
            Shape::Ring => chart.draw_series(std::iter::once(
                EmptyElement::at(at)
                    + Circle::new((m.dx, 0), m.size + 1, WHITE.filled())
                    + Circle::new((m.dx, 0), m.size, m.color.stroke_width(2)),
            ))?,
            Shape::Cross => chart.draw_series(std::iter::once(
                EmptyElement::at(at) + Cross::new((m.dx, 0), m.size, m.color.stroke_width(3)),
            ))?,
        };
    }
    if let Some(color_bar) = &fig.color_bar {
        draw_color_bar(&bar, color_bar)?;
    }
    draw_legend(&legend, &fig.legend)?;
    Ok(())
}

fn draw_color_bar<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    heat: &ColorBar,
) -> DrawResult<DB> {
    let mut chart = ChartBuilder::on(area)
        .margin_top(MARGIN)
        .margin_bottom(MARGIN + X_LABEL_AREA)
        .margin_left(6)
        .margin_right(4)
        .right_y_label_area_size(76)
        .build_cartesian_2d(Axis::linear(0.0, 1.0), heat.axis)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_labels(8)
        .y_desc(heat.label.clone())
        .label_style(font(TICK_PX - 2.0))
        .axis_desc_style(font(TICK_PX))
        .draw()?;
    chart.draw_series(
        heat.bands
            .iter()
            .map(|(lo, hi, c)| Rectangle::new([(0.0, *lo), (1.0, *hi)], c.filled())),
    )?;
    chart.draw_series(std::iter::once(Rectangle::new(
        [(0.0, heat.axis.lo()), (1.0, heat.axis.hi())],
        BLACK.mix(0.6).stroke_width(1),
    )))?;
    Ok(())
}

const LEGEND_ROW: i32 = 24;
const LEGEND_SAMPLE: i32 = 30;

fn legend_width<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[(String, Key)],
) -> Result<u32, DrawingAreaErrorKind<DB::ErrorType>> {
    if entries.is_empty() {
        return Ok(0);
    }
    let mut widest = 0;
    for (label, _) in entries {
        widest = widest.max(area.estimate_text_size(label, &font(LEGEND_PX))?.0);
    }
    Ok((widest + LEGEND_SAMPLE as u32 + 40).clamp(120, 360))
}

fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[(String, Key)],
) -> DrawResult<DB> {
    if entries.is_empty() {
        return Ok(());
    }
    let (w, h) = area.dim_in_pixel();
    let top = MARGIN as i32 + 4;
    let room = h as i32 - top - MARGIN as i32;
    // Rows close up (down to a smaller font) before entries are left out.
    let (row, px) = if entries.len() as i32 * LEGEND_ROW <= room {
        (LEGEND_ROW, LEGEND_PX)
    } else {
        (
            (room / entries.len() as i32).clamp(17, LEGEND_ROW),
            LEGEND_PX - 2.0,
        )
    };
    let fits = (room / row).max(1) as usize;
    let shown = if entries.len() > fits {
        fits - 1
    } else {
        entries.len()
    };
    let rows = shown + usize::from(entries.len() > shown);
    let box_h = rows as i32 * row + 12;
    area.draw(&Rectangle::new(
        [(4, top), (w as i32 - 10, top + box_h)],
        WHITE.filled(),
    ))?;
    area.draw(&Rectangle::new(
        [(4, top), (w as i32 - 10, top + box_h)],
        BLACK.mix(0.35).stroke_width(1),
    ))?;
    let label_style = font(px).pos(Pos::new(HPos::Left, VPos::Center));
    for (i, (label, key)) in entries.iter().take(shown).enumerate() {
        let cy = top + 6 + row / 2 + i as i32 * row;
        let (x0, x1) = (14, 14 + LEGEND_SAMPLE);
        let line = |c: RGBColor| PathElement::new(vec![(x0, cy), (x1, cy)], c.stroke_width(3));
        match *key {
            Key::Line(c) => area.draw(&line(c))?,
            Key::Band(c) => {
                area.draw(&Rectangle::new(
                    [(x0, cy - 7), (x1, cy + 7)],
                    c.mix(0.18).filled(),
                ))?;
                area.draw(&line(c))?;
            }
            Key::LineMarker(c, shape) => {
                area.draw(&line(c))?;
                draw_marker(area, ((x0 + x1) / 2, cy), shape, c)?;
            }
            Key::Marker(c, shape) => draw_marker(area, ((x0 + x1) / 2, cy), shape, c)?,
        }
        area.draw(&Text::new(
            label.clone(),
            (x1 + 10, cy),
            label_style.clone(),
        ))?;
    }
    if entries.len() > shown {
        let cy = top + 6 + row / 2 + shown as i32 * row;
        area.draw(&Text::new(
            format!("… and {} more", entries.len() - shown),
            (14, cy),
            label_style,
        ))?;
    }
    Ok(())
}

fn draw_marker<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    at: (i32, i32),
    shape: Shape,
    color: RGBColor,
) -> DrawResult<DB> {
    match shape {
        Shape::Dot => {
            area.draw(&Circle::new(at, 5, color.filled()))?;
            area.draw(&Circle::new(at, 5, BLACK.mix(0.8).stroke_width(1)))?;
        }
        Shape::Ring => {
            area.draw(&Circle::new(at, 6, WHITE.filled()))?;
            area.draw(&Circle::new(at, 5, color.stroke_width(2)))?;
        }
        Shape::Cross => area.draw(&Cross::new(at, 5, color.stroke_width(3)))?,
    }
    Ok(())
}

/// The pieces of a polyline inside the axes' window, cut where it leaves the window
/// or has a non-finite point. Cutting happens in axis fractions, where the drawn
/// segments are straight, so it is exact on log axes too.
pub(crate) fn clip(x: &Axis, y: &Axis, points: &[(f64, f64)]) -> Vec<Vec<(f64, f64)>> {
    let mut pieces = Vec::new();
    let mut current: Vec<(f64, f64)> = Vec::new();
    let to_frac = |(a, b): (f64, f64)| (x.frac(a), y.frac(b));
    let from_frac = |(u, v): (f64, f64)| (x.at(u), y.at(v));
    let finite = |p: &(f64, f64)| p.0.is_finite() && p.1.is_finite();
    let mut prev: Option<(f64, f64)> = None;
    for &p in points {
        let q = to_frac(p);
        if !finite(&q) {
            if current.len() >= 2 {
                pieces.push(std::mem::take(&mut current));
            }
            current.clear();
            prev = None;
            continue;
        }
        match prev {
            None => {
                if inside(q) {
                    current.push(from_frac(q));
                }
            }
            Some(a) => match clip_segment(a, q) {
                Some((s, e)) => {
                    if current.is_empty() {
                        current.push(from_frac(s));
                    }
                    current.push(from_frac(e));
                    if !inside(q) {
                        if current.len() >= 2 {
                            pieces.push(std::mem::take(&mut current));
                        }
                        current.clear();
                    }
                }
                None => {
                    if current.len() >= 2 {
                        pieces.push(std::mem::take(&mut current));
                    }
                    current.clear();
                }
            },
        }
        prev = Some(q);
    }
    if current.len() >= 2 {
        pieces.push(current);
    }
    pieces
}

fn inside((u, v): (f64, f64)) -> bool {
    (0.0..=1.0).contains(&u) && (0.0..=1.0).contains(&v)
}

/// A polyline cut where it turns back on itself (by more than about 150 degrees): a
/// bitmap backend joins thick segments with mitres, and a reversal's mitre is a spike
/// across the whole picture (an oscillating, diverging iterate makes many of them).
fn split_at_reversals(x: &Axis, y: &Axis, piece: Vec<(f64, f64)>) -> Vec<Vec<(f64, f64)>> {
    let (w, h) = (f64::from(SIZE.0), f64::from(SIZE.1));
    let pixel = |(a, b): (f64, f64)| (x.frac(a) * w, y.frac(b) * h);
    let mut out = Vec::new();
    let mut current: Vec<(f64, f64)> = Vec::new();
    for p in piece {
        if let [.., a, b] = current[..] {
            let (pa, pb, pc) = (pixel(a), pixel(b), pixel(p));
            let (u, v) = ((pb.0 - pa.0, pb.1 - pa.1), (pc.0 - pb.0, pc.1 - pb.1));
            let norms = (u.0.hypot(u.1)) * (v.0.hypot(v.1));
            if norms > 0.0 && (u.0 * v.0 + u.1 * v.1) / norms < -0.866 {
                out.push(std::mem::replace(&mut current, vec![b]));
            }
        }
        current.push(p);
    }
    if current.len() >= 2 {
        out.push(current);
    }
    out
}

/// Liang–Barsky: the part of segment `a`–`b` inside the unit square.
fn clip_segment(a: (f64, f64), b: (f64, f64)) -> Option<((f64, f64), (f64, f64))> {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let mut t0: f64 = 0.0;
    let mut t1: f64 = 1.0;
    for (p, q) in [(-dx, a.0), (dx, 1.0 - a.0), (-dy, a.1), (dy, 1.0 - a.1)] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
        }
    }
    if t0 > t1 {
        return None;
    }
    Some((
        (a.0 + t0 * dx, a.1 + t0 * dy),
        (a.0 + t1 * dx, a.1 + t1 * dy),
    ))
}

/// Drops points within a pixel (of the whole figure, so less on the plotting area)
/// of the last point kept, except the final one: nobody can see them, and a long
/// run's thousands of iterates would bloat the SVG.
fn thin(x: &Axis, y: &Axis, points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let (w, h) = (f64::from(SIZE.0), f64::from(SIZE.1));
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(points.len().min(MAX_POINTS));
    let mut last: Option<(f64, f64)> = None;
    for (i, &p) in points.iter().enumerate() {
        let q = (x.frac(p.0) * w, y.frac(p.1) * h);
        let keep = match last {
            None => true,
            Some(l) => {
                !(q.0.is_finite() && q.1.is_finite() && l.0.is_finite() && l.1.is_finite())
                    || i + 1 == points.len()
                    || (q.0 - l.0).hypot(q.1 - l.1) >= 1.0
            }
        };
        if keep {
            out.push(p);
            last = Some(q);
        }
    }
    out
}

/// Merges a band's points that fall in the same pixel column into their envelope,
/// and keeps it under [`MAX_POINTS`].
fn thin_band(x: &Axis, points: &[(f64, f64, f64)]) -> Vec<(f64, f64, f64)> {
    let columns = f64::from(SIZE.0).min(MAX_POINTS as f64 / 2.0);
    let mut out: Vec<(f64, f64, f64)> = Vec::new();
    let mut column = None;
    for &(px, lo, hi) in points {
        let c = (x.frac(px) * columns).floor();
        if !(px.is_finite() && lo.is_finite() && hi.is_finite()) {
            // A gap stays a gap.
            out.push((px, lo, hi));
            column = None;
            continue;
        }
        match out.last_mut() {
            Some(last) if column == Some(c) => {
                last.1 = last.1.min(lo);
                last.2 = last.2.max(hi);
            }
            _ => {
                out.push((px, lo, hi));
                column = Some(c);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_cuts_at_the_window() {
        let a = Axis::linear(0.0, 1.0);
        let pieces = clip(&a, &a, &[(0.5, 0.5), (1.5, 0.5), (1.5, 0.2), (0.5, 0.2)]);
        assert_eq!(pieces.len(), 2);
        assert_eq!(pieces[0], vec![(0.5, 0.5), (1.0, 0.5)]);
        assert_eq!(pieces[1], vec![(1.0, 0.2), (0.5, 0.2)]);
        let pieces = clip(
            &a,
            &a,
            &[(0.1, 0.1), (f64::NAN, 0.0), (0.2, 0.2), (0.3, 0.3)],
        );
        assert_eq!(pieces, vec![vec![(0.2, 0.2), (0.3, 0.3)]]);
    }

    #[test]
    fn reversals_split_a_line_so_no_mitre_spikes() {
        let a = Axis::linear(0.0, 1.0);
        let zigzag = vec![(0.5, 0.0), (0.5, 1.0), (0.5, 0.1), (0.6, 0.2), (0.7, 0.3)];
        let pieces = split_at_reversals(&a, &a, zigzag);
        assert_eq!(
            pieces,
            vec![
                vec![(0.5, 0.0), (0.5, 1.0)],
                vec![(0.5, 1.0), (0.5, 0.1), (0.6, 0.2), (0.7, 0.3)]
            ]
        );
    }

    #[test]
    fn palette_has_distinct_colours() {
        for n in [1, 4, 10, 13] {
            let p = palette(n);
            assert_eq!(p.len(), n);
            for i in 0..n {
                for j in 0..i {
                    assert_ne!(p[i], p[j]);
                }
            }
        }
    }
}

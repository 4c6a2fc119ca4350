//! PNG and SVG maps with plotters: two panels side by side (baseline left, fine-tuned right),
//! each titled with its model and silhouette, a legend of labels below, optional text labels on
//! the first points. Fonts are embedded (DejaVu Sans), so rendering needs nothing installed.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use super::{palette, EmbeddingMap, MapOptions, Panel};
use crate::error::{Error, Result};

const WIDTH: u32 = 1600;
const PANEL_HEIGHT: u32 = 760;
const LEGEND_ROW: u32 = 28;

fn fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are a valid font shipped by the dejavu crate; a failure would only lose text.
        let _ = register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular());
        let _ = register_font("sans-serif", FontStyle::Bold, dejavu::sans::bold());
    });
}

fn plot_err<E: std::fmt::Debug>(e: E) -> Error {
    Error::Internal(format!("drawing the map failed: {e:?}"))
}

fn rgb(i: usize) -> RGBColor {
    let (r, g, b) = palette(i);
    RGBColor(r, g, b)
}

/// Legend layout: labels per row and rows, for the canvas width.
fn legend_rows(map: &EmbeddingMap) -> (usize, u32) {
    let longest = map.labels.iter().map(|l| l.chars().count().min(40)).max().unwrap_or(4);
    let cell = 40 + longest as u32 * 10;
    let per_row = ((WIDTH - 80) / cell).max(1) as usize;
    (per_row, map.labels.len().div_ceil(per_row) as u32)
}

fn height(map: &EmbeddingMap) -> u32 {
    let (_, rows) = legend_rows(map);
    70 + PANEL_HEIGHT + 20 + rows * LEGEND_ROW + 20
}

/// A model name short enough for a title: the last path component of a folder.
fn short(name: &str) -> String {
    let n = Path::new(name)
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .filter(|_| name.contains(std::path::MAIN_SEPARATOR) && !name.contains("-ft"))
        .unwrap_or_else(|| name.to_string());
    if n.chars().count() > 48 {
        format!("{}…", n.chars().take(47).collect::<String>())
    } else {
        n
    }
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, map: &EmbeddingMap, opts: &MapOptions) -> Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(plot_err)?;
    let (top, rest) = root.split_vertically(70);
    let method = match map.method {
        super::Method::Pca => "PCA",
        super::Method::Tsne => "t-SNE",
    };
    let title = format!(
        "Embedding map ({method}): {} of {} texts",
        map.drawn_rows, map.total_rows
    );
    top.draw(&Text::new(
        title,
        (24, 18),
        ("sans-serif", 26).into_font().style(FontStyle::Bold).color(&BLACK),
    ))
    .map_err(plot_err)?;
    top.draw(&Text::new(
        "Each panel has its own projection; silhouette of the 2D points by label (higher separates better)",
        (24, 50),
        ("sans-serif", 16).into_font().color(&RGBColor(90, 90, 90)),
    ))
    .map_err(plot_err)?;
    let (panels, legend) = rest.split_vertically(PANEL_HEIGHT);
    let halves = panels.split_evenly((1, 2));
    for (area, (panel, side)) in halves
        .iter()
        .zip([(&map.baseline, "Baseline"), (&map.finetuned, "Fine-tuned")])
    {
        draw_panel(area, panel, side, map, opts)?;
    }
    let (per_row, _) = legend_rows(map);
    let cell = (WIDTH as i32 - 80) / per_row as i32;
    for (i, label) in map.labels.iter().enumerate() {
        let x = 40 + (i % per_row) as i32 * cell;
        let y = 16 + (i / per_row) as i32 * LEGEND_ROW as i32;
        legend
            .draw(&Circle::new((x + 7, y + 9), 7, rgb(i).filled()))
            .map_err(plot_err)?;
        let text: String = if label.chars().count() > 40 {
            format!("{}…", label.chars().take(39).collect::<String>())
        } else {
            label.clone()
        };
        legend
            .draw(&Text::new(
                text,
                (x + 22, y),
                ("sans-serif", 18).into_font().color(&BLACK),
            ))
            .map_err(plot_err)?;
    }
    Ok(())
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: &Panel,
    side: &str,
    map: &EmbeddingMap,
    opts: &MapOptions,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let (x0, x1) = bounds(panel.points.iter().map(|p| p.x));
    let (y0, y1) = bounds(panel.points.iter().map(|p| p.y));
    let caption = format!("{side}: {}  ·  silhouette {:.3}", short(&panel.model), panel.silhouette);
    let axis = |i: usize| {
        panel
            .explained_variance
            .get(i)
            .map(|v| format!("PC{} ({:.0} % of variance)", i + 1, v * 100.0))
            .unwrap_or_else(|| format!("t-SNE {}", i + 1))
    };
    let mut chart = ChartBuilder::on(area)
        .margin(16)
        .caption(caption, ("sans-serif", 20).into_font().style(FontStyle::Bold))
        .x_label_area_size(44)
        .y_label_area_size(76)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .light_line_style(RGBColor(238, 238, 238))
        .bold_line_style(RGBColor(215, 215, 215))
        .x_desc(axis(0))
        .y_desc(axis(1))
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 16))
        .x_labels(6)
        .y_labels(6)
        .x_label_formatter(&|v| tick(*v, x1 - x0))
        .y_label_formatter(&|v| tick(*v, y1 - y0))
        .draw()
        .map_err(plot_err)?;
    for (li, label) in map.labels.iter().enumerate() {
        let color = rgb(li).mix(0.8);
        chart
            .draw_series(
                panel
                    .points
                    .iter()
                    .filter(|p| &p.label == label)
                    .map(|p| Circle::new((p.x, p.y), 4, color.filled())),
            )
            .map_err(plot_err)?;
    }
    // Text labels: placed in pixels, moved up or down a line at a time until they overlap no
    // earlier label, and anchored to the left of points near the right edge so none is clipped.
    // Chart coordinates are in the whole canvas's pixels; this area draws relative to its corner.
    let (bx, by) = area.get_base_pixel();
    let range = chart.plotting_area().get_pixel_range();
    let plot_area = (
        range.0.start - bx..range.0.end - bx,
        range.1.start - by..range.1.end - by,
    );
    let mut placed: Vec<(i32, i32, i32, i32)> = Vec::new();
    let font: TextStyle = ("sans-serif", 14).into_font().color(&BLACK);
    for p in panel.points.iter().take(opts.label_points) {
        let text: String = if p.text.chars().count() > 32 {
            format!("{}…", p.text.chars().take(31).collect::<String>())
        } else {
            p.text.clone()
        };
        let (px, py) = chart.backend_coord(&(p.x, p.y));
        let (px, py) = (px - bx, py - by);
        area.draw(&Circle::new((px, py), 6, BLACK.stroke_width(2)))
            .map_err(plot_err)?;
        let (tw, th) = area.estimate_text_size(&text, &font).map_err(plot_err)?;
        let (tw, th) = (tw as i32, th as i32 + 2);
        let right = px + 10 + tw > plot_area.0.end;
        let x = if right { px - 10 - tw } else { px + 10 };
        let mut y = py - th / 2;
        for k in 0..12 {
            let dy = if k % 2 == 0 { (k / 2) * th } else { -((k / 2 + 1) * th) };
            let cand = (x, py - th / 2 + dy, x + tw, py + th / 2 + dy);
            let inside = cand.1 >= plot_area.1.start && cand.3 <= plot_area.1.end;
            if inside
                && placed
                    .iter()
                    .all(|b| cand.2 < b.0 || cand.0 > b.2 || cand.3 < b.1 || cand.1 > b.3)
            {
                y = cand.1;
                break;
            }
        }
        placed.push((x, y, x + tw, y + th));
        if (y + th / 2 - py).abs() > th / 2 {
            let anchor_x = if right { x + tw } else { x };
            area.draw(&PathElement::new(
                vec![(px, py), (anchor_x, y + th / 2)],
                RGBColor(120, 120, 120),
            ))
            .map_err(plot_err)?;
        }
        area.draw(&Rectangle::new(
            [(x - 2, y - 1), (x + tw + 2, y + th)],
            WHITE.mix(0.75).filled(),
        ))
        .map_err(plot_err)?;
        area.draw(&Text::new(text, (x, y), font.clone())).map_err(plot_err)?;
    }
    Ok(())
}

/// A tick label with as many decimals as the axis range needs.
fn tick(v: f64, range: f64) -> String {
    let decimals = if range >= 20.0 {
        0
    } else if range >= 2.0 {
        1
    } else {
        2
    };
    format!("{v:.decimals$}")
}

/// The range of `values` with a 5 % margin on each side (a unit range when they are all equal).
fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    if !lo.is_finite() || !hi.is_finite() {
        return (-1.0, 1.0);
    }
    let pad = ((hi - lo) * 0.05).max(1e-6);
    (lo - pad, hi + pad)
}

/// The map as an SVG document.
pub(super) fn svg(map: &EmbeddingMap, opts: &MapOptions) -> Result<String> {
    fonts();
    let mut s = String::new();
    {
        let root = SVGBackend::with_string(&mut s, (WIDTH, height(map))).into_drawing_area();
        draw(&root, map, opts)?;
        root.present().map_err(plot_err)?;
    }
    Ok(s)
}

/// The map as PNG bytes.
pub(super) fn png(map: &EmbeddingMap, opts: &MapOptions) -> Result<Vec<u8>> {
    fonts();
    let h = height(map);
    let dir = tempfile::tempdir().map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let path = dir.path().join("map.png");
    {
        let root = BitMapBackend::new(&path, (WIDTH, h)).into_drawing_area();
        draw(&root, map, opts)?;
        root.present().map_err(plot_err)?;
    }
    std::fs::read(&path).map_err(|e| Error::io(&path, e))
}

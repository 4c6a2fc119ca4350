// Charts drawn as SVG from API data: label bars, the loss curve, the embedding maps and the
// confusion matrix.
import { el, fmt } from "/dashboard/ui.js";

export function labelBars(labels) {
  const max = Math.max(1, ...labels.map((l) => l.count));
  return el("div", { class: "bars", "data-testid": "label-bars" }, ...labels.flatMap((l) => [
    el("span", {}, l.label),
    el("div", { class: "bar", role: "img", "aria-label": `${l.label}: ${l.count} rows` }, el("span", { style: `width:${(100 * l.count / max).toFixed(1)}%` })),
    el("span", { class: "num" }, fmt(l.count, 0))]));
}

export function lossChart(points) {
  if (points.length < 2) return el("p", { class: "muted" }, "The curve appears after the first steps.");
  const W = 640, H = 200, P = 40;
  const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const sx = (x) => P + (W - P - 10) * (x - x0) / Math.max(1e-9, x1 - x0);
  const sy = (y) => H - 24 - (H - 34) * (y - y0) / Math.max(1e-9, y1 - y0);
  return el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `Training loss from ${fmt(ys[0], 3)} to ${fmt(ys[ys.length - 1], 3)} over ${x1} steps`, "data-testid": "loss-chart", style: "width:100%;max-width:760px;height:auto" },
    el("line", { x1: P, y1: H - 24, x2: W - 10, y2: H - 24, stroke: "#9aa6b8" }),
    el("line", { x1: P, y1: 10, x2: P, y2: H - 24, stroke: "#9aa6b8" }),
    el("text", { x: P - 6, y: 14, "text-anchor": "end", "font-size": 11, fill: "#5b6575" }, fmt(y1, 3)),
    el("text", { x: P - 6, y: H - 24, "text-anchor": "end", "font-size": 11, fill: "#5b6575" }, fmt(y0, 3)),
    el("text", { x: W - 10, y: H - 8, "text-anchor": "end", "font-size": 11, fill: "#5b6575" }, `step ${x1}`),
    el("text", { x: P, y: H - 8, "font-size": 11, fill: "#5b6575" }, `step ${x0}`),
    el("polyline", { points: points.map((p) => `${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(" "), fill: "none", stroke: "#2456c7", "stroke-width": 2 }));
}

let tip;
function tooltip() {
  if (!tip) { tip = el("div", { class: "tooltip", role: "tooltip", hidden: true }); document.body.append(tip); }
  return tip;
}

// `colors` come with the map from the server (map::palette), the same as its PNG and HTML maps.
export function mapPanel(title, panel, labels, colors) {
  const W = 480, H = 400, P = 14;
  const xs = panel.points.map((p) => p.x), ys = panel.points.map((p) => p.y);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const sx = (x) => P + (W - 2 * P) * (x - x0) / Math.max(1e-9, x1 - x0);
  const sy = (y) => H - P - (H - 2 * P) * (y - y0) / Math.max(1e-9, y1 - y0);
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "group", "aria-label": `${title}: ${panel.points.length} points` });
  for (const p of panel.points) {
    const i = labels.indexOf(p.label);
    const c = el("circle", { cx: sx(p.x).toFixed(1), cy: sy(p.y).toFixed(1), r: 5, fill: colors[i], "fill-opacity": 0.8, stroke: "#fff", "stroke-width": 1, tabindex: 0, "aria-label": `${p.label}: ${p.text}` },
      el("title", {}, `${p.label}: ${p.text}`));
    const show = (e) => {
      const t = tooltip();
      t.replaceChildren(el("strong", {}, p.label), el("br"), p.text);
      t.hidden = false;
      const r = e.type === "focus" ? c.getBoundingClientRect() : { left: e.clientX, top: e.clientY };
      t.style.left = `${Math.min(r.left + 12, innerWidth - 330)}px`;
      t.style.top = `${r.top + 12}px`;
    };
    c.addEventListener("mousemove", show);
    c.addEventListener("focus", show);
    c.addEventListener("mouseleave", () => { tooltip().hidden = true; });
    c.addEventListener("blur", () => { tooltip().hidden = true; });
    svg.append(c);
  }
  return el("figure", { class: "panel", style: "margin:0" },
    // Title and score on lines of their own, so both panels start at the same height.
    el("figcaption", { class: "map-caption" }, el("strong", {}, title), el("span", { class: "muted" }, `silhouette ${fmt(panel.silhouette, 3)} (2D)`)),
    svg);
}

export function confusionTable(conf) {
  const labels = conf.labels;
  return el("div", { class: "table-wrap" }, el("table", { class: "confusion" },
    el("caption", { class: "muted", style: "text-align:left;caption-side:bottom;padding-top:6px" }, "Rows: true label; columns: predicted label."),
    el("thead", {}, el("tr", {}, el("th", {}, "true ↓ predicted →"), ...labels.map((l) => el("th", { class: "num", scope: "col" }, l)))),
    el("tbody", {}, ...conf.matrix.map((row, i) => el("tr", {}, el("th", { scope: "row" }, labels[i]),
      ...row.map((v, j) => el("td", { class: `num${i === j ? " diag" : ""}` }, fmt(v, 0))))))));
}

//! A self-contained HTML page: both panels drawn as inline SVG by a small script from the data
//! embedded in the page, a tooltip with each point's text and label on hover. Nothing is fetched
//! at view time.

use super::{json, EmbeddingMap};
use crate::error::Result;

const TEMPLATE: &str = r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>attune embedding map</title>
<style>
  body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 16px; color: #222; }
  h1 { font-size: 18px; margin: 0 0 4px; }
  .note { color: #555; margin: 0 0 12px; }
  .panels { display: flex; flex-wrap: wrap; gap: 16px; }
  .panel { flex: 1 1 480px; min-width: 320px; border: 1px solid #ddd; border-radius: 6px; padding: 8px; }
  .panel h2 { font-size: 15px; margin: 0 0 6px; overflow-wrap: anywhere; }
  svg { width: 100%; height: auto; display: block; }
  circle { stroke: #fff; stroke-width: 0.5; }
  circle:hover { stroke: #000; stroke-width: 1.5; }
  .legend { display: flex; flex-wrap: wrap; gap: 6px 16px; margin: 12px 0; }
  .legend span { display: inline-flex; align-items: center; gap: 6px; }
  .legend i { width: 12px; height: 12px; border-radius: 50%; display: inline-block; }
  #tip { position: fixed; pointer-events: none; background: #fff; border: 1px solid #999; border-radius: 4px;
         padding: 6px 8px; max-width: 360px; box-shadow: 0 2px 6px rgba(0,0,0,.2); display: none; }
  #tip b { display: block; }
</style>
</head>
<body>
<h1>Embedding map</h1>
<p class="note" id="note"></p>
<div class="legend" id="legend"></div>
<div class="panels" id="panels"></div>
<div id="tip" role="tooltip"></div>
<script id="data" type="application/json">__DATA__</script>
<script>
const data = JSON.parse(document.getElementById("data").textContent);
const colors = __COLORS__;
const color = l => colors[data.labels.indexOf(l)];
const esc = s => String(s).replace(/[&<>"]/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]));
document.getElementById("note").textContent =
  `${data.drawn_rows} of ${data.total_rows} texts, ${data.method.toUpperCase()}; silhouette of the 2D points by label (higher separates better).`;
document.getElementById("legend").innerHTML = data.labels
  .map(l => `<span><i style="background:${color(l)}"></i>${esc(l)}</span>`).join("");
const tip = document.getElementById("tip");
function panel(key, title) {
  const pts = data[key], W = 600, H = 480, P = 24;
  const xs = pts.map(p => p.x), ys = pts.map(p => p.y);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const sx = x => P + (x - x0) / ((x1 - x0) || 1) * (W - 2 * P);
  const sy = y => H - P - (y - y0) / ((y1 - y0) || 1) * (H - 2 * P);
  const dots = pts.map((p, i) =>
    `<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="4" fill="${color(p.label)}" data-k="${key}" data-i="${i}"></circle>`).join("");
  const div = document.createElement("div");
  div.className = "panel";
  div.innerHTML = `<h2>${esc(title)} — silhouette ${data.silhouette[key].toFixed(3)}</h2>` +
    `<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}"><rect x="0" y="0" width="${W}" height="${H}" fill="#fafafa"></rect>${dots}</svg>`;
  document.getElementById("panels").appendChild(div);
}
panel("baseline", "Baseline: " + data.models.baseline);
panel("finetuned", "Fine-tuned: " + data.models.finetuned);
document.addEventListener("mousemove", e => {
  const t = e.target;
  if (t.tagName !== "circle") { tip.style.display = "none"; return; }
  const p = data[t.dataset.k][+t.dataset.i];
  tip.innerHTML = `<b style="color:${color(p.label)}">${esc(p.label)}</b>${esc(p.text)}`;
  tip.style.display = "block";
  tip.style.left = Math.min(e.clientX + 12, innerWidth - 380) + "px";
  tip.style.top = (e.clientY + 12) + "px";
});
</script>
</body>
</html>
"##;

pub(super) fn render(map: &EmbeddingMap) -> Result<String> {
    // Inside a <script> element "</script" ends it and "<!--" changes how the rest is parsed
    // (a text holding it left a blank page): no "<" reaches the page raw. In JSON "<" only
    // occurs inside strings, where \u003c means the same.
    let data = json(map).to_string().replace('<', "\\u003c");
    let colors = serde_json::Value::from(super::hex_colors(map.labels.len())).to_string();
    // The data goes in last, so a text that holds "__COLORS__" stays a text.
    Ok(TEMPLATE.replace("__COLORS__", &colors).replace("__DATA__", &data))
}

#[cfg(test)]
mod tests {
    use super::super::{EmbeddingMap, MapPoint, Method, Panel};
    use super::*;

    #[test]
    fn texts_that_look_like_markup_stay_inside_the_data() {
        let nasty = "a <!-- b </script><script>alert(1)</script> __COLORS__";
        let panel = Panel {
            model: "m".into(),
            points: vec![MapPoint {
                x: 0.0,
                y: 1.0,
                label: "x".into(),
                text: nasty.into(),
            }],
            silhouette: 0.0,
            silhouette_full: 0.0,
            explained_variance: vec![],
        };
        let map = EmbeddingMap {
            method: Method::Pca,
            baseline: panel.clone(),
            finetuned: panel,
            labels: vec!["x".into()],
            total_rows: 1,
            drawn_rows: 1,
        };
        let page = render(&map).unwrap();
        let start = page.find(r#"<script id="data" type="application/json">"#).unwrap();
        let data = &page[start..];
        let data = &data[data.find('>').unwrap() + 1..data.find("</script>").unwrap()];
        assert!(!data.contains('<'), "{data}");
        // The data still parses and holds the text unchanged.
        let v: serde_json::Value = serde_json::from_str(data).unwrap();
        assert!(v.to_string().contains("__COLORS__"));
        assert!(v.to_string().contains("<!-- b </script>"), "{v}");
        assert_eq!(
            page.matches("<script").count(),
            2,
            "no script element was opened by the text"
        );
    }
}

// The attune dashboard: one page over the public HTTP API (nothing here is private to it).
// Views are rendered from the URL hash, so every page has an address and Back works.
import { api, setKeyHandler, UserError } from "/dashboard/api.js";
import { el, fmt, fmtPct, copyButton } from "/dashboard/ui.js";
import { lossChart, mapPanel, confusionTable, labelBars } from "/dashboard/charts.js";

const main = document.getElementById("main");
let cleanup = [];

function onLeave(fn) { cleanup.push(fn); }

function toast(message) {
  const t = document.getElementById("toast");
  t.textContent = message;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 8000);
}

function showError(where, err) {
  const msg = err instanceof UserError ? err.message : `Something went wrong in the page: ${err.message}. Reload it and try again.`;
  where.replaceChildren(el("div", { class: "alert", role: "alert" }, msg));
}

// ---- API key dialog -------------------------------------------------------------------------
const dialog = document.getElementById("key-dialog");
let pendingKey = null;
function askKey(reason) {
  // Requests that fail together share one dialog.
  if (pendingKey) return pendingKey;
  pendingKey = new Promise((resolve) => {
    document.getElementById("key-reason").textContent = reason;
    const input = document.getElementById("key-input");
    input.value = "";
    const form = document.getElementById("key-form");
    const done = (ok) => {
      form.onsubmit = null;
      dialog.oncancel = null;
      document.getElementById("key-cancel").onclick = null;
      if (dialog.open) dialog.close();
      pendingKey = null;
      resolve(ok);
    };
    dialog.oncancel = () => done(false);
    form.onsubmit = (e) => {
      e.preventDefault();
      localStorage.setItem("attune.apiKey", input.value.trim());
      done(true);
    };
    document.getElementById("key-cancel").onclick = () => done(false);
    dialog.showModal();
    input.focus();
  });
  return pendingKey;
}
setKeyHandler(askKey);
document.getElementById("key-button").addEventListener("click", () =>
  askKey("Enter the API key this server was started with (attune serve --api-key …). It is kept in this browser only.")
    .then((ok) => ok && route()));

// ---- Router ---------------------------------------------------------------------------------
async function route() {
  cleanup.forEach((f) => f());
  cleanup = [];
  const [, page = "models", id] = (location.hash || "#/models").split("/");
  const section = page === "training" || page === "model" ? "models" : page;
  document.querySelectorAll("nav a").forEach((a) => {
    if (a.dataset.nav === section) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  });
  const views = { models: modelsView, new: newView, training: trainingView, model: modelView };
  const view = views[page] || modelsView;
  main.replaceChildren();
  try {
    await view(id && decodeURIComponent(id));
  } catch (e) {
    showError(main, e);
  }
  main.focus({ preventScroll: true });
}
window.addEventListener("hashchange", route);
route();

// ---- Models ---------------------------------------------------------------------------------
async function modelsView() {
  main.append(el("h1", {}, "Models"));
  const { models } = await api("/v1/finetuned-models");
  if (!models.length) {
    main.append(el("div", { class: "card" },
      el("p", {}, "No fine-tuned models yet."),
      el("a", { class: "button primary", href: "#/new" }, "Start a fine-tune")));
    return;
  }
  const rows = models.map((m) => {
    // The accuracy of the model the run handed over: the base model when fine-tuning lost.
    const acc = m.metrics?.[m.selected === "base" ? "baseline" : "finetuned"]?.accuracy;
    const open = m.status === "READY" ? `#/model/${m.id}` : `#/training/${m.id}`;
    const del = el("button", { class: "danger", type: "button", "aria-label": `Delete ${m.name || m.id}` }, "Delete");
    del.addEventListener("click", async () => {
      if (!confirm(`Delete ${m.name || m.id}? Its files are removed; this cannot be undone.`)) return;
      try {
        // A run in training is cancelled (202, with what happens next) rather than deleted.
        const r = await api(`/v1/finetuned-models/${m.id}`, { method: "DELETE" });
        toast(r?.message ? r.message : `Deleted ${m.name || m.id}.`);
        route();
      } catch (e) { toast(e.message); }
    });
    return el("tr", {},
      el("td", {}, el("a", { href: open }, m.name || "(no nickname)"),
        el("div", { class: "id show-narrow muted", title: m.id }, `${m.id.slice(0, 8)}…`)),
      el("td", { class: "id hide-narrow" }, m.id),
      el("td", { class: "hide-narrow" }, m.base_model),
      el("td", {}, el("span", { class: `badge ${m.status}` }, m.status)),
      el("td", { class: "num" }, acc == null ? "–" : fmtPct(acc)),
      el("td", { class: "num hide-narrow" }, new Date(m.created).toLocaleString()),
      el("td", {}, del));
  });
  main.append(el("div", { class: "table-wrap card" }, el("table", {},
    el("thead", {}, el("tr", {},
      el("th", {}, "Nickname"), el("th", { class: "hide-narrow" }, "ID"), el("th", { class: "hide-narrow" }, "Base model"),
      el("th", {}, "Status"), el("th", { class: "num" }, "Accuracy"), el("th", { class: "num hide-narrow" }, "Created"),
      el("th", {}, el("span", { class: "sr-only" }, "Actions")))),
    el("tbody", {}, ...rows))));
}

// ---- New fine-tune: upload -> review -> settings -> start ----------------------------------
async function newView() {
  main.append(el("h1", {}, "New fine-tune"));
  const input = el("input", { type: "file", id: "file", accept: ".csv,.tsv,.jsonl" });
  const drop = el("div", { class: "drop" },
    el("p", {}, el("strong", {}, "Drop a CSV or JSONL file here"), " or choose one:"),
    el("label", { for: "file" }, "Labelled data file (text and label columns)"),
    input,
    el("p", { class: "hint" }, "One row per example: a text column and a label column. At least 250 rows is a good start."),
    el("label", { for: "label-separator" }, "Label separator (multi-label CSV only)"),
    el("input", { id: "label-separator", name: "label-separator", maxlength: "4", placeholder: "e.g. + or | (leave empty for one label per row)" }),
    el("p", { class: "hint" }, "Rows with several labels: write them in one cell split by this separator; an empty cell means none of the labels. JSONL rows with a \"labels\" array need no separator."));
  const out = el("div", { id: "review" });
  main.append(el("div", { class: "card" }, drop), out);
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer.files[0]) upload(e.dataTransfer.files[0], out);
  });
  input.addEventListener("change", () => input.files[0] && upload(input.files[0], out));
}

async function upload(file, out) {
  out.replaceChildren(el("p", { class: "muted", role: "status" }, `Reading ${file.name}…`));
  const form = new FormData();
  form.append("file", file, file.name);
  const sep = document.querySelector("#label-separator")?.value.trim();
  if (sep) form.append("label_separator", sep);
  let info;
  try {
    info = await api("/v1/datasets", { method: "POST", body: form, accept: [422] });
  } catch (e) {
    showError(out, e);
    return;
  }
  const dataset = info.dataset || info;
  if (!dataset.review) {
    // A 422 without a review: the file could not be read at all.
    showError(out, new UserError(`${(info.message || "This file could not be read").replace(/\.$/, "")}. Check that it is a CSV or JSONL file with a text and a label column, then upload it again.`));
    return;
  }
  renderReview(dataset, out, file.name);
}

function renderReview(ds, out, fileName) {
  const r = ds.review;
  const card = el("section", { class: "card", "aria-labelledby": "review-title" },
    el("h2", { id: "review-title" }, `Review of ${fileName}`),
    el("div", { class: "stats" },
      el("div", { class: "stat" }, el("b", { "data-testid": "row-count" }, fmt(r.rows, 0)), "rows"),
      el("div", { class: "stat" }, el("b", {}, fmt(r.usable_rows, 0)), "usable"),
      el("div", { class: "stat" }, el("b", {}, fmt(r.labels.length, 0)), "labels")),
    el("p", { class: "muted" }, `Text column “${r.text_column}”, label column “${r.label_column}”.`),
    r.multi_label ? el("div", { "data-testid": "multi-label" },
      el("p", {}, `Multi-label: ${fmt(r.multi_label.cardinality, 2)} labels per row; ${fmt(r.multi_label.rows_with_several, 0)} rows with two or more, ${fmt(r.multi_label.rows_with_none, 0)} with none.`),
      r.multi_label.top_pairs.length ? el("p", { class: "muted" }, "Labels most often together: ",
        r.multi_label.top_pairs.map((p) => `${p.a} + ${p.b} (${p.rows})`).join(", ")) : null) : null,
    el("h2", {}, "Rows per label"),
    labelBars(r.labels),
    el("h2", {}, "Preview"),
    el("div", { class: "table-wrap" }, el("table", {},
      el("thead", {}, el("tr", {}, el("th", {}, "Text"), el("th", {}, "Label"))),
      el("tbody", {}, ...r.preview.map((x) => el("tr", {}, el("td", {}, x.text), el("td", {}, x.label)))))));
  const problems = el("section", { "aria-labelledby": "problems-title" },
    el("h2", { id: "problems-title" }, r.problems.length ? `Problems (${r.problems.length})` : "Problems"));
  if (!r.problems.length) problems.append(el("p", { class: "ok" }, "No problems found."));
  for (const p of r.problems) {
    problems.append(el("div", { class: `problem ${p.severity}` },
      el("strong", {}, `${p.severity === "blocking" ? "Must fix" : p.severity === "warning" ? "Warning" : "Note"}: `), p.message,
      el("p", { class: "fix" }, el("strong", {}, "Fix: "), p.fix)));
  }
  card.append(problems);
  out.replaceChildren(card);
  if (r.blocking) {
    card.append(el("div", { class: "alert", role: "alert" },
      "This file cannot be trained on yet. Fix the problems marked “Must fix” above, then upload the file again."));
    return;
  }
  out.append(settingsForm(ds, fileName));
}

function field(id, label, attrs = {}, hint) {
  return el("div", {},
    el("label", { for: id }, label),
    el(attrs.tag || "input", { id, name: id, ...attrs, tag: undefined }),
    hint ? el("p", { class: "hint" }, hint) : null);
}

/** Offers the server's catalogue of base models (GET /v1/bases), the allowed ones first. */
async function fillBases(list) {
  try {
    const { bases } = await api("/v1/bases");
    bases.sort((a, b) => Number(b.allowed) - Number(a.allowed));
    for (const b of bases) {
      const note = b.allowed ? "" : " (not allowed on this server)";
      list.append(el("option", { value: b.hub_id },
        `${b.name}: ${b.family}, ${Math.round(b.params_m)}M parameters, ${b.dim} dims, ${b.languages}, ${b.max_tokens} tokens${note}`));
    }
  } catch {
    // The field still takes any model ID; the list is a convenience.
  }
}

function settingsForm(ds, fileName) {
  const nick = fileName.replace(/\.[^.]+$/, "").replace(/[^A-Za-z0-9_-]+/g, "-").slice(0, 40);
  const loss = el("select", { id: "loss", name: "loss" },
    el("option", { value: "" }, "Default (ce)"),
    el("option", { value: "ce" }, "ce: cross-entropy through a head trained with the encoder"),
    el("option", { value: "cosine" }, "cosine: in-batch label similarity"),
    el("option", { value: "supcon" }, "supcon: supervised contrastive"),
    el("option", { value: "setfit" }, "setfit: SetFit's sentence pairs"));
  const longText = el("select", { id: "long-text", name: "long-text" },
    el("option", { value: "" }, "Truncate at the model's length (default)"),
    el("option", { value: "chunk" }, "Chunk: embed overlapping windows and pool them"));
  const dtype = el("select", { id: "dtype", name: "dtype" },
    el("option", { value: "" }, "f32 (default)"),
    el("option", { value: "bf16" }, "bf16: products in bf16, weights and optimizer in f32"));
  const form = el("form", { class: "card", id: "settings" },
    el("h2", {}, "Settings"),
    field("nickname", "Nickname", { required: "", value: nick, maxlength: "80" }, "How the model is listed; you can also use its ID."),
    field("base", "Base model", { value: "sentence-transformers/all-MiniLM-L6-v2", list: "bases" }, "A known base (pick from the list: family, size, languages), a Hugging Face model ID or a folder on the server."),
    el("datalist", { id: "bases", "data-testid": "bases" }),
    el("details", {},
      el("summary", {}, "Advanced hyper-parameters"),
      el("div", { class: "grid2" },
        field("epochs", "Epochs", { type: "number", min: "1", max: "100", placeholder: "4" }),
        field("lr", "Learning rate", { type: "number", step: "any", min: "0", placeholder: "0.0001" }),
        field("batch", "Batch size", { type: "number", min: "4", max: "512", placeholder: "32" }),
        field("max_steps", "Max steps", { type: "number", min: "1", placeholder: "no limit" }),
        field("seed", "Seed", { type: "number", min: "0", placeholder: "42" }),
        el("div", {}, el("label", { for: "loss" }, "Loss"), loss),
        el("div", {}, el("label", { for: "long-text" }, "Long texts"), longText),
        el("div", {}, el("label", { for: "dtype" }, "Training precision"), dtype))),
    el("div", { class: "actions" }, el("button", { type: "submit", class: "primary" }, "Start fine-tune")),
    el("div", { id: "start-error" }));
  fillBases(form.querySelector("#bases"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const num = (id) => { const v = form.querySelector(`#${id}`).value; return v === "" ? undefined : Number(v); };
    const settings = { epochs: num("epochs"), learning_rate: num("lr"), batch_size: num("batch"), max_steps: num("max_steps"), seed: num("seed"), loss: loss.value || undefined, long_text: longText.value || undefined, dtype: dtype.value || undefined };
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const job = await api("/v1/finetuned-models", { method: "POST", json: {
        name: form.querySelector("#nickname").value.trim(), dataset_id: ds.id,
        base_model: form.querySelector("#base").value.trim() || undefined, settings } });
      location.hash = `#/training/${job.id}`;
    } catch (err) {
      button.disabled = false;
      showError(form.querySelector("#start-error"), err);
    }
  });
  return form;
}

// ---- Training ---------------------------------------------------------------------------------
async function trainingView(id) {
  const title = el("h1", {}, "Training");
  const body = el("div", { class: "card", "aria-live": "polite" });
  const chart = el("div", { class: "card" });
  main.append(title, body, chart);
  let stopped = false;
  onLeave(() => { stopped = true; });
  const tick = async () => {
    if (stopped) return;
    let m;
    try {
      m = await api(`/v1/finetuned-models/${id}`);
    } catch (e) {
      showError(body, e);
      return;
    }
    title.textContent = `Training ${m.name || m.id}`;
    const p = m.progress || {};
    const parts = [el("p", {}, "Status: ", el("span", { class: `badge ${m.status}`, "data-testid": "status" }, m.status))];
    if (m.status === "QUEUED") parts.push(el("p", { class: "muted" }, "Waiting for the job runner; another fine-tune may be ahead of this one."));
    if (p.total) {
      const bar = el("progress", { max: String(p.total), value: String(p.step), "aria-label": "Training progress" });
      parts.push(bar, el("p", { "data-testid": "progress-text" },
        `Step ${p.step} of ${p.total} · epoch ${p.epoch} · loss ${fmt(p.loss, 4)}` +
        (m.status === "FINETUNING" ? ` · about ${Math.max(0, Math.round(p.eta_s))} s left` : "")));
    } else if (m.status === "FINETUNING") {
      parts.push(el("p", { class: "muted" }, "Preparing: loading the model and measuring the baseline…"));
    }
    if (m.status === "FAILED") {
      parts.push(el("div", { class: "alert", role: "alert" }, `The fine-tune failed: ${m.error || "no reason was recorded"}. Fix the cause, then start a new fine-tune (or restart the server to resume it).`));
    }
    if (m.status === "READY") {
      parts.push(el("p", { class: "ok" }, "Ready."), el("a", { class: "button primary", href: `#/model/${m.id}` }, "See metrics and map"));
    }
    body.replaceChildren(...parts);
    chart.replaceChildren(el("h2", {}, "Training loss"), lossChart(p.losses || []));
    if (m.status === "QUEUED" || m.status === "FINETUNING") setTimeout(tick, 1000);
  };
  await tick();
}

// ---- Model ------------------------------------------------------------------------------------
async function modelView(id) {
  const m = await api(`/v1/finetuned-models/${id}`);
  if (m.status !== "READY") {
    location.hash = `#/training/${id}`;
    return;
  }
  const del = el("button", { type: "button", class: "danger" }, "Delete model");
  del.addEventListener("click", async () => {
    if (!confirm(`Delete ${m.name || m.id}? This cannot be undone.`)) return;
    try {
      await api(`/v1/finetuned-models/${m.id}`, { method: "DELETE" });
      toast(`Deleted ${m.name || m.id}.`);
      location.hash = "#/models";
    } catch (e) { toast(e.message); }
  });
  main.append(el("h1", {}, m.name || m.id),
    el("div", { class: "copy-row" }, el("span", { class: "muted" }, "Model ID"), el("code", { class: "id", "data-testid": "model-id" }, m.id), copyButton(m.id, "Copy ID"), del));
  const tabs = [["metrics", "Metrics", metricsTab], ["map", "Map", mapTab], ["api", "API", apiTab], ["try", "Try it", tryTab]];
  const bar = el("div", { class: "tabs", role: "tablist", "aria-label": "Model" });
  const panel = el("section", { role: "tabpanel", id: "tabpanel" });
  const buttons = tabs.map(([key, name, render], i) => {
    const b = el("button", { type: "button", role: "tab", id: `tab-${key}`, "aria-controls": "tabpanel", "aria-selected": "false", tabindex: "-1" }, name);
    b.addEventListener("click", () => select(i));
    b.addEventListener("keydown", (e) => {
      if (e.key === "ArrowRight" || e.key === "ArrowLeft") {
        const j = (i + (e.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length;
        select(j);
        buttons[j].focus();
      }
    });
    return b;
  });
  function select(i) {
    buttons.forEach((b, j) => { b.setAttribute("aria-selected", String(i === j)); b.tabIndex = i === j ? 0 : -1; });
    panel.setAttribute("aria-labelledby", buttons[i].id);
    panel.replaceChildren();
    Promise.resolve(tabs[i][2](m, panel)).catch((e) => showError(panel, e));
  }
  bar.append(...buttons);
  main.append(bar, panel);
  select(0);
}

function metricsTab(m, panel) {
  const b = m.metrics.baseline, f = m.metrics.finetuned;
  const multi = f.hamming_score !== undefined;
  const rows = multi
    ? [["Hamming score", "hamming_score", true], ["Subset accuracy", "subset_accuracy", true], ["F1 (micro)", "f1_micro", true],
      ["Precision (micro)", "precision_micro", true], ["Recall (micro)", "recall_micro", true], ["F1 (macro)", "f1_macro", true],
      ["Loss (binary cross-entropy)", "loss", false], ["Cardinality error", "cardinality_error", false], ["Silhouette (cosine)", "silhouette", true]]
    : [["Accuracy", "accuracy", true], ["Loss (cross-entropy)", "loss", false], ["F1 (macro)", "f1_macro", true],
      ["Precision (macro)", "precision_macro", true], ["Recall (macro)", "recall_macro", true], ["Silhouette (cosine)", "silhouette", true]];
  const delta = (x, y, higher) => {
    const d = y - x;
    const good = higher ? d > 0 : d < 0;
    return el("td", { class: "num", style: `color: var(${Math.abs(d) < 5e-5 ? "--muted" : good ? "--good" : "--bad"})` }, `${d >= 0 ? "+" : "−"}${fmt(Math.abs(d), 4)}`);
  };
  panel.append(
    el("p", { class: m.selected === "base" ? "problem" : "ok", "data-testid": "selected" },
      el("strong", {}, m.selected === "base" ? "This model is the base model, not fine-tuned. " : "Fine-tuned model selected. "), m.reason || ""),
    el("p", { class: "muted" }, `On ${f.rows} held-out test rows that no decision saw (not training, the epoch choice, calibration or the model choice). Baseline: the frozen base model with the same classifier head.`),
    el("div", { class: "table-wrap card" }, el("table", { "data-testid": "metrics" },
      el("thead", {}, el("tr", {}, el("th", {}, "Metric"), el("th", { class: "num" }, "Baseline"), el("th", { class: "num" }, "Fine-tuned"), el("th", { class: "num" }, "Change"))),
      el("tbody", {}, ...rows.map(([name, k, hi]) => el("tr", {}, el("td", {}, name), el("td", { class: "num" }, fmt(b[k], 4)), el("td", { class: "num" }, fmt(f[k], 4)), delta(b[k], f[k], hi)))))),
    el("h2", {}, "Per label"),
    el("div", { class: "table-wrap card" }, el("table", {},
      el("thead", {}, el("tr", {}, el("th", {}, "Label"), el("th", { class: "num hide-narrow" }, "Support"),
        el("th", { class: "num" }, "Precision"), el("th", { class: "num" }, "Recall"), el("th", { class: "num" }, "F1 base"), el("th", { class: "num" }, "F1 tuned"))),
      el("tbody", {}, ...Object.keys(f.per_label).map((label) => {
        const pf = f.per_label[label], pb = b.per_label[label] || {};
        return el("tr", {}, el("td", {}, label), el("td", { class: "num hide-narrow" }, fmt(pf.support, 0)), el("td", { class: "num" }, fmt(pf.precision, 3)),
          el("td", { class: "num" }, fmt(pf.recall, 3)), el("td", { class: "num" }, fmt(pb.f1, 3)), el("td", { class: "num" }, fmt(pf.f1, 3)));
      })))),
    multi ? el("p", { class: "muted" }, "Multi-label: each label has its own threshold, chosen on the selection rows; a text gets every label over its threshold.")
      : el("div", { class: "panels" },
        el("div", {}, el("h2", {}, "Confusion: baseline"), confusionTable(b.confusion)),
        el("div", {}, el("h2", {}, "Confusion: fine-tuned"), confusionTable(f.confusion))));
}

async function mapTab(m, panel) {
  panel.append(el("p", { class: "muted", role: "status" }, "Drawing the validation rows in 2D…"));
  const map = await api(`/v1/finetuned-models/${m.id}/map`);
  const labels = map.labels;
  const side = (k) => ({ model: map.models[k], points: map[k], silhouette: map.silhouette[k] });
  panel.replaceChildren(
    el("p", { class: "muted" }, `${map.drawn_rows} held-out validation rows, ${map.method === "tsne" ? "t-SNE" : "PCA"}. Hover or focus a point to read its text.`),
    el("div", { class: "legend", "aria-label": "Labels" }, ...labels.map((l, i) => el("span", {}, el("i", { style: `background:${map.colors[i]}` }), l))),
    el("div", { class: "panels", "data-testid": "map" },
      mapPanel(`Baseline: ${map.models.baseline}`, side("baseline"), labels, map.colors),
      mapPanel(`Fine-tuned: ${map.models.finetuned}`, side("finetuned"), labels, map.colors)));
}

function apiTab(m, panel) {
  const origin = location.origin;
  const key = localStorage.getItem("attune.apiKey") ? "$ATTUNE_API_KEY" : null;
  const auth = key ? ` \\\n  -H "Authorization: Bearer ${key}"` : "";
  const curl = (path, body) => `curl -s ${origin}${path} \\\n  -H "Content-Type: application/json"${auth} \\\n  -d '${JSON.stringify(body)}'`;
  const py = (path, body) => `import os, requests\n\nr = requests.post(\n    "${origin}${path}",\n    json=${JSON.stringify(body)},${key ? '\n    headers={"Authorization": "Bearer " + os.environ["ATTUNE_API_KEY"]},' : ""}\n)\nr.raise_for_status()\nprint(r.json())`;
  const embedBody = { model: m.id, texts: ["where is my refund?"] };
  const classifyBody = { model: m.id, inputs: ["where is my refund?"] };
  const block = (title, code) => el("div", {}, el("div", { class: "copy-row" }, el("h2", {}, title), copyButton(code, `Copy ${title}`)), el("pre", {}, code));
  panel.append(
    el("div", { class: "copy-row" }, el("span", {}, "Model ID:"), el("code", { class: "id" }, m.id), copyButton(m.id, "Copy ID")),
    block("Embed (curl)", curl("/v1/embed", embedBody)),
    block("Classify (curl)", curl("/v1/classify", classifyBody)),
    block("Embed (Python)", py("/v1/embed", embedBody)),
    block("Classify (Python)", py("/v1/classify", classifyBody)),
    // The calls tests/sdk/check_sdks.py makes with the official clients.
    block("Embed (OpenAI SDK)", `import os\nfrom openai import OpenAI\n\nclient = OpenAI(base_url="${origin}/v1", api_key=os.environ.get("ATTUNE_API_KEY", "none"))\nr = client.embeddings.create(model="${m.id}", input=["where is my refund?"])\nprint(r.data[0].embedding[:5])`),
    block("Classify (Cohere SDK)", `import os\nimport cohere\n\nco = cohere.Client(base_url="${origin}", api_key=os.environ.get("ATTUNE_API_KEY", "none"))\nr = co.classify(model="${m.id}", inputs=["where is my refund?"])\nprint(r.classifications[0].prediction)`),
    el("p", { class: "muted" }, "The whole API is described at ", el("a", { href: "/openapi.json" }, "/openapi.json"), "."));
}

function tryTab(m, panel) {
  const text = el("textarea", { id: "try-text", rows: "3", placeholder: "Type a text to classify" });
  const out = el("div", { "aria-live": "polite", id: "try-result" });
  const form = el("form", { class: "card" },
    el("label", { for: "try-text" }, "Text"), text,
    el("div", { class: "actions" }, el("button", { class: "primary", type: "submit" }, "Classify")), out);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!text.value.trim()) { out.replaceChildren(el("p", { class: "alert" }, "Type a text first.")); return; }
    try {
      const r = await api("/v1/classify", { method: "POST", json: { model: m.id, inputs: [text.value] } });
      const c = r.classifications[0];
      const ranked = Object.entries(c.labels).sort((a, b) => b[1].confidence - a[1].confidence);
      const multi = c.classification_type === "multi-label";
      out.replaceChildren(
        multi
          ? el("p", {}, "Labels: ", el("strong", { "data-testid": "prediction" }, c.predictions.length ? c.predictions.join(" + ") : "none of them"))
          : el("p", {}, "Prediction: ", el("strong", { "data-testid": "prediction" }, c.prediction), ` (${fmtPct(c.confidence)})`),
        el("div", { class: "bars" }, ...ranked.flatMap(([label, v]) => [
          el("span", {}, label),
          el("div", { class: "bar", role: "img", "aria-label": `${label}: ${fmtPct(v.confidence)}` }, el("span", { style: `width:${(v.confidence * 100).toFixed(1)}%` })),
          el("span", { class: "num" }, fmtPct(v.confidence))])));
    } catch (err) {
      showError(out, err);
    }
  });
  panel.append(form);
}

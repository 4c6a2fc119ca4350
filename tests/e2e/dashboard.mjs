// The dashboard, end to end, in a real headless Chromium driven by Playwright (run by
// tests/dashboard.rs, which starts the server and passes everything in the environment).
// Saves a screenshot of each page into $SHOTS for a person to look at.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";

const env = (k) => { if (!process.env[k]) throw new Error(`${k} is not set`); return process.env[k]; };
const URL = env("ATTUNE_URL"), KEY = env("ATTUNE_KEY"), SHOTS = env("SHOTS");
const DEMO = env("DEMO_CSV"), BAD = env("BAD_CSV"), MODEL = env("TINY_MODEL"), MULTI = env("MULTI_CSV");
mkdirSync(SHOTS, { recursive: true });

function check(cond, what) { if (!cond) throw new Error(`check failed: ${what}`); console.log(`ok - ${what}`); }

const browser = await chromium.launch({
  executablePath: env("CHROMIUM"),
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const pageErrors = [];
const pages = [];
async function newPage(viewport, key) {
  const ctx = await browser.newContext({ viewport });
  if (key) await ctx.addInitScript((k) => localStorage.setItem("attune.apiKey", k), key);
  const page = await ctx.newPage();
  page.setDefaultTimeout(30_000);
  page.on("pageerror", (e) => pageErrors.push(e.message));
  page.on("console", (m) => {
    // 401s and 422s are expected answers here; Chromium logs every non-2xx fetch.
    if (m.type() === "error" && !/Failed to load resource/.test(m.text())) pageErrors.push(m.text());
  });
  page.on("dialog", (d) => d.accept());
  pages.push(page);
  return page;
}
const shot = (page, name) => page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });

try {
  const page = await newPage({ width: 1280, height: 900 });
  await page.goto(URL + "/");

  // The server has keys: the page asks for one, and says plainly when it is wrong.
  const dialog = page.locator("#key-dialog");
  await dialog.waitFor({ state: "visible" });
  check(/needs an API key/.test(await page.locator("#key-reason").innerText()), "the page asks for an API key");
  await page.getByLabel("API key", { exact: true }).fill("wrong-key");
  await page.getByRole("button", { name: "Use this key" }).click();
  await page.waitForFunction(() => /refused this API key/.test(document.querySelector("#key-reason").textContent));
  check(await dialog.isVisible(), "a wrong key is refused plainly and asked for again");
  await shot(page, "01-wrong-key");
  await page.getByLabel("API key", { exact: true }).fill(KEY);
  await page.getByRole("button", { name: "Use this key" }).click();
  await page.getByText("No fine-tuned models yet.").waitFor();
  check(true, "with the right key the Models page loads (empty)");
  await shot(page, "02-models-empty");

  // A file with one label is stopped with its fix.
  await page.getByRole("link", { name: "New fine-tune" }).click();
  await page.getByLabel("Labelled data file (text and label columns)").setInputFiles(BAD);
  await page.locator(".problem.blocking").first().waitFor();
  const blocking = await page.locator(".problem.blocking").first().innerText();
  check(/Fix:/.test(blocking), `a blocking problem is shown with its fix: ${blocking.replace(/\s+/g, " ")}`);
  check(await page.getByText("This file cannot be trained on yet.").isVisible(), "the user is stopped with the reason");
  check(await page.locator("#settings").count() === 0, "no Start button for a blocked file");
  await shot(page, "03-bad-upload");

  // The demo dataset: review with its counts.
  await page.getByLabel("Labelled data file (text and label columns)").setInputFiles(DEMO);
  await page.locator("[data-testid=row-count]").waitFor();
  const rows = await page.locator("[data-testid=row-count]").innerText();
  check(rows === "360", `the review counts 360 rows (shows ${rows})`);
  const bars = await page.locator("[data-testid=label-bars] .bar").count();
  check(bars === 6, `one bar per label (${bars})`);
  await shot(page, "04-review");

  // Settings, advanced folded away; start.
  check(!(await page.getByLabel("Epochs").isVisible()), "advanced hyper-parameters start folded");
  await page.getByLabel("Nickname").fill("demo-e2e");
  // The base-model field offers the server's catalogue (GET /v1/bases), allowed ones first.
  await page.locator("[data-testid=bases] option").first().waitFor({ state: "attached" });
  const offered = await page.locator("[data-testid=bases] option").evaluateAll((os) => os.map((o) => [o.value, o.textContent]));
  check(offered.some(([v, t]) => v === "sentence-transformers/all-mpnet-base-v2" && t.includes("MPNet")),
    `the base list offers MPNet with its family (${JSON.stringify(offered.slice(0, 3))})`);
  check(offered.some(([, t]) => t.includes("not allowed on this server")), "bases the server does not allow are marked");
  await page.getByLabel("Base model").fill(MODEL);
  await page.getByText("Advanced hyper-parameters").click();
  await page.getByLabel("Epochs").fill("3");
  await shot(page, "05-settings");
  await page.getByRole("button", { name: "Start fine-tune" }).click();

  // Training: progress moves without a reload, then READY.
  await page.waitForURL(/#\/training\//);
  const text = page.locator("[data-testid=progress-text]");
  await text.waitFor();
  const first = await text.innerText();
  await page.waitForFunction((f) => {
    const t = document.querySelector("[data-testid=progress-text]");
    return t && t.textContent !== f;
  }, first);
  check(true, `progress moved: "${first}" -> "${await text.innerText()}"`);
  await page.locator("[data-testid=loss-chart]").waitFor();
  await shot(page, "06-training");
  await page.locator("[data-testid=status]", { hasText: "READY" }).waitFor({ timeout: 120_000 });
  check(true, "the job reached READY");
  await shot(page, "07-ready");

  // Metrics, baseline beside fine-tuned.
  await page.getByRole("link", { name: "See metrics and map" }).click();
  const metrics = page.locator("[data-testid=metrics]");
  await metrics.waitFor();
  for (const name of ["Accuracy", "Loss (cross-entropy)", "F1 (macro)", "Precision (macro)", "Recall (macro)"]) {
    check(await metrics.getByRole("cell", { name, exact: true }).count() === 1, `metrics show ${name}`);
  }
  check(await page.locator("table.confusion").count() === 2, "both confusion matrices are shown");
  const selected = await page.locator("[data-testid=selected]").innerText();
  check(/selected|base model/.test(selected) && /selection rows/.test(selected), `the page says which model was kept and why: ${selected}`);
  const modelId = await page.locator("[data-testid=model-id]").innerText();
  await shot(page, "08-metrics");

  // The map, with a tooltip per point; keyboard reaches the tabs.
  await page.getByRole("tab", { name: "Metrics" }).focus();
  await page.keyboard.press("ArrowRight");
  check(await page.getByRole("tab", { name: "Map" }).getAttribute("aria-selected") === "true", "arrow keys move between tabs");
  await page.locator("[data-testid=map] circle").first().waitFor({ state: "attached", timeout: 120_000 });
  const points = await page.locator("[data-testid=map] circle").count();
  check(points > 0 && points % 2 === 0, `both map panels are drawn (${points} points)`);
  await page.locator("[data-testid=map] circle").nth(3).hover({ force: true });
  await page.locator(".tooltip:not([hidden])").waitFor();
  check((await page.locator(".tooltip").innerText()).length > 3, "hovering a point shows its label and text");
  await shot(page, "09-map");

  await page.getByRole("tab", { name: "API" }).click();
  const code = await page.locator("pre").allInnerTexts();
  check(code.length === 6 && code.every((c) => c.includes(modelId)), "the API tab has curl, Python and SDK (OpenAI, Cohere) requests with the model ID");
  check(code.some((c) => c.includes("/v1/classify")) && code.some((c) => c.includes("/v1/embed")), "the requests cover embed and classify");
  await shot(page, "10-api");

  await page.getByRole("tab", { name: "Try it" }).click();
  await page.getByLabel("Text", { exact: true }).fill("I was charged twice for my order");
  await page.getByRole("button", { name: "Classify" }).click();
  await page.locator("[data-testid=prediction]").waitFor();
  const confidences = await page.locator("#try-result .bar").count();
  check(confidences === 6, `Try it shows every label's confidence (${confidences})`);
  await shot(page, "11-try-it");

  // Phone width: nothing wider than the screen.
  const phone = await newPage({ width: 390, height: 844 }, KEY);
  await phone.goto(`${URL}/#/model/${modelId}`);
  await phone.locator("[data-testid=metrics]").waitFor();
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 0, `the model page fits a phone-width window (overflow ${overflow}px)`);
  // A confusion matrix grows with the labels (77 for Banking77) and scrolls inside its own box by
  // design; the metric tables must fit.
  const clipped = await phone.evaluate(() => [...document.querySelectorAll(".table-wrap")]
    .filter((w) => !w.querySelector("table.confusion") && w.scrollWidth > w.clientWidth + 1).length);
  check(clipped === 0, `no metrics table needs sideways scrolling at phone width (${clipped} do)`);
  await shot(phone, "12-phone-metrics");
  await phone.goto(`${URL}/#/models`);
  await phone.getByText("demo-e2e").waitFor();
  await shot(phone, "13-phone-models");

  // Models list, then delete.
  await page.getByRole("link", { name: "Models" }).click();
  await page.getByText("demo-e2e").waitFor();
  await shot(page, "14-models");
  await page.getByRole("button", { name: "Delete demo-e2e" }).click();
  await page.getByText("No fine-tuned models yet.").waitFor();
  check(true, "deleting the model empties the list");

  // Multi-label: a CSV whose label cells hold sets split by "+".
  await page.getByRole("link", { name: "New fine-tune" }).click();
  await page.getByLabel("Label separator (multi-label CSV only)").fill("+");
  await page.getByLabel("Labelled data file (text and label columns)").setInputFiles(MULTI);
  await page.locator("[data-testid=multi-label]").waitFor();
  check(/labels per row/.test(await page.locator("[data-testid=multi-label]").innerText()), "the review shows label cardinality");
  await page.getByLabel("Nickname").fill("multi-e2e");
  await page.getByLabel("Base model").fill(MODEL);
  await page.getByText("Advanced hyper-parameters").click();
  await page.getByLabel("Epochs").fill("2");
  await page.getByLabel("Long texts").selectOption("chunk");
  await page.getByLabel("Training precision").selectOption("bf16");
  const posted = page.waitForRequest((r) => r.method() === "POST" && r.url().endsWith("/v1/finetuned-models"));
  await page.getByRole("button", { name: "Start fine-tune" }).click();
  check((await posted).postDataJSON().settings.dtype === "bf16", "the form sends the training precision");
  await page.waitForURL(/#\/training\//);
  await page.locator("[data-testid=status]", { hasText: "READY" }).waitFor({ timeout: 120_000 });
  await page.getByRole("link", { name: "See metrics and map" }).click();
  const mm = page.locator("[data-testid=metrics]");
  await mm.waitFor();
  for (const name of ["Hamming score", "Subset accuracy", "F1 (micro)", "F1 (macro)"]) {
    check(await mm.getByRole("cell", { name, exact: true }).count() === 1, `multi-label metrics show ${name}`);
  }
  check(await page.locator("table.confusion").count() === 0, "no confusion matrix for a multi-label model");
  await shot(page, "15-multi-metrics");
  await page.getByRole("tab", { name: "Try it" }).click();
  await page.getByLabel("Text", { exact: true }).fill("flight card the the");
  await page.getByRole("button", { name: "Classify" }).click();
  await page.locator("[data-testid=prediction]").waitFor();
  check(/^Labels:/.test(await page.locator("#try-result p").first().innerText()), "Try it answers a label set");
  await shot(page, "16-multi-try");
  await page.getByRole("link", { name: "Models" }).click();
  await page.getByRole("button", { name: "Delete multi-e2e" }).click();
  await page.getByText("No fine-tuned models yet.").waitFor();

  check(pageErrors.length === 0, `no script errors in the page (${pageErrors.join(" | ")})`);
} catch (e) {
  // What the page showed when it failed, for whoever reads the log.
  for (const [i, p] of pages.entries()) {
    await p.screenshot({ path: `${SHOTS}/failure-${i}.png`, fullPage: true }).catch(() => {});
    console.log(`page ${i} at failure (${p.url()}):\n${await p.locator("main").innerText().catch(() => "?")}`);
  }
  throw e;
} finally {
  await browser.close();
}

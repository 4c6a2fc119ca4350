// The official `openai` npm client against a running `attune serve` (tests/sdk.rs starts it):
// the default embeddings call (base64, decoded by the client), float, dimensions, the model
// list, and a typed error, each checked for values against `attune embed`.
//   node openai_sdk.mjs BASE_URL KEY MODEL REFERENCE.json
import { readFileSync } from "node:fs";
import OpenAI from "openai";

const [base, key, model, refPath] = process.argv.slice(2);
const { texts, embeddings: expected } = JSON.parse(readFileSync(refPath, "utf8"));
const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: key });

function close(got, want, tol, what) {
  if (got.length !== want.length) throw new Error(`${what}: ${got.length} numbers, expected ${want.length}`);
  const worst = Math.max(...got.map((x, i) => Math.abs(x - want[i])));
  if (worst > tol) throw new Error(`${what}: max abs difference ${worst} > ${tol}`);
}

let r = await client.embeddings.create({ model, input: texts });
r.data.forEach((d, i) => close(d.embedding, expected[i], 1e-6, "default call"));
console.log("ok: openai (npm) embeddings, the default call");
r = await client.embeddings.create({ model, input: texts, encoding_format: "float" });
r.data.forEach((d, i) => close(d.embedding, expected[i], 1e-6, "float"));
console.log("ok: openai (npm) embeddings, float");
r = await client.embeddings.create({ model, input: texts[0], dimensions: 8 });
const n = Math.hypot(...expected[0].slice(0, 8));
close(r.data[0].embedding, expected[0].slice(0, 8).map((x) => x / n), 1e-5, "dimensions");
console.log("ok: openai (npm) embeddings, dimensions");
const ids = [];
for await (const m of client.models.list()) ids.push(m.id);
if (!ids.includes("sentence-transformers/all-MiniLM-L6-v2")) throw new Error(`models: ${ids}`);
console.log("ok: openai (npm) models list");
try {
  await client.embeddings.create({ model: "no-such-model", input: "x" });
  throw new Error("no error for an unknown model");
} catch (e) {
  if (!(e instanceof OpenAI.NotFoundError)) throw e;
}
console.log("ok: openai (npm) typed error");
console.log("all npm SDK checks passed");

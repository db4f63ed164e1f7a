// Parse math with KaTeX, as GitHub-style renderers do. Reads a JSON array of
// {"tex": "...", "display": true|false, "where": "..."} on stdin; prints one JSON object
// {"checked": N, "errors": [{"where": ..., "tex": ..., "message": ...}]} and exits 0.
const katex = require("katex");
let input = "";
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  const spans = JSON.parse(input);
  const errors = [];
  for (const span of spans) {
    try {
      katex.renderToString(span.tex, { displayMode: span.display, throwOnError: true, strict: "error" });
    } catch (e) {
      errors.push({ where: span.where, tex: span.tex.slice(0, 300), message: String(e.message) });
    }
  }
  process.stdout.write(JSON.stringify({ checked: spans.length, errors }));
});

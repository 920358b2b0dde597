// Validation: predicted against measured (log-log, ±10 % and ±25 % bands) per family, and the vendors' claims.
import { runCommand, onSubmit, progressBox, table, fmt, pct, plot, el } from "/static/common.js";

const kpi = ([k, v]) => el("div", { class: "kpi" }, el("div", { class: "v" }, v), el("div", { class: "k" }, k));

function render(d) {
  document.getElementById("result").classList.remove("hidden");
  document.getElementById("kpis").replaceChildren(...[
    ["median abs. % error", pct(d.mdape)],
    ["p90 abs. % error", pct(d.p90_ape)],
    ["inside the model's band", pct(d.band_coverage)],
    ["rows predicted", `${d.rows_predicted} of ${d.rows_in_scope}`],
    ["mode", d.mode],
  ].map(kpi));
  const all = d.results.filter((r) => r.measured > 0 && r.predicted > 0);
  const counts = {};
  for (const r of all) counts[r.metric] = (counts[r.metric] ?? 0) + 1;
  const metrics = Object.keys(counts).sort((a, b) => counts[b] - counts[a]);
  const select = document.getElementById("metric");
  select.replaceChildren(...metrics.map((m) => el("option", { value: m }, `${m} (${counts[m]})`)), el("option", { value: "" }, `all metrics (${all.length})`));
  select.onchange = () => scatter(all.filter((r) => !select.value || r.metric === select.value), select.value);
  scatter(all.filter((r) => r.metric === metrics[0]), metrics[0]);
  document.getElementById("families").replaceChildren(table([
    { label: "Family", key: "family" }, { label: "Rows", num: true, key: "n" },
    { label: "Median APE", num: true, cell: (f) => pct(f.mdape) }, { label: "p90 APE", num: true, cell: (f) => pct(f.p90_ape) },
    { label: "In band", num: true, cell: (f) => pct(f.band_coverage) }, { label: "Coverage", num: true, cell: (f) => pct(f.coverage) },
    { label: "Validated", cell: (f) => (f.validated ? "yes" : "no") },
  ], d.by_family));
}

// Log-log scatter with the ±10 % and ±25 % bands shaded around predicted = measured.
function scatter(rows, metric) {
  const lo = Math.min(...rows.map((r) => Math.min(r.measured, r.predicted))) / 1.5;
  const hi = Math.max(...rows.map((r) => Math.max(r.measured, r.predicted))) * 1.5;
  const edge = (f, name, colour, fill) => ({
    type: "scatter", mode: "lines", name, x: [lo, hi], y: [lo * f, hi * f], line: { color: colour, width: 1 },
    fill: fill ? "tonexty" : "none", fillcolor: `${colour}33`, hoverinfo: "skip", showlegend: Boolean(fill),
  });
  const families = [...new Set(rows.map((r) => r.family))];
  const inside = (f) => rows.filter((r) => Math.abs(r.predicted / r.measured - 1) <= f).length;
  plot("scatter", [
    edge(1 / 1.25, "", "#ef6c00", false), edge(1.25, `±25 % (${inside(0.25)} of ${rows.length} inside)`, "#ef6c00", true),
    edge(1 / 1.1, "", "#2e7d32", false), edge(1.1, `±10 % (${inside(0.1)} inside)`, "#2e7d32", true),
    { type: "scatter", mode: "lines", name: "predicted = measured", x: [lo, hi], y: [lo, hi], line: { color: "#1d2430", width: 1 }, hoverinfo: "skip" },
    ...families.map((f) => {
      const fr = rows.filter((r) => r.family === f);
      return {
        type: "scatter", mode: "markers", name: f, x: fr.map((r) => r.measured), y: fr.map((r) => r.predicted),
        text: fr.map((r) => `${r.id} ${r.model} on ${r.instance}: ${r.metric}, error ${pct(r.ape)}`), marker: { size: 8 },
        hovertemplate: "%{text}<br>measured %{x:.4g}, predicted %{y:.4g}<extra></extra>",
      };
    }),
  ], {
    title: { text: `${metric || "all metrics"}: predicted against measured (${rows.length} rows)` },
    xaxis: { title: { text: `measured ${metric || "(each in its metric's unit)"}, log scale` }, type: "log", range: [Math.log10(lo), Math.log10(hi)] },
    yaxis: { title: { text: "predicted, log scale" }, type: "log", range: [Math.log10(lo), Math.log10(hi)] },
    height: 600, legend: { orientation: "h", x: 0, y: -0.16, yanchor: "top", font: { size: 11 } }, margin: { l: 70, r: 20, t: 40, b: 150 },
  });
}

function verdictClass(v) {
  if (/^holds$/i.test(v)) return "status-done";
  if (/not|fails|false/i.test(v)) return "status-failed";
  return "";
}

function renderClaims(claims) {
  document.getElementById("claims").replaceChildren(table([
    { label: "Subject", key: "subject" },
    { label: "Claim", cell: (c) => el("span", {}, c.claim, el("span", { class: "src" }, /^https?:/.test(c.source) ? el("a", { href: c.source, target: "_blank", rel: "noopener" }, "source") : c.source)) },
    { label: "Claimed", num: true, cell: (c) => `${fmt(c.claim_value)} ${c.unit}` },
    { label: "Model", num: true, cell: (c) => `${fmt(c.model_value)} ${c.unit}` },
    { label: "Verdict", cell: (c) => el("b", { class: verdictClass(c.verdict) }, c.verdict) },
    { label: "Conditions", cell: (c) => el("span", { style: "font-size:12px" }, c.conditions ?? "") },
  ], claims));
}

onSubmit(document.getElementById("validate-form"), async (body) => {
  render(await runCommand("validate", null, body, progressBox(document.getElementById("progress"))));
});
onSubmit(document.getElementById("claims-form"), async () => renderClaims(await runCommand("claims", null, {})));
document.body.dataset.ready = "1";

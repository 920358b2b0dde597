// Plan training: the cost-time Pareto front; clicking a point (or a row) shows that placement.
import { runCommand, onSubmit, progressBox, table, fmt, dur, pct, plot, el } from "/static/common.js";

const DAY = 86400;

function placement(o) {
  const p = o.parallelism;
  const box = document.getElementById("placement");
  const rows = [
    ["instances", `${o.instances} × ${o.instance} (${o.chips} × ${o.chip}, ${o.cloud})`],
    ["region, pricing", `${o.region}, ${o.pricing_label ?? o.pricing}`],
    ["precision", o.precision],
    ["parallelism", `tp=${p.tp} pp=${p.pp} dp=${p.dp} cp=${p.cp} ep=${p.ep} zero=${p.zero} micro-batch=${p.micro_batch} recompute=${p.recompute}`],
    ["wall-clock time", dur(o.time_s)],
    ["cost", `${fmt(o.cost_usd)} USD (${fmt(o.price_usd_per_h)} USD/h)`],
    ["energy, CO₂e", `${fmt(o.energy_kwh)} kWh, ${fmt(o.co2_kg)} kg`],
    ["step time, MFU", `${dur(o.step_time_s)}, ${pct(o.mfu)}`],
    ["bound by", o.bound],
    ["efficiency family", `${o.family}${o.validated ? " (validated)" : ""}`],
  ];
  box.replaceChildren(el("h2", {}, "Placement"),
    table([{ label: "", key: "k" }, { label: "", key: "v", fmt: (v) => v }], rows.map(([k, v]) => ({ k, v }))),
    el("div", { id: "placement-breakdown", class: "chart", style: "min-height:240px" }));
  const entries = Object.entries(o.breakdown).filter(([, v]) => v > 0);
  plot("placement-breakdown", [{
    type: "bar", orientation: "h", y: entries.map(([k]) => k.replace("_s", "")), x: entries.map(([, v]) => v),
    text: entries.map(([, v]) => dur(v)), textposition: "outside", cliponaxis: false,
  }], {
    title: { text: "One step by component" }, xaxis: { title: { text: "seconds per step" } },
    yaxis: { autorange: "reversed", automargin: true }, height: 240, margin: { l: 100, r: 70, t: 40, b: 50 }, showlegend: false,
  });
}

function render(d) {
  document.getElementById("result").classList.remove("hidden");
  const best = d.options[0];
  document.getElementById("kpis").replaceChildren(...[
    ["best on " + d.objective, best ? `${best.instances} × ${best.instance}` : "none"],
    ["its cost (USD)", best ? fmt(best.cost_usd) : "–"],
    ["its time", best ? dur(best.time_s) : "–"],
    ["placements evaluated", fmt(d.evaluated)],
    ["on the Pareto front", String(d.pareto.length)],
  ].map(([k, v]) => el("div", { class: "kpi" }, el("div", { class: "v" }, v), el("div", { class: "k" }, k))));
  const front = [...d.pareto].sort((a, b) => a.time_s - b.time_s);
  const label = (o) => `${o.instances}×${o.instance}`;
  plot("pareto", [
    {
      type: "scatter", mode: "markers", name: "best options",
      x: d.options.map((o) => o.time_s / DAY), y: d.options.map((o) => o.cost_usd), customdata: d.options.map((_, i) => ["options", i]),
      marker: { size: 9, color: "#90a4ae", symbol: "diamond" }, text: d.options.map(label),
      hovertemplate: "%{text}<br>%{x:.3g} days, %{y:$,.0f}<extra></extra>",
    },
    {
      type: "scatter", mode: "lines+markers+text", name: "Pareto front (cost vs time)",
      x: front.map((o) => o.time_s / DAY), y: front.map((o) => o.cost_usd), customdata: front.map((_, i) => ["pareto", i]),
      text: front.map(label), textposition: front.map((_, i) => (i % 2 ? "bottom left" : "top right")), textfont: { size: 10 }, line: { shape: "hv", color: "#1f6feb" },
      marker: { size: 10, color: "#1f6feb" }, hovertemplate: "%{text}<br>%{x:.3g} days, %{y:$,.0f}<extra></extra>",
    },
  ], {
    title: { text: `${d.model}, ${fmt(d.tokens)} tokens: cost against time (click a point)` },
    xaxis: { title: { text: "wall-clock time (days, log scale)" }, type: "log" },
    yaxis: { title: { text: "cost (USD, log scale)" }, type: "log" }, height: 460,
  }).then((gd) => {
    gd.on("plotly_click", (ev) => {
      const [which, i] = ev.points[0].customdata;
      placement(which === "pareto" ? front[i] : d.options[i]);
    });
  });
  document.getElementById("options").replaceChildren(table([
    { label: "#", cell: (_, i) => "" },
    { label: "Placement", cell: (o) => `${o.instances} × ${o.instance}` },
    { label: "Chip", key: "chip" },
    { label: "Region", key: "region" },
    { label: "Precision", key: "precision" },
    { label: "Time", num: true, cell: (o) => dur(o.time_s) },
    { label: "Cost (USD)", num: true, key: "cost_usd" },
    { label: "Energy (kWh)", num: true, key: "energy_kwh" },
    { label: "CO₂e (kg)", num: true, key: "co2_kg" },
    { label: "MFU", num: true, cell: (o) => pct(o.mfu) },
  ], d.options, { onRowClick: (o) => placement(o) }));
  document.querySelectorAll("#options tbody tr").forEach((tr, i) => { tr.firstChild.textContent = String(i + 1); });
  if (best) placement(best);
  const expl = document.getElementById("explanation") ?? el("p", { id: "explanation", class: "lead" });
  expl.textContent = d.explanation ?? "";
  document.getElementById("options").before(expl);
}

onSubmit(document.getElementById("plan-form"), async (body) => {
  render(await runCommand("plan", "train", body, progressBox(document.getElementById("progress"))));
});
document.body.dataset.ready = "1";

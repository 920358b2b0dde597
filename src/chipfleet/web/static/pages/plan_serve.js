// Plan serving: a background job with a progress bar and a cancel button; the mix, the routing table, the replay's
// latency percentiles against the SLOs, utilisation per window and the hourly plan (with --per-hour).
import { runCommand, onSubmit, progressBox, table, fmt, dur, pct, plot, el } from "/static/common.js";
import { latencyChart, utilisationChart } from "/static/charts.js";

const kpi = ([k, v]) => el("div", { class: "kpi" }, el("div", { class: "v" }, v), el("div", { class: "k" }, k));

function render(d) {
  document.getElementById("result").classList.remove("hidden");
  const mix = d.chose_single ? d.single : d.mix;
  const r = d.replay;
  document.getElementById("kpis").replaceChildren(...[
    ["fleet", mix.fleet],
    ["cost (USD/h)", fmt(mix.cost_usd_per_h)],
    ["USD per million output tokens", fmt(mix.usd_per_million_output_tokens)],
    ["replayed p90 TTFT / TPOT", r ? `${dur(r.ttft_s.p90)} / ${dur(r.tpot_s.p90)}` : "–"],
    ["SLO attainment (replay)", r ? pct(r.slo_attainment) : "–"],
    ["solve + replay", `${dur(d.solve_s)} + ${dur(d.replay_s)}`],
  ].map(kpi));
  document.getElementById("mix").replaceChildren(table([
    { label: "Instances", cell: (e) => `${e.count} × ${e.deployment.instance}` },
    { label: "Chip", cell: (e) => e.deployment.chip },
    { label: "Config", cell: (e) => `tp=${e.deployment.tp} ${e.deployment.precision} max-seqs ${e.max_seqs}` },
    { label: "Region", cell: (e) => e.deployment.region },
    { label: "USD/h", num: true, key: "cost_usd_per_h" },
    { label: "Load", num: true, cell: (e) => pct(e.load) },
    { label: "Busy", num: true, cell: (e) => pct(e.busy_fraction) },
  ], mix.entries));
  const types = [...new Set(Object.values(mix.routing_by_bucket).flatMap((m) => Object.keys(m)))];
  document.getElementById("routing").replaceChildren(table(
    [{ label: "Request bucket", key: "bucket" }, ...types.map((t) => ({ label: t, num: true, cell: (row) => pct(row.shares[t] ?? 0) }))],
    Object.entries(mix.routing_by_bucket).map(([bucket, shares]) => ({ bucket, shares })),
  ));
  // show or hide the hourly chart before drawing its neighbours: Plotly sizes a chart to its box when drawn
  const hourly = document.getElementById("hourly");
  hourly.classList.toggle("hidden", !d.hourly);
  if (r) {
    latencyChart("latency", r, d.slo, `Replay of ${r.requests} requests: latency against the SLOs`);
    utilisationChart("util", r.utilization_series, r.window_s, r.queue_series, "Replay: busy share and waiting requests");
  }
  if (d.hourly) {
    const h = d.hourly;
    const hours = h.hours ?? [];
    plot("hourly", [
      {
        type: "bar", name: "autoscaled fleet (USD/h)", x: hours.map((x) => x.hour), y: hours.map((x) => x.cost_usd_per_h),
        text: hours.map((x) => x.fleet), textposition: "inside", textangle: -90, insidetextanchor: "start",
      },
      {
        type: "scatter", mode: "lines", name: `static fleet ${h.static?.fleet ?? ""} (USD/h)`, x: [0, 23],
        y: [h.static?.cost_usd_per_h, h.static?.cost_usd_per_h], line: { dash: "dash", color: "#c62828" },
      },
      {
        type: "scatter", mode: "lines+markers", name: "load (× the workload's rate)", x: hours.map((x) => x.hour),
        y: hours.map((x) => x.multiplier), yaxis: "y2", line: { color: "#607d8b" },
      },
    ], {
      title: { text: `Hourly plan: ${fmt(h.autoscaled_usd_per_day)} against ${fmt(h.static_usd_per_day)} USD/day static` },
      xaxis: { title: { text: "hour of the day" }, dtick: 2 }, yaxis: { title: { text: "cost (USD/h)" } },
      yaxis2: { title: { text: "load multiplier" }, overlaying: "y", side: "right", rangemode: "tozero", showgrid: false, tickformat: ".1f" },
      height: 440, margin: { l: 70, r: 70, t: 40, b: 140 }, legend: { orientation: "h", x: 0, y: -0.3, yanchor: "top" },
    });
  }
  // the prefill/decode split the planner weighed (--disagg auto|on), chosen or not, with its KV link
  const split = d.disagg?.mix;
  document.getElementById("split").replaceChildren(...(split ? [
    el("h2", {}, `Disaggregated split (${d.disagg.chosen ? "chosen" : "not chosen"}): ${fmt(split.cost_usd_per_h)} USD/h`),
    table([
      { label: "Pool", key: "role" }, { label: "Instances", cell: (p) => `${p.count} × ${p.instance}` },
      { label: "Config", key: "config" }, { label: "Region", key: "region" },
      { label: "USD/h", num: true, key: "cost_usd_per_h" }, { label: "Load", num: true, cell: (p) => pct(p.load) },
      { label: "Busy", num: true, cell: (p) => pct(p.busy_fraction) },
    ], [...(split.prefill ?? []), ...(split.decode ?? [])]),
    table([
      { label: "KV link", cell: (l) => `${l.prefill} → ${l.decode}` }, { label: "Kind", key: "kind" },
      { label: "GB/s used", num: true, key: "gb_per_s" }, { label: "Utilisation", num: true, cell: (l) => pct(l.utilisation) },
      { label: "p90 transfer", num: true, cell: (l) => dur(l.transfer_p90_s) },
    ], split.links ?? []),
  ] : []));
  document.getElementById("notes").replaceChildren(el("ul", {}, [
    d.disagg ? `Disaggregation (${d.disagg.mode}): ${d.disagg.chosen ? "chosen" : "not chosen"}: ${d.disagg.reason}` : null,
    ...Object.entries(d.rejected ?? {}).map(([k, n]) => `rejected: ${k} (${n})`),
    ...(d.assumptions ?? []),
  ].filter(Boolean).map((t) => el("li", {}, t))));
}

onSubmit(document.getElementById("plan-form"), async (body) => {
  render(await runCommand("plan", "serve", body, progressBox(document.getElementById("progress"))));
});
document.body.dataset.ready = "1";

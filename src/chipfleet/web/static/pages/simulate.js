// Simulation dashboards: serving (busy share and queue per window, latency against the SLOs) and training
// clusters (utilisation over time, job completion and queueing times). Both run as background jobs.
import { runCommand, onSubmit, progressBox, table, fmt, dur, pct, plot, el } from "/static/common.js";
import { latencyChart } from "/static/charts.js";

const kpi = ([k, v]) => el("div", { class: "kpi" }, el("div", { class: "v" }, v), el("div", { class: "k" }, k));
const minutes = (n, windowS) => Array.from({ length: n }, (_, i) => (i * windowS) / 60);
const SECONDS = (text) => {
  const m = /^([\d.]+)\s*(ms|s|min)?$/.exec(text ?? "");
  return m ? Number(m[1]) * ({ ms: 1e-3, s: 1, min: 60 }[m[2] ?? "s"]) : null;
};

function renderServe(d, body) {
  document.getElementById("result").classList.remove("hidden");
  document.getElementById("kpis").replaceChildren(...[
    ["fleet", d.fleet],
    ["requests completed", `${d.completed} of ${d.requests}`],
    ["requests/s", fmt(d.requests_per_s)],
    ["output tokens/s", fmt(d.output_tokens_per_s)],
    ["p90 TTFT / TPOT", `${dur(d.ttft_s.p90)} / ${dur(d.tpot_s.p90)}`],
    ["SLO attainment", d.slo_attainment === null ? "no SLO given" : pct(d.slo_attainment)],
    ["USD per million tokens", fmt(d.cost_usd_per_million_tokens)],
  ].map(kpi));
  const series = d.utilization_series ?? {};
  plot("chart-util", Object.entries(series).map(([name, ys]) => ({
    type: "scatter", mode: "lines+markers", name, x: minutes(ys.length, d.window_s), y: ys.map((v) => v * 100),
  })), {
    title: { text: "Busy share of each instance type per window" },
    xaxis: { title: { text: `time (min; windows of ${dur(d.window_s)})` } },
    yaxis: { title: { text: "busy share (%)" }, range: [0, 105] }, height: 360,
  });
  const q = d.queue_series ?? [];
  plot("chart-queue", [{
    type: "bar", name: "waiting requests", x: minutes(q.length, d.window_s), y: q, text: q.map((v) => fmt(v)), textposition: "outside",
    marker: { color: "#607d8b" }, cliponaxis: false,
  }], {
    title: { text: "Queue: most requests waiting in each window" },
    xaxis: { title: { text: `time (min; windows of ${dur(d.window_s)})` } }, yaxis: { title: { text: "waiting requests" }, rangemode: "tozero" },
    height: 360, showlegend: false,
  });
  latencyChart("chart-latency", d, { ttft_p90_s: SECONDS(body.slo_ttft_p90), tpot_p90_s: SECONDS(body.slo_tpot_p90) },
    `Latency of ${d.completed} requests against the SLOs`);
  latencyOverTime(d, SECONDS(body.slo_ttft_p90), SECONDS(body.slo_tpot_p90));
  const stat = (name, s) => ({ name, ...s });
  document.getElementById("tables").replaceChildren(
    el("h2", {}, "Latency (whole run)"),
    table([{ label: "", key: "name" }, ...["mean", "p50", "p90", "p99", "max"].map((k) => ({ label: k, num: true, cell: (r) => dur(r[k]) }))],
      [stat("time to first token", d.ttft_s), stat("time per output token", d.tpot_s), stat("end to end", d.e2e_s), stat("queue wait", d.queue_wait_s)]),
    el("h2", {}, "By instance type"),
    table([
      { label: "Type", key: "instance" }, { label: "Replicas", num: true, key: "replicas" }, { label: "TP", num: true, key: "tp" },
      { label: "Completed", num: true, key: "completed" }, { label: "Busy", num: true, cell: (t) => pct(t.utilization) },
      { label: "p90 TTFT", num: true, cell: (t) => dur(t.ttft_s.p90) }, { label: "Preemptions", num: true, key: "preemptions" },
    ], d.by_type ?? []),
  );
}

// Mean TTFT (left axis) and TPOT (right axis) of the requests served in each window, with the p90 SLOs dashed.
function latencyOverTime(d, sloTtftS, sloTpotS) {
  document.getElementById("row-latency-time").classList.remove("hidden");
  const ms = (ys) => (ys ?? []).map((v) => (v === null ? null : v * 1e3));
  const tt = ms(d.ttft_series), tp = ms(d.tpot_series);
  const x = (n) => minutes(n, d.window_s);
  const sloLine = (y, yref, color) => ({ type: "line", xref: "paper", x0: 0, x1: 1, yref, y0: y, y1: y, line: { dash: "dash", color, width: 1.5 } });
  const shapes = [];
  if (sloTtftS) shapes.push(sloLine(sloTtftS * 1e3, "y", "#1f77b4"));
  if (sloTpotS) shapes.push(sloLine(sloTpotS * 1e3, "y2", "#ff7f0e"));
  plot("chart-latency-time", [
    { type: "scatter", mode: "lines+markers", name: "mean TTFT (ms)", x: x(tt.length), y: tt, connectgaps: false, line: { color: "#1f77b4" } },
    { type: "scatter", mode: "lines+markers", name: "mean TPOT (ms)", x: x(tp.length), y: tp, yaxis: "y2", connectgaps: false, line: { color: "#ff7f0e" } },
  ], {
    title: { text: "Latency over time: mean TTFT and TPOT of the requests served in each window (dashed: p90 SLOs)" },
    xaxis: { title: { text: `time (min; windows of ${dur(d.window_s)})` } },
    yaxis: { title: { text: "TTFT (ms)" }, rangemode: "tozero" },
    yaxis2: { title: { text: "TPOT (ms)" }, overlaying: "y", side: "right", rangemode: "tozero" },
    margin: { l: 70, r: 70, t: 70, b: 60 }, shapes, height: 360,
  });
}

function renderTrain(d) {
  document.getElementById("result").classList.remove("hidden");
  document.getElementById("kpis").replaceChildren(...[
    ["jobs completed", `${d.completed} of ${d.jobs}`],
    ["utilisation", pct(d.utilization)],
    ["makespan", dur(d.makespan_s)],
    ["median job completion", dur(d.jct_s.p50)],
    ["median queueing", dur(d.queueing_s.p50)],
    ["cost (USD)", fmt(d.cost_usd)],
    ["energy (kWh)", fmt(d.energy_kwh)],
  ].map(kpi));
  const H = 3600;
  plot("chart-util", d.types.map((t) => ({
    type: "scatter", mode: "lines", name: `${t.instance} × ${t.instances}`,
    x: t.utilization_over_time.map((_, i) => (i * d.window_s) / H), y: t.utilization_over_time.map((v) => v * 100),
  })), {
    title: { text: "Chips busy per window, by instance type" },
    xaxis: { title: { text: `time (hours; windows of ${dur(d.window_s)})` } },
    yaxis: { title: { text: "chips busy (%)" }, range: [0, 105] }, height: 360,
  });
  const qs = ["p50", "p90", "p99", "max"];
  const D = 86400;
  plot("chart-queue", [
    { type: "bar", name: "job completion time", x: qs, y: qs.map((q) => d.jct_s[q] / D), text: qs.map((q) => dur(d.jct_s[q])), textposition: "outside" },
    { type: "bar", name: "queueing time", x: qs, y: qs.map((q) => d.queueing_s[q] / D), text: qs.map((q) => dur(d.queueing_s[q])), textposition: "outside" },
  ], {
    title: { text: `Job completion and queueing times (${d.policy})` }, barmode: "group",
    xaxis: { title: { text: "percentile over jobs" } }, yaxis: { title: { text: "days" } }, height: 360,
  });
  document.getElementById("chart-latency").replaceChildren();
  document.getElementById("row-latency-time").classList.add("hidden");
  document.getElementById("tables").replaceChildren(
    el("h2", {}, "By instance type"),
    table([
      { label: "Type", key: "instance" }, { label: "Instances", num: true, key: "instances" }, { label: "Chips", num: true, key: "chips" },
      { label: "Utilisation", num: true, cell: (t) => pct(t.utilization) }, { label: "Runs started", num: true, key: "runs_started" },
      { label: "Cost (USD)", num: true, key: "cost_usd" }, { label: "Energy (kWh)", num: true, key: "energy_kwh" },
    ], d.types),
    el("p", { class: "lead" }, d.cost_note ?? ""),
  );
}

for (const b of document.querySelectorAll("#tabs button")) {
  b.addEventListener("click", () => {
    document.querySelectorAll("#tabs button").forEach((x) => x.classList.toggle("active", x === b));
    for (const t of ["serve", "train"]) document.getElementById(`tab-${t}`).classList.toggle("hidden", t !== b.dataset.tab);
    document.getElementById("result").classList.add("hidden");
  });
}
const progress = () => progressBox(document.getElementById("progress"));
onSubmit(document.getElementById("serve-form"), async (body) => renderServe(await runCommand("simulate", "serve", body, progress()), body));
onSubmit(document.getElementById("train-form"), async (body) => renderTrain(await runCommand("simulate", "train", body, progress())));
document.body.dataset.ready = "1";

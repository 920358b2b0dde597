// Estimate: the serve and train forms, results as tables and a breakdown chart.
import { runCommand, onSubmit, table, fmt, dur, pct, plot, el } from "/static/common.js";

function kpis(items) {
  return el("div", { class: "kpis" }, items.map(([k, v]) => el("div", { class: "kpi" }, el("div", { class: "v" }, v), el("div", { class: "k" }, k))));
}

const kv = (rows) => table([{ label: "Quantity", key: "k" }, { label: "Value", key: "v", num: true, fmt: (v) => v }], rows.map(([k, v]) => ({ k, v })));
const range = (r, f) => (Array.isArray(r) ? `${f(r[0])} – ${f(r[1])}` : "–");
const GB = 1e9;

function renderServe(d) {
  const r = d.result;
  const box = document.getElementById("serve-result");
  const chartId = "serve-breakdown";
  const memId = "serve-memory";
  box.replaceChildren(
    kpis([
      ["time to first token", dur(r.ttft_s)],
      ["time per output token", dur(r.tpot_s)],
      ["output tokens/s per instance", fmt(r.output_tokens_per_s)],
      ["USD per million tokens", fmt(d.cost_usd_per_million_tokens)],
      ["J per token", fmt(d.energy_j_per_token)],
      ["g CO₂e per million tokens", fmt(d.co2_g_per_million_tokens)],
    ]),
    el("div", { class: "row" },
      el("div", {},
        el("h2", {}, `${d.model} on ${d.instance} (${d.chip})`),
        kv([
          ["replicas per instance × chips per replica", `${r.replicas_per_instance} × ${r.chips_per_replica} (tp=${r.tp})`],
          ["batch (sequences) / largest that fits", `${r.batch} / ${r.max_batch}`],
          ["TTFT range", range(d.ranges?.ttft_s, dur)],
          ["TPOT range", range(d.ranges?.tpot_s, dur)],
          ["output tokens/s range", range(d.ranges?.output_tokens_per_s, fmt)],
          ["USD per million tokens range", range(d.ranges?.cost_usd_per_million_tokens, fmt)],
          ["prefill bound by / decode bound by", `${r.prefill.bound} / ${r.decode.bound}`],
          ["busy fraction", pct(r.busy_fraction)],
          ["price", `${fmt(d.footprint.price.value)} USD/h (${d.footprint.price.pricing}, ${d.footprint.price.region}; ${d.footprint.price.source}, ${d.footprint.price.as_of})`],
          ["validated family", d.validated ? "yes" : "no"],
        ])),
      el("div", {}, el("div", { id: chartId, class: "chart" }), el("div", { id: memId, class: "chart", style: "min-height:220px" }))),
    el("h2", {}, "Assumptions"), el("ul", {}, (d.assumptions ?? []).map((a) => el("li", {}, a))),
  );
  const parts = ["compute_s", "memory_s", "comm_s", "overhead_s"];
  plot(chartId, parts.map((p) => ({
    type: "bar", name: p.replace("_s", ""), x: ["prefill (whole batch)", "decode step"],
    y: [r.prefill[p] * 1000, r.decode[p] * 1000], text: [r.prefill[p], r.decode[p]].map((s) => dur(s)), textposition: "outside",
  })), {
    title: { text: "Time per phase by component" },
    barmode: "group", yaxis: { title: { text: "time (ms, log scale)" }, type: "log" }, height: 380,
  });
  const m = r.memory;
  const memParts = [["weights", m.weights_bytes], ["KV cache", m.kv_cache_bytes], ["workspace", m.workspace_bytes]];
  plot(memId, memParts.map(([n, b]) => ({
    type: "bar", orientation: "h", name: n, y: ["per replica"], x: [b / GB], text: [`${fmt(b / GB)} GB`], textposition: "inside", insidetextanchor: "middle",
  })), {
    title: { text: `Memory per replica: ${fmt(m.total_bytes / GB)} of ${fmt(m.available_bytes / GB)} GB available` },
    barmode: "stack", xaxis: { title: { text: "GB" }, range: [0, m.available_bytes / GB] }, height: 220, margin: { l: 90, r: 20, t: 40, b: 50 },
  });
}

function renderTrain(d) {
  const s = d.step;
  const f = d.footprint;
  const box = document.getElementById("train-result");
  const p = s.parallelism;
  box.replaceChildren(
    kpis([
      ["wall-clock time", dur(f.time_s)],
      ["cost (USD)", fmt(f.cost_usd)],
      ["energy (kWh)", fmt(f.energy_kwh)],
      ["CO₂e (kg)", fmt(f.co2_kg)],
      ["MFU", pct(s.mfu)],
      ["tokens/s", fmt(s.tokens_per_s)],
    ]),
    el("div", { class: "row" },
      el("div", {},
        el("h2", {}, `${d.model} on ${d.instances} × ${d.instance} (${d.chip})`),
        kv([
          ["parallelism", `tp=${p.tp} pp=${p.pp} dp=${p.dp} cp=${p.cp} ep=${p.ep} zero=${p.zero} micro-batch=${p.micro_batch} recompute=${p.recompute}${d.parallelism_chosen ? " (chosen)" : ""}`],
          ["chips", String(p.chips)],
          ["step time", dur(s.step_time_s)],
          ["bound by", s.bound.replace("_s", "")],
          ["micro-batches per step", String(s.micro_batches)],
          ["memory per chip", `${fmt(s.memory.total_bytes / GB)} of ${fmt(s.memory.available_bytes / GB)} GB`],
          ["time range", range(d.band, (x) => dur(x))],
          ["price", `${fmt(f.price.value)} USD/h per instance (${f.price.pricing}, ${f.price.region}; ${f.price.source}, ${f.price.as_of})`],
          ["average power", `${fmt(f.avg_power_w / 1000)} kW`],
        ])),
      el("div", { id: "train-breakdown", class: "chart" })),
  );
  const entries = Object.entries(s.breakdown).filter(([, v]) => v > 0);
  plot("train-breakdown", [{
    type: "bar", orientation: "h", y: entries.map(([k]) => k.replace("_s", "")), x: entries.map(([, v]) => v),
    text: entries.map(([, v]) => `${dur(v)} (${pct(v / s.step_time_s)})`), textposition: "outside", cliponaxis: false,
  }], {
    title: { text: `One step (${dur(s.step_time_s)}) by component` },
    xaxis: { title: { text: "seconds per step" } }, yaxis: { automargin: true, autorange: "reversed" },
    margin: { l: 110, r: 120, t: 40, b: 50 }, height: 380, showlegend: false,
  });
}

for (const b of document.querySelectorAll("#tabs button")) {
  b.addEventListener("click", () => {
    document.querySelectorAll("#tabs button").forEach((x) => x.classList.toggle("active", x === b));
    for (const t of ["serve", "train"]) document.getElementById(`tab-${t}`).classList.toggle("hidden", t !== b.dataset.tab);
  });
}
onSubmit(document.getElementById("serve-form"), async (body) => renderServe(await runCommand("estimate", "serve", body)));
onSubmit(document.getElementById("train-form"), async (body) => renderTrain(await runCommand("estimate", "train", body)));
document.body.dataset.ready = "1";

// Charts shared by the plan serve and simulate pages: latency against the SLOs, utilisation and queues per window.
import { dur, plot } from "/static/common.js";

// The replay's latency as its percentiles (the JSON holds p50/p90/p99/max, not every request) against the SLO.
export function latencyChart(target, replay, slo, title) {
  const qs = ["p50", "p90", "p99", "max"];
  const traces = [];
  const metrics = [["ttft_s", "TTFT", slo?.ttft_p90_s], ["tpot_s", "TPOT", slo?.tpot_p90_s]];
  metrics.forEach(([key, name, target_s], i) => {
    const s = replay[key];
    if (!s) return;
    traces.push({
      type: "bar", name: `${name} (ms)`, x: qs, y: qs.map((q) => s[q] * 1000), xaxis: `x${i + 1}`, yaxis: `y${i + 1}`,
      text: qs.map((q) => dur(s[q])), textposition: "outside", cliponaxis: false, marker: { color: i ? "#ef6c00" : "#1f6feb" },
    });
    if (target_s) {
      traces.push({
        type: "scatter", mode: "lines+text", name: `${name} p90 SLO`, x: ["p50", "max"], y: [target_s * 1000, target_s * 1000],
        xaxis: `x${i + 1}`, yaxis: `y${i + 1}`, line: { dash: "dash", color: "#c62828" }, text: [`SLO ${dur(target_s)}`, ""],
        textposition: "top right",
      });
    }
  });
  return plot(target, traces, {
    title: { text: title },
    grid: { rows: 1, columns: 2, pattern: "independent" },
    xaxis: { title: { text: "TTFT percentile" } }, yaxis: { title: { text: "time to first token (ms)" }, rangemode: "tozero" },
    xaxis2: { title: { text: "TPOT percentile" } }, yaxis2: { title: { text: "time per output token (ms)" }, rangemode: "tozero" },
    height: 380, showlegend: false,
  });
}

export function utilisationChart(target, series, windowS, queue, title) {
  const traces = Object.entries(series ?? {}).map(([name, ys]) => ({
    type: "scatter", mode: "lines+markers", name: `${name} busy share (%)`, x: ys.map((_, i) => (i * windowS) / 60), y: ys.map((v) => v * 100),
  }));
  if (queue?.length) {
    traces.push({
      type: "bar", name: "waiting requests (most per window)", x: queue.map((_, i) => (i * windowS) / 60), y: queue, yaxis: "y2",
      opacity: 0.35, marker: { color: "#607d8b" },
    });
  }
  return plot(target, traces, {
    title: { text: title },
    xaxis: { title: { text: `time (min; windows of ${dur(windowS)})` } },
    yaxis: { title: { text: "busy share of the replicas (%)" }, range: [0, 105] },
    // whole requests: ticks at whole numbers, not at the busy-share axis's fractions of the most
    yaxis2: { title: { text: "waiting requests" }, overlaying: "y", side: "right", rangemode: "tozero", tickmode: "linear",
      tick0: 0, dtick: Math.max(1, Math.ceil(Math.max(0, ...(queue ?? [])) / 5)), showgrid: false },
    height: 380, margin: { l: 70, r: 70, t: 40, b: 60 },
  });
}

// Catalog explorer: chips, instances and prices by region, each figure with its source link and date.
import { runCommand, table, figure, sourceLink, fmt, plot, el } from "/static/common.js";

const state = { tab: "chips", chips: [], instances: [], prices: [] };

const bf16 = (c) => c.peak_dense?.bf16 ?? c.peak_dense?.fp16;
// Figures come in the unit their source used (TB/s, GB/s, GiB/s); the chart puts them on one scale.
const TO_GB = { "TB/s": 1000, "GB/s": 1, "GiB/s": 1.073741824, TB: 1000, GB: 1, GiB: 1.073741824, MiB: 1.073741824 / 1024 };
const gb = (fig) => fig.value * (TO_GB[fig.unit] ?? NaN);

function chipRows(filter) {
  return state.chips.filter((c) => matches(filter, c.name, c.display_name, c.vendor, c.family, c.kind));
}

function matches(filter, ...texts) {
  if (!filter) return true;
  const words = filter.toLowerCase().split(/\s+/).filter(Boolean);
  const hay = texts.join(" ").toLowerCase();
  return words.every((w) => hay.includes(w));
}

function render() {
  const filter = document.getElementById("filter").value.trim();
  let n = 0;
  if (state.tab === "chips") {
    const rows = chipRows(filter);
    n = rows.length;
    document.getElementById("chips-table").replaceChildren(table([
      { label: "Chip", cell: (c) => el("span", {}, el("b", {}, c.name), el("span", { class: "src" }, c.display_name)) },
      { label: "Vendor", key: "vendor" },
      { label: "Family", key: "family" },
      { label: "Year", cell: (c) => String(c.launch_year ?? "–") },
      { label: "BF16 dense peak", num: true, cell: (c) => figure(bf16(c)) },
      { label: "Memory", num: true, cell: (c) => figure(c.memory) },
      { label: "Memory bandwidth", num: true, cell: (c) => figure(c.memory_bandwidth) },
      { label: "TDP", num: true, cell: (c) => figure(c.tdp) },
    ], rows));
    const withPeak = rows.filter((c) => bf16(c) && c.memory_bandwidth && bf16(c).unit === "TFLOPS");
    plot("chips-chart", [{
      type: "scatter", mode: "markers+text",
      x: withPeak.map((c) => gb(c.memory_bandwidth)), y: withPeak.map((c) => bf16(c).value),
      text: withPeak.map((c) => c.name), textposition: "top center", textfont: { size: 11 },
      marker: { size: 9, color: withPeak.map((c) => vendorColour(c.vendor)) },
      hovertemplate: "%{text}<br>%{x} GB/s, %{y} TFLOPS<extra></extra>",
    }], {
      title: { text: "Chips: BF16 dense peak against memory bandwidth" },
      xaxis: { title: { text: "Memory bandwidth (GB/s, log scale)" }, type: "log" },
      yaxis: { title: { text: "BF16 dense peak (TFLOPS, log scale)" }, type: "log" },
      showlegend: false, height: 380,
    });
  } else if (state.tab === "instances") {
    const rows = state.instances.filter((i) => matches(filter, i.name, i.cloud, i.chip));
    n = rows.length;
    document.getElementById("instances-table").replaceChildren(table([
      { label: "Instance", cell: (i) => el("b", {}, i.name) },
      { label: "Cloud", key: "cloud" },
      { label: "Chip", key: "chip" },
      { label: "Chips", key: "chips", num: true },
      { label: "vCPUs", key: "vcpus", num: true },
      { label: "Host memory", num: true, cell: (i) => figure(i.host_memory) },
      { label: "Network", num: true, cell: (i) => figure(i.network) },
      { label: "Cheapest on-demand", num: true, cell: (i) => {
        const p = cheapest(i);
        return p ? el("span", {}, `${fmt(p.value)} USD/h in ${p.region}`, sourceLink(p)) : "no price";
      } },
      { label: "Regions priced", num: true, cell: (i) => String(new Set(i.prices.map((p) => p.region)).size) },
    ], rows));
  } else {
    const rows = state.prices.filter((p) => matches(filter, p.instance, p.region, p.pricing, p.cloud, p.chip));
    n = rows.length;
    document.getElementById("prices-table").replaceChildren(table([
      { label: "Instance", key: "instance" },
      { label: "Chip", key: "chip" },
      { label: "Region", key: "region" },
      { label: "Pricing", cell: (p) => `${p.pricing}${p.term ? ` (${p.term})` : ""}` },
      { label: "USD/h", num: true, cell: (p) => figure(p, 1, "USD/h") },
      { label: "USD per chip-hour", num: true, cell: (p) => fmt(p.value / p.chips) },
    ], rows));
    // One bar per instance and region (on-demand): the price per chip-hour, labelled, for the filtered rows.
    const od = rows.filter((p) => p.pricing === "on-demand").sort((a, b) => a.value / a.chips - b.value / b.chips).slice(0, 40);
    plot("prices-chart", [{
      type: "bar", orientation: "h",
      y: od.map((p) => `${p.instance} · ${p.region}`), x: od.map((p) => p.value / p.chips),
      text: od.map((p) => `${fmt(p.value / p.chips)} $ (${p.as_of})`), textposition: "outside", cliponaxis: false,
      marker: { color: od.map((p) => vendorColour(p.cloud)) },
    }], {
      title: { text: `On-demand price per chip-hour by instance and region (${od.length} cheapest shown; filter to narrow)` },
      xaxis: { title: { text: "USD per chip-hour" } }, yaxis: { automargin: true, autorange: "reversed" },
      margin: { l: 220, r: 90, t: 40, b: 50 }, height: Math.max(360, 22 * od.length + 100), showlegend: false,
    });
  }
  document.getElementById("count").textContent = `${n} rows`;
}

function cheapest(i) {
  const od = i.prices.filter((p) => p.pricing === "on-demand");
  return od.length ? od.reduce((a, b) => (b.value < a.value ? b : a)) : null;
}

const COLOURS = { aws: "#ff9900", nvidia: "#76b900", google: "#4285f4", gcp: "#4285f4", azure: "#0078d4", amd: "#ed1c24", microsoft: "#0078d4", intel: "#0071c5" };
const vendorColour = (v) => COLOURS[v] ?? "#607d8b";

for (const b of document.querySelectorAll("#tabs button")) {
  b.addEventListener("click", () => {
    state.tab = b.dataset.tab;
    document.querySelectorAll("#tabs button").forEach((x) => x.classList.toggle("active", x === b));
    for (const t of ["chips", "instances", "prices"]) document.getElementById(`tab-${t}`).classList.toggle("hidden", t !== state.tab);
    render();
  });
}
document.getElementById("filter").addEventListener("input", render);

const [chips, instances] = await Promise.all([runCommand("catalog", "chips", {}), runCommand("catalog", "instances", {})]);
state.chips = chips;
state.instances = instances;
state.prices = instances.flatMap((i) => i.prices.map((p) => ({ ...p, instance: i.name, chip: i.chip, chips: i.chips, cloud: i.cloud })));
render();
document.body.dataset.ready = "1";

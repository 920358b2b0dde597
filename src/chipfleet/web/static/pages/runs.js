// Run history: the saved runs, filtered; open one; tick two and compare them side by side (the diff endpoint).
import { api, onSubmit, table, fmt, dur, pct, plot, el } from "/static/common.js";

const ticked = new Set();
let shown = [];
const when = (t) => (t ? new Date(t).toLocaleString("en-GB", { dateStyle: "short", timeStyle: "medium" }) : "–");
const short = (id) => (id ? id.slice(0, 8) : "–");
const value = (v) => (v === null || v === undefined ? "–" : typeof v === "object" ? JSON.stringify(v) : typeof v === "number" ? fmt(v) : String(v));

async function load(filters = {}) {
  const q = new URLSearchParams({ limit: "200" });
  if (filters.kind) q.set("kind", filters.kind);
  if (filters.status) q.set("status", filters.status);
  const { data } = await api(`/api/runs?${q}`);
  const text = (filters.text ?? "").toLowerCase();
  shown = data.filter((r) => !text || JSON.stringify(r).toLowerCase().includes(text));
  for (const id of [...ticked]) if (!shown.some((r) => r.id === id)) ticked.delete(id);
  const box = document.getElementById("runs");
  box.replaceChildren(shown.length ? table([
    { label: "Compare", cell: (r) => {
      const cb = el("input", { type: "checkbox", "data-run": r.id, "aria-label": `compare run ${short(r.id)}` });
      cb.checked = ticked.has(r.id);
      cb.addEventListener("click", (ev) => { ev.stopPropagation(); toggle(r.id, cb.checked); });
      return cb;
    } },
    { label: "Run", cell: (r) => el("code", {}, short(r.id)) },
    { label: "Command", key: "kind" },
    { label: "Status", cell: (r) => el("span", { class: `status-${r.status}` }, r.status === "running" ? `running ${pct(r.progress)}` : r.status) },
    { label: "Started", cell: (r) => when(r.created_at) },
    { label: "Took", num: true, cell: (r) => (r.wall_s ? dur(r.wall_s) : r.finished_at ? dur((new Date(r.finished_at) - new Date(r.created_at)) / 1000) : "–") },
    { label: "From", key: "source" },
    { label: "Catalog", cell: (r) => el("code", {}, r.catalog_hash.slice(0, 8)) },
    { label: "Error", cell: (r) => r.error ?? "" },
  ], shown, { onRowClick: (r) => open(r.id), rowClass: (r) => (ticked.has(r.id) ? "selected" : "") }) : el("p", { class: "lead" }, "No saved runs match."));
  updateCompare();
}

function toggle(id, on) {
  if (on) ticked.add(id); else ticked.delete(id);
  document.querySelectorAll("#runs tbody tr").forEach((tr, i) => tr.classList.toggle("selected", ticked.has(shown[i]?.id)));
  updateCompare();
}

function updateCompare() {
  const b = document.getElementById("compare");
  b.disabled = ticked.size !== 2;
  b.textContent = ticked.size === 2 ? "Compare the two ticked" : `Compare (tick two runs; ${ticked.size} ticked)`;
}

const kv = (obj) => table([{ label: "Option", key: "k" }, { label: "Value", key: "v", fmt: (v) => v }],
  Object.entries(obj ?? {}).map(([k, v]) => ({ k, v: value(v) })));

async function open(id) {
  const { data: r } = await api(`/api/runs/${encodeURIComponent(id)}`);
  document.getElementById("detail").replaceChildren(
    el("h2", {}, `Run ${short(r.id)}: ${r.kind} (${r.status})`),
    el("div", { class: "row" },
      el("div", {}, el("h2", {}, "Inputs"), kv(r.inputs)),
      el("div", {}, el("h2", {}, "Provenance"), kv({
        id: r.id, started: when(r.created_at), finished: when(r.finished_at), chipfleet: r.version, source: r.source,
        owner: r.owner, "catalog hash": r.catalog_hash, overlays: r.overlays.length, ...Object.fromEntries(Object.entries(r.timings ?? {}).map(([k, v]) => [k, dur(v)])),
        ...(r.error ? { error: r.error } : {}),
      }))),
    el("h2", {}, "Outputs (the CLI's JSON)"),
    el("pre", { class: "json" }, JSON.stringify(r.outputs, null, 1)?.slice(0, 20000) ?? "none"),
  );
  document.getElementById("detail").scrollIntoView({ behavior: "instant", block: "start" });
}

function percentRange(percents) {
  const lo = Math.min(0, ...percents) * 1.1;
  const hi = Math.max(0, ...percents);
  return [lo, hi + (hi - lo) * 1.1 + 5];
}

async function compare() {
  const [a, b] = shown.filter((r) => ticked.has(r.id)).reverse().map((r) => r.id);  // older first
  const [{ data: ra }, { data: rb }, { data: d }] = await Promise.all([
    api(`/api/runs/${a}`), api(`/api/runs/${b}`), api(`/api/runs/${a}/diff/${b}`),
  ]);
  const keys = [...new Set([...Object.keys(ra.inputs), ...Object.keys(rb.inputs)])];
  const changed = new Set(d.inputs.map((c) => c.path.replace(/^\$?\.?/, "").split(/[.[]/)[0]));
  const moves = d.moves ?? [];
  const headline = moves.filter((m) => m.headline && m.percent !== null).slice(0, 12);
  document.getElementById("detail").replaceChildren(
    el("h2", {}, `Run ${short(b)} against the older run ${short(a)}`),
    el("p", { class: "lead" }, [
      d.kind[0] !== d.kind[1] ? `Different commands: ${d.kind[0]} / ${d.kind[1]}. ` : "",
      d.catalog_hash ? `Catalog changed (${d.catalog_hash[0].slice(0, 8)} → ${d.catalog_hash[1].slice(0, 8)}). ` : "Same catalog. ",
      d.version ? `chipfleet ${d.version[0]} → ${d.version[1]}. ` : "",
      `${d.inputs.length} input(s) changed, ${moves.length} number(s) in the answer moved.`,
    ].join("")),
    el("div", { class: "row" },
      el("div", {}, el("h2", {}, "Inputs side by side"), table([
        { label: "Option", cell: (k) => (changed.has(k) ? el("b", {}, k) : k) },
        { label: `run ${short(a)}`, cell: (k) => value(ra.inputs[k]) },
        { label: `run ${short(b)}`, cell: (k) => value(rb.inputs[k]) },
      ], keys, { rowClass: (k) => (changed.has(k) ? "selected" : "") })),
      el("div", { id: "diff-chart", class: "chart" })),
    el("h2", {}, "How the answer moved (headline figures first)"),
    el("div", { class: "scroll" }, table([
      { label: "Output", cell: (m) => (m.headline ? el("b", {}, m.path) : m.path) },
      { label: `run ${short(a)}`, num: true, key: "old" },
      { label: `run ${short(b)}`, num: true, key: "new" },
      { label: "Change", num: true, key: "delta" },
      { label: "%", num: true, cell: (m) => (m.percent === null ? "–" : `${m.percent > 0 ? "+" : ""}${m.percent.toFixed(1)} %`) },
    ], moves.slice(0, 200))),
    ...(d.output_changes?.length ? [el("h2", {}, "Other outputs that differ"), table([
      { label: "Output", key: "path" }, { label: `run ${short(a)}`, cell: (c) => value(c.old) }, { label: `run ${short(b)}`, cell: (c) => value(c.new) },
    ], d.output_changes.slice(0, 100))] : []),
  );
  if (headline.length) {
    plot("diff-chart", [{
      type: "bar", orientation: "h", y: headline.map((m) => m.path), x: headline.map((m) => m.percent),
      hoverinfo: "none",
      // a move is neither good nor bad in itself (more tokens/s, more cost): one colour per direction
      marker: { color: headline.map((m) => (m.percent > 0 ? "#1f6feb" : "#ef6c00")) },
    }], {
      // each label right of the bar or of the zero line, in full size whatever the bar's direction
      annotations: headline.map((m) => ({
        x: Math.max(m.percent, 0), y: m.path, xanchor: "left", xshift: 4, showarrow: false,
        text: `${m.percent > 0 ? "+" : ""}${m.percent.toFixed(1)} % (${fmt(m.old)} → ${fmt(m.new)})`,
      })),
      title: { text: `Headline figures: run ${short(b)} against run ${short(a)}` },
      // room right of the longest bar for its label: the labels are annotations, which Plotly does not range for
      xaxis: { title: { text: "change (%)" }, zeroline: true, range: percentRange(headline.map((m) => m.percent)) }, yaxis: { automargin: true, autorange: "reversed" },
      margin: { l: 200, r: 160, t: 40, b: 50 }, height: Math.max(260, 34 * headline.length + 110), showlegend: false,
    });
  } else {
    document.getElementById("diff-chart").replaceChildren(el("p", { class: "lead" }, moves.length ? "No headline figure moved." : "The two answers are the same."));
  }
  document.getElementById("detail").scrollIntoView({ behavior: "instant", block: "start" });
  document.body.dataset.compared = "1";
}

const form = document.getElementById("filter-form");
onSubmit(form, (body) => load(body));
document.getElementById("compare").addEventListener("click", () => compare().catch((e) => {
  document.getElementById("detail").replaceChildren(el("p", { class: "form-error" }, e.message));
}));
await load();
document.body.dataset.ready = "1";

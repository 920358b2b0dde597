// Shared by every page: the API call (bearer token on 401), forms to request bodies, errors next to their field,
// background jobs (progress over server-sent events, cancel), tables, number formats and Plotly defaults.

const TOKEN_KEY = "chipfleet-token";
let askedForToken = false;

export class ApiError extends Error {
  constructor(status, message, field) {
    super(message);
    this.status = status;
    this.field = field;
  }
}

function authHeaders() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { Authorization: `Bearer ${token}` } : {};
}

// The API's message and the field it names, whatever form the error body has (ours or FastAPI's validation list).
function errorOf(status, body) {
  if (body && typeof body === "object") {
    // The API's own errors: {"error": type, "message": what and how to fix, "field": option name or null}.
    // A library error with no field may still say which kind of name was unknown ("model", "instance").
    if (typeof body.message === "string") return new ApiError(status, body.message, body.field ?? body.kind ?? undefined);
    const d = body.detail ?? body.error;
    if (Array.isArray(d) && d.length) {
      const first = d[0];
      const loc = Array.isArray(first.loc) ? first.loc.filter((x) => x !== "body") : [];
      const field = body.field ?? (loc.length ? String(loc[loc.length - 1]) : undefined);
      return new ApiError(status, d.map((e) => e.msg ?? String(e)).join("; "), field);
    }
    if (d && typeof d === "object") return new ApiError(status, d.message ?? d.error ?? JSON.stringify(d), d.field ?? body.field);
    if (d !== undefined) return new ApiError(status, String(d), body.field);
  }
  return new ApiError(status, typeof body === "string" && body ? body : `HTTP ${status}`, undefined);
}

// fetch with the token; a 401 asks for the token once per page (kept in sessionStorage) and retries.
export async function api(path, { method = "GET", body, signal } = {}) {
  const init = { method, signal, headers: { Accept: "application/json", ...authHeaders() } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let resp = await fetch(path, init);
  if (resp.status === 401 && !askedForToken) {
    askedForToken = true;
    const token = window.prompt("This chipfleet server needs its access token (CHIPFLEET_TOKEN):");
    if (token) {
      sessionStorage.setItem(TOKEN_KEY, token.trim());
      init.headers = { ...init.headers, ...authHeaders() };
      resp = await fetch(path, init);
      // a wrong token is not kept: the next page load asks again
      if (resp.status === 401) sessionStorage.removeItem(TOKEN_KEY);
    }
  }
  const text = await resp.text();
  let data = text;
  try { data = text ? JSON.parse(text) : null; } catch { /* plain text answer */ }
  if (!resp.ok) throw errorOf(resp.status, data);
  return { status: resp.status, data };
}

// Form -> request body: the CLI's option names in snake_case; empty fields are left to the CLI's defaults.
export function formBody(form) {
  const body = {};
  for (const el of form.elements) {
    if (!el.name || el.disabled) continue;
    if (el.type === "checkbox") { body[el.name] = el.checked; continue; }
    const v = el.value.trim();
    if (v === "") continue;
    body[el.name] = el.type === "number" ? Number(v) : v;
  }
  return body;
}

export function clearErrors(form) {
  form.querySelectorAll(".field-error").forEach((e) => e.remove());
  form.querySelectorAll(".invalid").forEach((e) => e.classList.remove("invalid"));
  const fe = form.querySelector(".form-error");
  if (fe) fe.textContent = "";
}

// The API's message next to the field it names, or under the form when it names none of this form's fields.
export function showError(form, err) {
  clearErrors(form);
  const message = err instanceof ApiError ? err.message : String(err.message ?? err);
  const field = err instanceof ApiError && err.field ? form.querySelector(`[name="${CSS.escape(err.field)}"]`) : null;
  if (field) {
    field.classList.add("invalid");
    const span = document.createElement("span");
    span.className = "field-error";
    span.textContent = message;
    field.closest("label")?.appendChild(span) ?? field.after(span);
    return;
  }
  let fe = form.querySelector(".form-error");
  if (!fe) {
    fe = document.createElement("div");
    fe.className = "form-error";
    form.appendChild(fe);
  }
  fe.textContent = message;
}

// Server-sent events read with fetch (EventSource cannot send the bearer token): calls onEvent(json) per message.
async function readEvents(url, onEvent, signal) {
  const resp = await fetch(url, { headers: { Accept: "text/event-stream", ...authHeaders() }, signal });
  if (!resp.ok || !resp.body) throw errorOf(resp.status, await resp.text());
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const chunk = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const data = chunk.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join("\n");
      if (!data) continue;
      let ev;
      try { ev = JSON.parse(data); } catch { ev = { message: data }; }
      if (onEvent(ev) === false) { reader.cancel(); return; }
    }
  }
}

const FINAL = new Set(["done", "failed", "cancelled", "error"]);

// A command's answer: a short one directly (200), a long one as a background job (202) followed to its end.
export class Job {
  constructor(accepted) {
    this.id = accepted.run_id ?? accepted.id;
    this.statusUrl = accepted.status_url ?? `/api/jobs/${this.id}`;
    this.eventsUrl = accepted.events_url;
    this.cancelUrl = accepted.cancel_url ?? this.statusUrl;
    this.abort = new AbortController();
  }

  async follow(onProgress) {
    if (this.eventsUrl) {
      try {
        await readEvents(this.eventsUrl, (ev) => {
          const fraction = ev.progress ?? ev.fraction;
          onProgress(typeof fraction === "number" ? fraction : null, ev.message ?? ev.progress_message ?? "", ev.status);
          return !FINAL.has(ev.status);
        }, this.abort.signal);
      } catch (e) {
        if (e.name === "AbortError") throw e;
        // The stream broke off: the job's status is polled below instead.
      }
    }
    for (;;) {
      const { data } = await api(this.statusUrl, { signal: this.abort.signal });
      if (FINAL.has(data.status)) return data;
      onProgress(data.progress ?? null, data.progress_message ?? data.message ?? "", data.status);
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  async cancel() {
    return api(this.cancelUrl, { method: "DELETE" });
  }
}

// The result of a job record, whatever the key the server uses for it.
export function jobResult(job) {
  if (job.status !== "done") throw new ApiError(500, job.error ?? `the job ended ${job.status}`, job.field);
  return job.result ?? job.outputs ?? job.output;
}

// Run /api/{group}/{command} (/api/{command} for a top-level one: command null); for a background job, `progress` ({bar, text, cancel} elements) shows its course.
export async function runCommand(group, command, body, progress) {
  const url = `/api/${[group, command].filter(Boolean).join("/")}`;
  const { status, data } = await api(url, { method: "POST", body });
  if (status !== 202) return data;
  const job = new Job(data);
  if (!progress) return jobResult(await job.follow(() => {}));
  progress.box.classList.remove("hidden");
  progress.bar.removeAttribute("value");
  progress.text.classList.remove("status-done", "status-failed", "status-cancelled");
  progress.text.textContent = "queued";
  progress.cancel.disabled = false;
  progress.cancel.onclick = async () => {
    progress.cancel.disabled = true;
    progress.text.textContent = "cancelling…";
    try { await job.cancel(); } catch (e) { progress.text.textContent = `cancel failed: ${e.message}`; }
  };
  try {
    const final = await job.follow((fraction, message, st) => {
      if (typeof fraction === "number") progress.bar.value = fraction;
      progress.text.textContent = `${st ?? "running"}${typeof fraction === "number" ? ` · ${Math.round(fraction * 100)} %` : ""}${message ? ` · ${message}` : ""}`;
    });
    progress.text.textContent = final.status === "done" ? `done · run ${job.id}` : `${final.status}${final.error ? `: ${final.error}` : ""}`;
    progress.text.classList.add(`status-${final.status}`);
    if (final.status === "done") progress.bar.value = 1;
    return jobResult(final);
  } finally {
    progress.cancel.disabled = true;
  }
}

export function progressBox(root) {
  return {
    box: root,
    bar: root.querySelector("progress"),
    text: root.querySelector(".progress-text"),
    cancel: root.querySelector("button.cancel"),
  };
}

// Numbers for people: 3 significant figures, thousands grouped, small values in scientific notation.
export function fmt(v, digits = 3) {
  if (v === null || v === undefined || v === "") return "–";
  if (typeof v === "boolean") return v ? "yes" : "no";
  if (typeof v !== "number") return String(v);
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e12)) return v.toExponential(digits - 1);
  if (a >= 1000) return Math.round(v).toLocaleString("en-US");
  return Number(v.toPrecision(digits)).toString();
}

export const pct = (v) => (v === null || v === undefined ? "–" : `${(v * 100).toFixed(1)} %`);

// Durations in seconds to a readable unit.
export function dur(s) {
  if (s === null || s === undefined) return "–";
  if (s < 1) return `${fmt(s * 1000)} ms`;
  if (s < 120) return `${fmt(s)} s`;
  if (s < 7200) return `${fmt(s / 60)} min`;
  if (s < 172800) return `${fmt(s / 3600)} h`;
  return `${fmt(s / 86400)} d`;
}

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children.flat()) e.append(c instanceof Node ? c : document.createTextNode(c ?? ""));
  return e;
}

// columns: [{key, label, fmt?, num?, cell? (row) -> Node|string}]
export function table(columns, rows, { onRowClick, rowClass } = {}) {
  const head = el("tr", {}, columns.map((c) => el("th", {}, c.label)));
  const body = rows.map((r, i) => {
    const tr = el("tr", {}, columns.map((c) => {
      const raw = c.cell ? c.cell(r) : c.fmt ? c.fmt(r[c.key], r) : fmt(r[c.key]);
      return el("td", c.num ? { class: "num" } : {}, raw);
    }));
    if (rowClass) tr.className = rowClass(r, i) ?? "";
    if (onRowClick) {
      tr.classList.add("clickable");
      tr.addEventListener("click", () => onRowClick(r, i, tr));
    }
    return tr;
  });
  return el("table", { class: "data" }, el("thead", {}, head), el("tbody", {}, body));
}

// A catalog figure's source as a link: "owner/repo@commit:path" points at the file on GitHub, URLs as they are.
export function sourceLink(fig) {
  if (!fig || typeof fig !== "object") return "";
  const ref = fig.source_ref || "";
  let href = null;
  if (/^https?:\/\//.test(ref)) href = ref;
  else {
    const m = ref.match(/^([\w.-]+\/[\w.-]+)@([\w.-]+):(.+)$/);
    if (m) href = `https://github.com/${m[1]}/blob/${m[2]}/${m[3]}`;
  }
  const label = `${fig.source ?? "source"}${fig.as_of ? `, ${fig.as_of}` : ""}`;
  return el("span", { class: "src" }, href ? el("a", { href, target: "_blank", rel: "noopener" }, label) : label);
}

// A figure (value + unit) with its source and date under it, readable without hovering.
export function figure(fig, scale = 1, unit) {
  if (!fig || typeof fig !== "object") return "–";
  return el("span", {}, `${fmt(fig.value * scale)} ${unit ?? fig.unit ?? ""}`, sourceLink(fig));
}

const FONT = { family: "DejaVu Sans, sans-serif", size: 13 };

// Plotly with the pages' defaults: titled axes, no mode bar clutter, sized to its box.
export function plot(target, traces, layout = {}) {
  const node = typeof target === "string" ? document.getElementById(target) : target;
  const full = {
    font: FONT,
    margin: { l: 70, r: 20, t: 40, b: 60 },
    hovermode: "closest",
    // Legends above the plot area, under the title, where they cannot cover an axis title.
    legend: { orientation: "h", x: 0, y: 1.0, yanchor: "bottom" },
    ...layout,
  };
  if (full.showlegend !== false && traces.length > 1) full.margin = { ...full.margin, t: Math.max(full.margin.t ?? 40, 70) };
  return window.Plotly.newPlot(node, traces, full, { displaylogo: false, responsive: true });
}

export function setNav() {
  for (const a of document.querySelectorAll("header.nav a[href]")) {
    if (a.getAttribute("href") === location.pathname) a.classList.add("active");
  }
}

// Wire a form: submit -> clear errors, call, render or show the API's message next to the field.
export function onSubmit(form, handler) {
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    const button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    document.body.dataset.busy = "1";
    try {
      await handler(formBody(form));
    } catch (err) {
      showError(form, err);
    } finally {
      if (button) button.disabled = false;
      delete document.body.dataset.busy;
    }
  });
}

setNav();

/* BeiDou CORS operator console.
 * Reads the operator API with a bearer token kept in sessionStorage; refreshes every REFRESH_MS.
 * Map: Leaflet with a vendored Natural Earth country outline and a graticule (no tile server).
 * Plots: small SVG line charts drawn here (no chart library); monitoring points: E/N/U series with the same
 * line chart and a horizontal trajectory (equal-scale E/N) chart; operators acknowledge/close alarms. */
"use strict";

const REFRESH_MS = 1000 * Math.max(1, Number(new URLSearchParams(location.search).get("refresh")) || 5);  // ?refresh=s
const LOAD_HISTORY = 180;          // caster load points kept in the page (15 min at 5 s)
const TOKEN_KEY = "beidou.token";
const USER_KEY = "beidou.user";
const SYS_ORDER = ["C", "G", "E", "R", "J", "I", "S"];
const STATUS_COLOR = { online: "#2ecc71", degraded: "#f0b429", offline: "#ef5350", unknown: "#7b8794",
                       maintenance: "#a78bfa" };
const SERIES_COLORS = ["#3fa7ff", "#ff8a3d", "#2ecc71", "#f0b429", "#da77f2", "#ef5350", "#69db7c"];
const SYS_COLOR = { C: "#ff6b6b", G: "#4dabf7", E: "#ffd43b", R: "#69db7c", J: "#da77f2", I: "#adb5bd", S: "#868e96" };

const state = {
  token: sessionStorage.getItem(TOKEN_KEY),
  user: JSON.parse(sessionStorage.getItem(USER_KEY) || "null"),
  selected: null, timer: null, fitted: false, load: [], map: null, layers: {},
};

const $ = (id) => document.getElementById(id);

function esc(v) {
  return String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}
function fmt(v, digits = 1) { return v === null || v === undefined || !isFinite(v) ? "—" : Number(v).toFixed(digits); }
function fmtBytes(n) {
  if (n === null || n === undefined || !isFinite(n)) return "—";
  const u = ["B", "kB", "MB", "GB", "TB"]; let i = 0;
  while (Math.abs(n) >= 1000 && i < u.length - 1) { n /= 1000; i++; }
  return `${n.toFixed(n < 10 && i ? 1 : 0)} ${u[i]}`;
}
function fmtAge(s) {
  if (s === null || s === undefined || !isFinite(s)) return "—";
  if (s < 90) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${(s / 3600).toFixed(1)} h`;
  return `${Math.round(s / 86400)} d`;
}
function utcDate(iso) {                      // API datetimes are UTC; naive ones get a "Z"
  if (!iso) return null;
  return new Date(/[zZ]|[+-]\d\d:\d\d$/.test(iso) ? iso : iso + "Z");
}
function hhmmss(d) { return d.toISOString().slice(11, 19); }
function cls(v, warn, bad, higherIsWorse = true) {
  if (v === null || v === undefined || !isFinite(v)) return "";
  if (higherIsWorse) return v >= bad ? "bad" : v >= warn ? "warn" : "";
  return v <= bad ? "bad" : v <= warn ? "warn" : "";
}

/* ------------------------------------------------------------------ API */
class AuthError extends Error {}

async function api(path) {
  const r = await fetch(path, { headers: { Authorization: `Bearer ${state.token}`, Accept: "application/json" } });
  if (r.status === 401) throw new AuthError("session expired");
  if (!r.ok) {
    let detail = r.statusText;
    try { detail = (await r.json()).detail || detail; } catch (_) { /* not JSON */ }
    throw new Error(`${path}: ${r.status} ${detail}`);
  }
  return r.json();
}

async function login(ev) {
  ev.preventDefault();
  $("login-error").textContent = "";
  $("login-btn").disabled = true;
  try {
    const r = await fetch("/api/auth/token", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: $("login-user").value, password: $("login-pass").value }) });
    const body = await r.json();
    if (!r.ok) { $("login-error").textContent = body.detail || "sign-in failed"; return; }
    state.token = body.access_token;
    state.user = { name: $("login-user").value, role: body.role };
    sessionStorage.setItem(TOKEN_KEY, state.token);
    sessionStorage.setItem(USER_KEY, JSON.stringify(state.user));
    $("login-pass").value = "";
    start();
  } catch (e) {
    $("login-error").textContent = `cannot reach the service (${e.message})`;
  } finally {
    $("login-btn").disabled = false;
  }
}

async function logout() {
  const token = state.token;
  signedOut();
  if (token) {
    try { await fetch("/api/auth/logout", { method: "POST", headers: { Authorization: `Bearer ${token}` } }); }
    catch (_) { /* the session is dropped locally anyway */ }
  }
}

function signedOut(message = "") {
  clearTimeout(state.timer);
  state.token = null; state.user = null;
  sessionStorage.removeItem(TOKEN_KEY); sessionStorage.removeItem(USER_KEY);
  $("app").hidden = true; $("login").hidden = false; $("logout-btn").hidden = true;
  $("user-info").textContent = ""; $("refresh-info").textContent = "not signed in";
  $("login-error").textContent = message;
  const alarmBody = $("alarms-table").tBodies[0];  // the next user may have another role: no stale buttons
  alarmBody.replaceChildren(); alarmBody._html = ""; $("alarm-msg").textContent = "";
  $("login-user").focus();
}

function start() {
  $("login").hidden = true; $("app").hidden = false; $("logout-btn").hidden = false;
  $("user-info").innerHTML = `<b>${esc(state.user?.name)}</b> · ${esc(state.user?.role)}`;
  if (state.map) setTimeout(() => state.map.invalidateSize(), 0); else initMap();
  refresh();
}

/* ------------------------------------------------------------------ refresh loop */
async function refresh() {
  clearTimeout(state.timer);
  try {
    const alarmQuery = $("a-filter").value === "active" ? "state=active&limit=200" : "limit=200";
    const [caster, stations, rovers, points, alarms] = await Promise.all([
      api("/api/caster"), api("/api/stations.geojson"), api("/api/rovers.geojson"),
      api("/api/monitoring/points?limit=500"), api(`/api/monitoring/alarms?${alarmQuery}`)]);
    renderCaster(caster, stations);
    renderStations(stations);
    renderMap(stations, rovers, points.items);
    renderRovers(caster);
    renderEvents(caster);
    renderMonitoring(points, alarms);
    if (!state.selected && stations.features.length) state.selected = stations.features[0].properties.code;
    await Promise.all([state.selected ? renderQuality(state.selected) : null,
                       state.mselected ? renderDisplacements(state.mselected) : null]);
    $("conn-banner").hidden = true;
    $("refresh-info").textContent = `updated ${hhmmss(new Date())} UTC`;
  } catch (e) {
    if (e instanceof AuthError) { signedOut("Your session has ended: please sign in again."); return; }
    $("conn-banner").hidden = false;
    $("conn-banner").textContent = `data not refreshed: ${e.message}`;
  }
  state.timer = setTimeout(refresh, REFRESH_MS);
}

/* ------------------------------------------------------------------ caster */
function renderCaster(c, stations) {
  const st = $("caster-status");
  st.className = `pill ${c.running ? "pill-running" : "pill-stopped"}`;
  st.textContent = c.running ? "Caster running" : "Caster not running";
  $("uptime").textContent = c.uptime_s ? `up ${fmtAge(c.uptime_s)}` : "";
  const online = stations.features.filter((f) => f.properties.status === "online").length;
  $("kpi-stations").innerHTML = `${online}<small> / ${stations.features.length}</small>`;
  $("kpi-rovers").textContent = c.rovers;
  const live = c.mounts.filter((m) => m.live).length;
  $("kpi-sources").innerHTML = `${c.sources}<small> · ${live} live mounts</small>`;
  $("kpi-in").textContent = c.bytes_in_per_s === null ? "—" : `${fmtBytes(c.bytes_in_per_s)}/s`;
  $("kpi-out").textContent = c.bytes_out_per_s === null ? "—" : `${fmtBytes(c.bytes_out_per_s)}/s`;
  $("kpi-bans").textContent = (c.abuse?.bans || []).length;

  const t = c.time_unix_s * 1000;
  state.load.push({ t, rovers: c.rovers, sources: c.sources, bin: c.bytes_in_per_s, bout: c.bytes_out_per_s });
  if (state.load.length > LOAD_HISTORY) state.load.shift();
  const pts = (k, scale = 1) => state.load.map((p) => [p.t, p[k] === null ? null : p[k] * scale]);
  lineChart($("load-rovers"), { title: "Connections", series: [
    { name: "rovers", points: pts("rovers"), color: "#ff8a3d" },
    { name: "sources", points: pts("sources"), color: "#2ecc71" }], yMin: 0, digits: 0 });
  lineChart($("load-bytes"), { title: "Throughput kB/s", series: [
    { name: "in", points: pts("bin", 1e-3), color: "#3fa7ff" },
    { name: "out", points: pts("bout", 1e-3), color: "#da77f2" }], yMin: 0, digits: 1,
    empty: c.running ? "measuring (needs two refreshes)" : "caster not running" });

  const body = $("mounts-table").tBodies[0];
  body.innerHTML = c.mounts.length ? c.mounts.map((m) => `<tr>
      <td class="code">${esc(m.name)}</td><td>${esc(m.kind)}</td>
      <td><span class="dot ${m.live ? "on" : "off"}"></span>${m.live ? esc(m.source_address || "live") : "no source"}</td>
      <td class="num">${m.clients ?? 0}</td><td class="num">${fmtBytes(m.bytes_in)}</td>
      <td class="num">${fmtBytes(m.bytes_out)}</td><td class="num">${fmtAge(m.last_frame_age_s)}</td></tr>`).join("")
    : `<tr><td colspan="7" class="empty">${c.running ? "no mountpoints" : "the caster is not running in this process"}</td></tr>`;
}

/* ------------------------------------------------------------------ station health */
function satChips(sats) {
  const keys = Object.keys(sats || {}).sort((a, b) => SYS_ORDER.indexOf(a) - SYS_ORDER.indexOf(b));
  if (!keys.length) return `<span class="muted">—</span>`;
  return `<span class="chips">${keys.map((k) => `<span class="chip chip-${esc(k)}"><b>${esc(k)}</b>${sats[k]}</span>`).join("")}</span>`;
}

function renderStations(fc) {
  const body = $("health-table").tBodies[0];
  if (!fc.features.length) {
    body.innerHTML = `<tr><td colspan="11" class="empty">no stations registered</td></tr>`;
    return;
  }
  const now = Date.now();
  syncRows(body, fc.features.map((f) => {
    const p = f.properties, q = p.quality;
    const last = q && utcDate(q.last_epoch_utc);
    const age = last ? (now - last.getTime()) / 1000 : null;
    const mount = p.mountpoint ? `<span class="dot ${p.mount_live ? "on" : p.mount_live === false ? "off" : ""}"></span>${esc(p.mountpoint)}`
      + (p.mount_clients ? `<span class="sub">${p.mount_clients} rovers</span>` : "") : `<span class="muted">—</span>`;
    const comp = q && q.completeness !== null ? q.completeness * 100 : null;
    return { key: p.code, selected: p.code === state.selected, cells: [
      [`<span class="code">${esc(p.code)}</span><span class="sub">${esc(p.name)}</span>`],
      [`<span class="pill pill-${esc(p.status)}">${esc(p.status)}</span>`],
      [mount],
      [q ? satChips(q.sats_per_system) : `<span class="muted">no live data</span>`],
      [fmt(q?.cn0_mean_dbhz), `num ${cls(q?.cn0_mean_dbhz, 38, 32, false)}`],
      [comp === null ? "—" : fmt(comp, 1) + " %", `num ${cls(comp, 95, 80, false)}`],
      [fmt(q?.latency_s, 2), `num ${cls(q?.latency_s, 2, 5)}`],
      [fmt(q?.slips_per_1000, 2), `num ${cls(q?.slips_per_1000, 5, 20)}`],
      [fmt(q?.mp1_m, 2), `num ${cls(q?.mp1_m, 0.5, 1.0)}`],
      [fmt(q?.mp2_m, 2), `num ${cls(q?.mp2_m, 0.5, 1.0)}`],
      [last ? `${hhmmss(last)} <span class="sub">${fmtAge(age)} ago</span>` : "—", `num ${cls(age, 10, 60)}`],
    ] };
  }));
}

/** Update a table body in place, row per key, touching only cells whose content changed (so rows
 *  stay put under the pointer while the page refreshes). rows: [{key, selected, cells: [[html, class]]}] */
function syncRows(body, rows) {
  const have = new Map([...body.rows].filter((r) => r.dataset.code).map((r) => [r.dataset.code, r]));
  [...body.rows].filter((r) => !r.dataset.code).forEach((r) => r.remove());
  rows.forEach((row, i) => {
    let tr = have.get(row.key);
    if (!tr) { tr = document.createElement("tr"); tr.dataset.code = row.key; }
    have.delete(row.key);
    if (body.rows[i] !== tr) body.insertBefore(tr, body.rows[i] || null);
    tr.classList.toggle("selected", !!row.selected);
    row.cells.forEach(([html, klass = ""], k) => {
      const td = tr.cells[k] || tr.appendChild(document.createElement("td"));
      if (td._html !== html) { td.innerHTML = html; td._html = html; }
      if (td.className !== klass.trim()) td.className = klass.trim();
    });
  });
  have.forEach((tr) => tr.remove());
}

/** Mark row `code` of table `tableId` selected and render its detail panel with `render(code)`. */
function selectRow(tableId, code, render) {
  for (const tr of $(tableId).tBodies[0].rows) tr.classList.toggle("selected", tr.dataset.code === code);
  render(code).catch((e) => {
    if (e instanceof AuthError) signedOut("Your session has ended: please sign in again.");
  });
}

function selectStation(code) {
  state.selected = code;
  selectRow("health-table", code, renderQuality);
}

/* ------------------------------------------------------------------ quality history */
async function renderQuality(code) {
  const span = Number($("q-range").value);
  const since = new Date(Date.now() - span * 1000).toISOString();
  const [q, ev] = await Promise.all([
    api(`/api/stations/${encodeURIComponent(code)}/quality?since=${encodeURIComponent(since)}&order=desc&limit=500`),
    api(`/api/stations/${encodeURIComponent(code)}/events?limit=20`)]);
  if (code !== state.selected) return;
  state.stationEvents = ev.items.map((e) => ({ time: utcDate(e.time).getTime() / 1000, kind: e.kind, station: code,
                                               severity: e.severity, message: e.message }));
  renderEvents();
  $("q-station").textContent = code;
  const rows = q.history.slice().reverse().map((h) => ({ ...h, t: utcDate(h.time).getTime() }));
  if (q.live && q.live.last_epoch_utc) {       // the live figures as the newest point
    const t = utcDate(q.live.last_epoch_utc).getTime();
    if (!rows.length || t > rows[rows.length - 1].t) rows.push({ ...q.live, t, sats_per_system: q.live.sats_per_system });
  }
  const ser = (k, scale = 1) => rows.map((r) => [r.t, r[k] === null || r[k] === undefined ? null : r[k] * scale]);
  const systems = [...new Set(rows.flatMap((r) => Object.keys(r.sats_per_system || {})))]
    .sort((a, b) => SYS_ORDER.indexOf(a) - SYS_ORDER.indexOf(b));
  const specs = [
    { title: "Satellites", digits: 0, yMin: 0, series: systems.map((s) => ({ name: s, color: SYS_COLOR[s] || "#adb5bd",
        points: rows.map((r) => [r.t, (r.sats_per_system || {})[s] ?? null]) })) },
    { title: "Mean C/N0 dB-Hz", digits: 1, series: [{ name: "C/N0", points: ser("cn0_mean_dbhz"), color: SERIES_COLORS[0] }] },
    { title: "Completeness %", digits: 1, yMax: 100, series: [{ name: "complete", points: ser("completeness", 100), color: SERIES_COLORS[2] }] },
    { title: "Latency s", digits: 2, yMin: 0, series: [{ name: "latency", points: ser("latency_s"), color: SERIES_COLORS[3] }] },
    { title: "Cycle slips per 1000 obs", digits: 2, yMin: 0, series: [{ name: "slips", points: ser("slips_per_1000"), color: SERIES_COLORS[5] }] },
    { title: "Code multipath RMS m", digits: 2, yMin: 0, series: [
      { name: "MP1", points: ser("mp1_m"), color: SERIES_COLORS[0] }, { name: "MP2", points: ser("mp2_m"), color: SERIES_COLORS[1] }] },
  ];
  const box = $("quality-plots");
  while (box.children.length < specs.length) { const d = document.createElement("div"); d.className = "chart"; box.appendChild(d); }
  specs.forEach((s, i) => lineChart(box.children[i], { ...s, xMin: Date.now() - span * 1000, xMax: Date.now() }));
}

/* ------------------------------------------------------------------ SVG line chart */
const SVGNS = "http://www.w3.org/2000/svg";
function el(name, attrs = {}, text) {
  const e = document.createElementNS(SVGNS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}
function niceTicks(lo, hi, n = 4) {
  if (!(hi > lo)) { const d = Math.abs(lo) * 0.1 || 1; lo -= d; hi += d; }
  const raw = (hi - lo) / n, mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const t0 = Math.ceil(lo / step) * step, out = [];
  for (let v = t0; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return { ticks: out, lo: Math.min(lo, t0), hi };
}
function timeTicks(lo, hi, n = 5) {
  const steps = [1, 5, 10, 30, 60, 300, 600, 1800, 3600, 7200, 21600, 43200, 86400].map((s) => s * 1000);
  const step = steps.find((s) => (hi - lo) / s <= n) || 86400000 * Math.ceil((hi - lo) / n / 86400000);
  const out = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi; t += step) out.push(t);
  return { ticks: out, step };
}

/** Draw a line chart into `box`: opts {title, series:[{name, color, points:[[t_ms, v|null]]}], yMin, yMax,
 *  xMin, xMax, digits}. Gaps (null values, or jumps longer than 5x the median spacing) break the line. */
function lineChart(box, opts) {
  const W = Math.max(box.clientWidth, 200), H = Math.max(box.clientHeight, 90);
  const m = { l: 44, r: 10, t: 20, b: 18 };
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": opts.title });
  svg.appendChild(el("text", { x: m.l, y: 13, class: "title" }, opts.title));
  const all = opts.series.flatMap((s) => s.points.filter((p) => p[1] !== null && isFinite(p[1])));
  box.replaceChildren(svg);
  box.dataset.points = String(all.length);
  if (!all.length) {
    svg.appendChild(el("text", { x: W / 2, y: H / 2 + 4, "text-anchor": "middle", class: "nodata" }, opts.empty || "no data in range"));
    return;
  }
  const ts = all.map((p) => p[0]), vs = all.map((p) => p[1]);
  let x0 = opts.xMin ?? Math.min(...ts), x1 = opts.xMax ?? Math.max(...ts);
  if (x1 - x0 < 1000) { x0 -= 30000; x1 += 30000; }
  let y0 = Math.min(...vs), y1 = Math.max(...vs);
  if (opts.yMin !== undefined) y0 = Math.min(y0, opts.yMin);
  if (opts.yMax !== undefined && y1 <= opts.yMax) y1 = Math.max(y1, Math.min(opts.yMax, y1 + (y1 - y0) * 0.1));
  const yt = niceTicks(y0, y1);
  y0 = yt.lo; y1 = Math.max(y1, yt.ticks[yt.ticks.length - 1] ?? y1);
  if (!(y1 > y0)) y1 = y0 + 1;
  const X = (t) => m.l + ((t - x0) / (x1 - x0)) * (W - m.l - m.r);
  const Y = (v) => H - m.b - ((v - y0) / (y1 - y0)) * (H - m.t - m.b);
  for (const v of yt.ticks) {
    if (v < y0 || v > y1) continue;
    svg.appendChild(el("line", { x1: m.l, x2: W - m.r, y1: Y(v), y2: Y(v), class: "gridline" }));
    svg.appendChild(el("text", { x: m.l - 5, y: Y(v) + 3, "text-anchor": "end", class: "axis" }, v.toFixed(opts.digits ?? 1)));
  }
  const tt = timeTicks(x0, x1);
  for (const t of tt.ticks) {
    const d = new Date(t);
    const label = tt.step >= 86400000 ? d.toISOString().slice(5, 10) : tt.step < 60000 ? hhmmss(d) : hhmmss(d).slice(0, 5);
    svg.appendChild(el("text", { x: X(t), y: H - 4, "text-anchor": "middle", class: "axis" }, label));
  }
  let lx = W - m.r;
  for (const s of opts.series.slice().reverse()) {  // legend, right-aligned in the title row
    const txt = el("text", { x: lx, y: 13, "text-anchor": "end", class: "legend-text" }, s.name);
    svg.appendChild(txt);
    const w = 6.5 * s.name.length + 4;
    svg.appendChild(el("rect", { x: lx - w - 10, y: 7, width: 8, height: 3, fill: s.color }));
    lx -= w + 18;
  }
  for (const s of opts.series) {
    const pts = s.points.filter((p) => p[0] >= x0 && p[0] <= x1);
    const gaps = pts.slice(1).map((p, i) => p[0] - pts[i][0]).sort((a, b) => a - b);
    const maxGap = gaps.length ? 5 * gaps[Math.floor(gaps.length / 2)] : Infinity;
    let d = "", prev = null;
    for (const p of pts) {
      if (p[1] === null || !isFinite(p[1])) { prev = null; continue; }
      d += `${prev === null || p[0] - prev > maxGap ? "M" : "L"}${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`;
      prev = p[0];
    }
    if (d) svg.appendChild(el("path", { d, class: "series", stroke: s.color }));
    const lone = pts.filter((p) => p[1] !== null && isFinite(p[1]));
    if (lone.length === 1) svg.appendChild(el("circle", { cx: X(lone[0][0]), cy: Y(lone[0][1]), r: 2.5, fill: s.color }));
  }
  // hover read-out: nearest sample time, values of every series there
  const hover = el("g", { visibility: "hidden" });
  const vline = el("line", { y1: m.t, y2: H - m.b, class: "hover-line" });
  const readout = el("text", { y: m.t + 10, class: "readout" });
  hover.append(vline, readout);
  svg.appendChild(hover);
  svg.addEventListener("mousemove", (ev) => {
    const r = svg.getBoundingClientRect();
    const t = x0 + ((ev.clientX - r.left) * (W / r.width) - m.l) / (W - m.l - m.r) * (x1 - x0);
    let best = null;
    for (const p of all) if (best === null || Math.abs(p[0] - t) < Math.abs(best - t)) best = p[0];
    const vals = opts.series.map((s) => { const p = s.points.find((q) => q[0] === best); return p && p[1] !== null ? `${s.name} ${p[1].toFixed(opts.digits ?? 1)}` : null; }).filter(Boolean);
    vline.setAttribute("x1", X(best)); vline.setAttribute("x2", X(best));
    readout.textContent = `${hhmmss(new Date(best))}  ${vals.join("  ")}`;
    const right = X(best) > W / 2;
    readout.setAttribute("x", right ? X(best) - 6 : X(best) + 6);
    readout.setAttribute("text-anchor", right ? "end" : "start");
    hover.setAttribute("visibility", "visible");
  });
  svg.addEventListener("mouseleave", () => hover.setAttribute("visibility", "hidden"));
}

/* ------------------------------------------------------------------ monitoring points and alarms */
const LEVEL_COLOR = { none: "#2ecc71", blue: "#3fa7ff", yellow: "#f0d429", orange: "#ff8a3d", red: "#ef5350" };
const canOperate = () => ["operator", "admin"].includes(state.user?.role);

async function apiPost(path) {
  const r = await fetch(path, { method: "POST", headers: { Authorization: `Bearer ${state.token}`, Accept: "application/json" } });
  if (r.status === 401) throw new AuthError("session expired");
  let body = null;
  try { body = await r.json(); } catch (_) { /* no JSON body */ }
  if (!r.ok) throw new Error(`${r.status} ${(body && body.detail) || r.statusText}`);
  return body;
}

function levelBadge(level) { return `<span class="lvl lvl-${esc(level)}">${esc(level)}</span>`; }
function utcStamp(iso) { const d = utcDate(iso); return d ? d.toISOString().slice(0, 19).replace("T", " ") : "—"; }

function renderMonitoring(points, alarms) {
  state.mpoints = points.items;
  if (state.mselected && !points.items.some((p) => p.code === state.mselected)) state.mselected = null;
  if (!state.mselected && points.items.length) state.mselected = points.items[0].code;
  const body = $("mpoints-table").tBodies[0];
  if (!points.items.length) {
    body.innerHTML = `<tr><td colspan="8" class="empty">no monitoring points registered</td></tr>`;
  } else {
    syncRows(body, points.items.map((p) => {
      const s = p.last_solution;
      const fixed = s && s.quality === 1;
      return { key: p.code, selected: p.code === state.mselected, cells: [
        [`<span class="code">${esc(p.code)}</span><span class="sub">${esc(p.name)}</span>`],
        [levelBadge(p.alarm_level) + (p.active_alarms ? ` <span class="sub">${p.active_alarms} open</span>` : "")
          + (p.zero_after_s && !p.zeroed_at ? ` <span class="sub" title="reference epoch being surveyed: displacement rules start after it">commissioning</span>` : "")],
        [referenceCell(p)],
        [fmt(s?.e_mm, 1), "num"], [fmt(s?.n_mm, 1), "num"], [fmt(s?.u_mm, 1), "num"],
        [s ? (fixed ? `<span class="good">fixed</span>` : `<span class="warn">not fixed</span>`) : "—"],
        [s ? utcStamp(s.time) : "no solution yet"],
      ] };
    }));
  }
  renderAlarms(alarms);
}

/** Reference stations of a point; with several, the ones left out of the last combination are struck
 *  through and the largest disagreement change (mm) is shown. */
function referenceCell(p) {
  const refs = p.reference_stations || [], s = p.last_solution;
  if (!refs.length) return `<span class="muted">nearest</span>`;
  const used = s?.references_used || [];
  if (refs.length < 2 || !used.length) return esc(refs.join(", "));
  return refs.map((c) => used.includes(c) ? esc(c)
    : `<s class="muted" title="not in the last solution: not fixed there, or excluded as disagreeing">${esc(c)}</s>`)
    .join(", ") + (s.disagreement_mm === null ? "" : ` <span class="sub" title="largest reference disagreement change">Δ ${fmt(s.disagreement_mm)} mm</span>`);
}

function renderAlarms(alarms) {
  const ops = canOperate();
  const rows = alarms.items;
  const html = rows.length ? rows.map((a) => `<tr data-alarm="${esc(a.id)}">
      <td class="num">${esc(a.id)}</td><td class="code">${esc(a.point)}</td>
      <td>${levelBadge(a.level)}${a.max_level !== a.level ? ` <span class="sub">max ${esc(a.max_level)}</span>` : ""}</td>
      <td>${esc(a.rule)}</td><td class="num">${fmt(a.value, 1)}</td><td class="num">${utcStamp(a.raised_at)}</td>
      <td class="alarm-state">${esc(a.state)}${a.acknowledged_by ? ` <span class="sub">by ${esc(a.acknowledged_by)}</span>` : ""}</td>
      <td>${ops && a.state === "open" ? `<button type="button" class="btn btn-small" data-action="acknowledge">Acknowledge</button>` : ""}${
        ops && a.state !== "closed" ? `<button type="button" class="btn btn-ghost btn-small" data-action="close">Close</button>` : ""}</td>
    </tr>`).join("") : `<tr><td colspan="8" class="empty">no alarms</td></tr>`;
  const body = $("alarms-table").tBodies[0];
  if (body._html !== html) { body.innerHTML = html; body._html = html; }  // unchanged rows stay put under the pointer
}

async function alarmAction(ev) {
  const btn = ev.target.closest("button[data-action]");
  if (!btn) return;
  const id = btn.closest("tr[data-alarm]").dataset.alarm, action = btn.dataset.action;
  btn.disabled = true;
  $("alarm-msg").textContent = "";
  try {
    await apiPost(`/api/monitoring/alarms/${encodeURIComponent(id)}/${action}`);
    refresh();
  } catch (e) {
    if (e instanceof AuthError) { signedOut("Your session has ended: please sign in again."); return; }
    $("alarm-msg").textContent = `alarm ${id}: ${action} refused (${e.message})`;
    btn.disabled = false;
  }
}

function selectPoint(code) {
  state.mselected = code;
  selectRow("mpoints-table", code, renderDisplacements);
}

/** The selected point's displacement series (the last `m-range` seconds up to its newest solution). */
async function renderDisplacements(code) {
  const span = Number($("m-range").value);
  const d = await api(`/api/monitoring/points/${encodeURIComponent(code)}/displacements?last_s=${span}&max_points=1500`);
  if (code !== state.mselected) return;
  $("m-point").textContent = code;
  $("m-exports").hidden = false;
  const rows = d.items.map((s) => ({ ...s, t: utcDate(s.time).getTime() }));
  const nFix = rows.filter((r) => r.e_mm !== null).length;
  $("m-info").textContent = rows.length ? `${rows.length} solutions shown, ${nFix} fixed` : "";
  const comp = (k) => [
    { name: "raw", color: "#5c7a94", points: rows.map((r) => [r.t, r[k]]) },
    { name: "filtered", color: SERIES_COLORS[k === "e_mm" ? 0 : k === "n_mm" ? 2 : 1],
      points: rows.map((r) => [r.t, r.outlier ? null : r.filtered[k]]) }];
  const box = $("mon-plots");
  while (box.children.length < 4) { const c = document.createElement("div"); c.className = "chart"; box.appendChild(c); }
  [["East mm", "e_mm"], ["North mm", "n_mm"], ["Up mm", "u_mm"]].forEach(([title, k], i) =>
    lineChart(box.children[i], { title, digits: 1, series: comp(k), empty: "no fixed solution in range" }));
  const fe = rows.filter((r) => !r.outlier && r.filtered.e_mm !== null).map((r) => [r.filtered.e_mm, r.filtered.n_mm]);
  xyChart(box.children[3], { title: "Horizontal trajectory (E, N) mm", points: fe, color: SERIES_COLORS[3] });
}

async function exportSeries(ev) {
  const btn = ev.target.closest("button[data-format]");
  if (!btn || !state.mselected) return;
  const fmtName = btn.dataset.format, code = state.mselected;
  const r = await fetch(`/api/monitoring/points/${encodeURIComponent(code)}/displacements?format=${fmtName}`,
                        { headers: { Authorization: `Bearer ${state.token}` } });
  if (!r.ok) { $("alarm-msg").textContent = `export ${code}: ${r.status}`; return; }
  const url = URL.createObjectURL(await r.blob());
  const a = Object.assign(document.createElement("a"), { href: url, download: `${code}.${fmtName === "csv" ? "csv" : "geojson"}` });
  document.body.appendChild(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** Trajectory chart: points [[x, y]] (mm) with equal scales on both axes, origin cross, newest point marked. */
function xyChart(box, opts) {
  const W = Math.max(box.clientWidth, 200), H = Math.max(box.clientHeight, 90);
  const m = { l: 40, r: 10, t: 20, b: 18 };
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": opts.title });
  svg.appendChild(el("text", { x: m.l, y: 13, class: "title" }, opts.title));
  box.replaceChildren(svg);
  const pts = opts.points.filter((p) => isFinite(p[0]) && isFinite(p[1]));
  box.dataset.points = String(pts.length);
  if (!pts.length) {
    svg.appendChild(el("text", { x: W / 2, y: H / 2 + 4, "text-anchor": "middle", class: "nodata" }, "no fixed solution in range"));
    return;
  }
  const xs = [0, ...pts.map((p) => p[0])], ys = [0, ...pts.map((p) => p[1])];
  const cx = (Math.min(...xs) + Math.max(...xs)) / 2, cy = (Math.min(...ys) + Math.max(...ys)) / 2;
  const pw = W - m.l - m.r, ph = H - m.t - m.b;
  // one mm is the same length on both axes: the larger extent (with 10 % margin, at least 2 mm) sets the scale
  const half = Math.max(1, 0.55 * Math.max((Math.max(...xs) - Math.min(...xs)) * ph / pw, Math.max(...ys) - Math.min(...ys)));
  const sc = ph / (2 * half);
  const X = (v) => m.l + pw / 2 + (v - cx) * sc, Y = (v) => m.t + ph / 2 - (v - cy) * sc;
  const yt = niceTicks(cy - half, cy + half), xt = niceTicks(cx - half * pw / ph, cx + half * pw / ph, 6);
  for (const v of yt.ticks) {
    if (Y(v) < m.t || Y(v) > H - m.b) continue;
    svg.appendChild(el("line", { x1: m.l, x2: W - m.r, y1: Y(v), y2: Y(v), class: "gridline" }));
    svg.appendChild(el("text", { x: m.l - 5, y: Y(v) + 3, "text-anchor": "end", class: "axis" }, v.toFixed(1)));
  }
  for (const v of xt.ticks) {
    if (X(v) < m.l || X(v) > W - m.r) continue;
    svg.appendChild(el("text", { x: X(v), y: H - 4, "text-anchor": "middle", class: "axis" }, v.toFixed(1)));
  }
  svg.appendChild(el("line", { x1: X(0) - 6, x2: X(0) + 6, y1: Y(0), y2: Y(0), class: "axis-zero" }));
  svg.appendChild(el("line", { x1: X(0), x2: X(0), y1: Y(0) - 6, y2: Y(0) + 6, class: "axis-zero" }));
  svg.appendChild(el("path", { class: "traj series", stroke: opts.color,
    d: pts.map((p, i) => `${i ? "L" : "M"}${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join("") }));
  const last = pts[pts.length - 1];
  svg.appendChild(el("line", { x1: X(0), y1: Y(0), x2: X(last[0]), y2: Y(last[1]), stroke: "#e6edf3", "stroke-width": 1.2 }));
  svg.appendChild(el("circle", { cx: X(last[0]), cy: Y(last[1]), r: 3, fill: "#e6edf3" }));
  svg.appendChild(el("text", { x: W - m.r - 4, y: H - m.b - 6, "text-anchor": "end", class: "legend-text" },
    `now E ${last[0].toFixed(1)} N ${last[1].toFixed(1)} · ${Math.hypot(last[0], last[1]).toFixed(1)} mm`));
}

function monitorIcon(p) {
  const c = LEVEL_COLOR[p.alarm_level] || LEVEL_COLOR.none;
  return L.divIcon({ className: "station-icon monitor-marker", iconSize: [16, 16], iconAnchor: [8, 8],
    html: `<svg width="16" height="16" viewBox="0 0 16 16" data-level="${esc(p.alarm_level)}"><path d="M8 1 L15 8 L8 15 L1 8 Z" fill="${c}" stroke="#0b2233" stroke-width="1.5"/>`
        + `<text x="18" y="12" class="station-label">${esc(p.code)}</text></svg>` });
}

function monitorPopup(p) {
  const s = p.last_solution;
  return `<b class="code">${esc(p.code)}</b> ${esc(p.name)}` + popupTable([
    ["alarm level", levelBadge(p.alarm_level)], ["owner", esc(p.owner || "—")],
    ["lat, lon", `${p.cgcs2000.lat_deg.toFixed(6)}°, ${p.cgcs2000.lon_deg.toFixed(6)}°`],
    ["reference", esc((p.reference_stations || []).join(", ") || "nearest")],
    ["displacement", s && s.e_mm !== null ? `E ${fmt(s.e_mm)} N ${fmt(s.n_mm)} U ${fmt(s.u_mm)} mm` : "—"]]);
}

function renderMonitorMarkers(points, pts) {
  state.markers.monitor = state.markers.monitor || new Map();
  const items = points.map((p) => {
    pts.push([p.cgcs2000.lat_deg, p.cgcs2000.lon_deg]);
    return { key: p.code, p };
  });
  syncMarkers(state.layers.monitor, state.markers.monitor, items,
    (it) => {
      const mk = L.marker([it.p.cgcs2000.lat_deg, it.p.cgcs2000.lon_deg], { icon: monitorIcon(it.p), title: `${it.p.code} ${it.p.name}`,
                                                                      riseOnHover: true, zIndexOffset: 500 })
        .bindPopup(monitorPopup(it.p)).on("click", () => selectPoint(it.p.code));
      mk._level = it.p.alarm_level;
      return mk;
    },
    (mk, it) => {
      mk.setPopupContent(monitorPopup(it.p));
      if (mk._level !== it.p.alarm_level) { mk.setIcon(monitorIcon(it.p)); mk._level = it.p.alarm_level; }
    });
}

/* ------------------------------------------------------------------ map */
/** Decode a TopoJSON GeometryCollection into GeoJSON features (quantized, delta-encoded arcs). */
function topoFeatures(topo, name) {
  const [sx, sy] = topo.transform ? topo.transform.scale : [1, 1];
  const [tx, ty] = topo.transform ? topo.transform.translate : [0, 0];
  const arcs = topo.arcs.map((arc) => {
    let x = 0, y = 0;
    return arc.map(([dx, dy]) => { x += dx; y += dy; return [x * sx + tx, y * sy + ty]; });
  });
  const ring = (ids) => {
    const out = [];
    ids.forEach((i, k) => {
      const a = i >= 0 ? arcs[i] : arcs[~i].slice().reverse();
      out.push(...(k ? a.slice(1) : a));
    });
    // rings cut at the antimeridian jump from +180 to -180: unwrap so the map does not draw a band across
    for (let j = 1; j < out.length; j++) {
      const d = out[j][0] - out[j - 1][0];
      if (Math.abs(d) > 180) out[j] = [out[j][0] - 360 * Math.round(d / 360), out[j][1]];
    }
    return out;
  };
  return topo.objects[name].geometries.filter((g) => (g.properties || {}).name !== "Antarctica").map((g) => ({
    type: "Feature", properties: g.properties || {},
    geometry: g.type === "Polygon" ? { type: "Polygon", coordinates: g.arcs.map(ring) }
      : g.type === "MultiPolygon" ? { type: "MultiPolygon", coordinates: g.arcs.map((p) => p.map(ring)) }
      : null,
  })).filter((f) => f.geometry);
}

function initMap() {
  if (state.map) return;
  const map = L.map("map", { worldCopyJump: true, minZoom: 1, maxZoom: 17, zoomSnap: 0.5, preferCanvas: false })
    .setView([30, 105], 3);
  map.attributionControl.setPrefix("Leaflet").addAttribution("outlines: Natural Earth");
  state.map = map;
  state.layers.land = L.layerGroup().addTo(map);
  state.layers.grid = L.layerGroup().addTo(map);
  state.layers.stations = L.layerGroup().addTo(map);
  state.layers.rovers = L.layerGroup().addTo(map);
  state.layers.monitor = L.layerGroup().addTo(map);
  L.control.layers(null, { "Stations": state.layers.stations, "Rovers": state.layers.rovers,
                           "Monitoring points": state.layers.monitor, "Graticule": state.layers.grid },
                   { collapsed: true }).addTo(map);
  L.control.scale({ imperial: false }).addTo(map);
  fetch("/static/vendor/world-atlas/countries-110m.json").then((r) => r.json()).then((topo) => {
    L.geoJSON({ type: "FeatureCollection", features: topoFeatures(topo, "countries") }, {
      interactive: false, style: { color: "#3b5873", weight: 0.8, fillColor: "#1b3245", fillOpacity: 1 },
    }).addTo(state.layers.land);
  }).catch(() => { /* the outline is decoration: stations still show on the graticule */ });
  map.on("moveend zoomend", drawGraticule);
  drawGraticule();
}

function drawGraticule() {
  const map = state.map, g = state.layers.grid;
  g.clearLayers();
  const b = map.getBounds(), span = Math.max(b.getEast() - b.getWest(), b.getNorth() - b.getSouth());
  // the coarsest step giving at most ~12 lines; zoomed out beyond one world (span > 360 deg) stays at 30 deg
  const steps = [30, 10, 5, 2, 1, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001];
  const step = span / 30 > 12 ? 30 : steps.filter((s) => span / s <= 12).pop() ?? 0.001;
  const digits = step >= 1 ? 0 : step >= 0.1 ? 1 : 2;
  const style = { color: "#2b4a63", weight: 0.6, interactive: false, dashArray: "2 4" };
  const w = Math.floor(b.getWest() / step) * step, e = Math.ceil(b.getEast() / step) * step;
  const s = Math.max(-85, Math.floor(b.getSouth() / step) * step), n = Math.min(85, Math.ceil(b.getNorth() / step) * step);
  for (let lon = w; lon <= e + 1e-9; lon += step) {
    L.polyline([[s, lon], [n, lon]], style).addTo(g);
    const lab = ((lon + 540) % 360) - 180;
    L.marker([b.getNorth(), lon], { interactive: false, icon: L.divIcon({ className: "graticule-label", iconAnchor: [-3, -2],
      html: `${Math.abs(lab).toFixed(digits)}°${lab < 0 ? "W" : "E"}` }) }).addTo(g);
  }
  for (let lat = s; lat <= n + 1e-9; lat += step) {
    L.polyline([[lat, w], [lat, e]], style).addTo(g);
    L.marker([lat, b.getWest()], { interactive: false, icon: L.divIcon({ className: "graticule-label", iconAnchor: [-3, 12],
      html: `${Math.abs(lat).toFixed(digits)}°${lat < 0 ? "S" : "N"}` }) }).addTo(g);
  }
}

function stationIcon(p) {
  const c = STATUS_COLOR[p.status] || STATUS_COLOR.unknown;
  return L.divIcon({ className: "station-icon station-marker", iconSize: [18, 18], iconAnchor: [9, 12],
    html: `<svg width="18" height="18" viewBox="0 0 18 18"><path d="M9 1 L17 16 H1 Z" fill="${c}" stroke="#0b2233" stroke-width="1.5"/>`
        + `<text x="20" y="14" class="station-label">${esc(p.code)}</text></svg>` });
}

function popupTable(rows) {
  return `<table>${rows.map(([k, v]) => `<tr><td class="muted">${esc(k)}</td><td>${v}</td></tr>`).join("")}</table>`;
}

/** Keep one marker per key in `layer`: create, update in place (an open popup stays open), remove. */
function syncMarkers(layer, cache, items, make, update) {
  const seen = new Set();
  for (const it of items) {
    seen.add(it.key);
    const mk = cache.get(it.key);
    if (mk) update(mk, it); else { const m = make(it); cache.set(it.key, m); m.addTo(layer); }
  }
  for (const [k, mk] of cache) if (!seen.has(k)) { layer.removeLayer(mk); cache.delete(k); }
}

function stationPopup(p, lat, lon, h) {
  const q = p.quality;
  return `<b class="code">${esc(p.code)}</b> ${esc(p.name)}` + popupTable([
    ["status", `<span class="pill pill-${esc(p.status)}">${esc(p.status)}</span>`],
    ["lat, lon", `${lat.toFixed(6)}°, ${lon.toFixed(6)}°`], ["height", `${fmt(h, 3)} m`],
    ["mountpoint", esc(p.mountpoint || "—")], ["receiver", esc(p.receiver_type || "—")],
    ["antenna", esc(p.antenna_type || "—")], ["country", esc(p.country || "—")],
    ["source", p.link  // a pulled station: its link's state (and why it is down)
      ? `${esc(p.link.state)} · ${esc(p.link.source)}` + (p.link.state !== "streaming" && p.link.last_error
        ? ` <span class="muted">${esc(p.link.last_error)}</span>` : "")
      : esc(p.source_kind || "—")],
    ["satellites", q ? satChips(q.sats_per_system) : "no live data"]]);
}

function roverPopup(p, lat, lon, h) {
  return `<b>rover #${esc(p.id)}</b> ${esc(p.user || "")}` + popupTable([
    ["mount", esc(p.mount) + (p.serving && p.serving !== p.mount ? ` → ${esc(p.serving)}` : "")],
    ["lat, lon", `${lat.toFixed(6)}°, ${lon.toFixed(6)}°`], ["height", `${fmt(h, 1)} m`],
    ["GGA age", fmtAge(p.last_gga_age_s)], ["connected", fmtAge(p.connected_s)], ["sent", fmtBytes(p.bytes_sent)]]);
}

function renderMap(stations, rovers, points = []) {
  state.markers = state.markers || { stations: new Map(), rovers: new Map() };
  const pts = [];
  const sItems = stations.features.map((f) => {
    const [lon, lat, h] = f.geometry.coordinates;
    pts.push([lat, lon]);
    return { key: f.properties.code, p: f.properties, lat, lon, h };
  });
  syncMarkers(state.layers.stations, state.markers.stations, sItems,
    (it) => {
      const m = L.marker([it.lat, it.lon], { icon: stationIcon(it.p), title: `${it.p.code} ${it.p.name}`, riseOnHover: true })
        .bindPopup(stationPopup(it.p, it.lat, it.lon, it.h)).on("click", () => selectStation(it.p.code));
      m._status = it.p.status;
      return m;
    },
    (m, it) => {
      m.setLatLng([it.lat, it.lon]).setPopupContent(stationPopup(it.p, it.lat, it.lon, it.h));
      if (m._status !== it.p.status) { m.setIcon(stationIcon(it.p)); m._status = it.p.status; }
    });
  const rItems = rovers.features.map((f) => {
    const [lon, lat, h] = f.geometry.coordinates;
    pts.push([lat, lon]);
    return { key: String(f.properties.id), p: f.properties, lat, lon, h };
  });
  syncMarkers(state.layers.rovers, state.markers.rovers, rItems,
    (it) => L.circleMarker([it.lat, it.lon], { radius: 5, color: "#1a0d03", weight: 1.2, fillColor: "#ff8a3d",
                                               fillOpacity: 0.95, className: "rover-marker" })
      .bindPopup(roverPopup(it.p, it.lat, it.lon, it.h)),
    (m, it) => m.setLatLng([it.lat, it.lon]).setPopupContent(roverPopup(it.p, it.lat, it.lon, it.h)));
  renderMonitorMarkers(points, pts);
  if (!state.fitted && pts.length) {
    state.map.fitBounds(L.latLngBounds(pts).pad(0.25), { maxZoom: 11 });
    state.fitted = true;
  }
}

/* ------------------------------------------------------------------ rovers, events */
function renderRovers(c) {
  const rows = c.clients || [];
  $("rovers-count").textContent = `${rows.length} connected`;
  $("rovers-table").tBodies[0].innerHTML = rows.length ? rows.slice(0, 200).map((r) => `<tr>
      <td class="num">${esc(r.id)}</td><td>${esc(r.user || "—")}</td>
      <td class="code">${esc(r.mount)}${r.serving && r.serving !== r.mount ? ` → ${esc(r.serving)}` : ""}</td>
      <td class="num">${fmt(r.lat_deg, 5)}</td><td class="num">${fmt(r.lon_deg, 5)}</td>
      <td class="num ${cls(r.last_gga_age_s, 30, 60)}">${fmtAge(r.last_gga_age_s)}</td>
      <td class="num">${fmtAge(r.connected_s)}</td><td class="num">${fmtBytes(r.bytes_sent)}</td></tr>`).join("")
    : `<tr><td colspan="8" class="empty">no rover connected</td></tr>`;
}

/** Caster and abuse events of the last snapshot plus the selected station's events, newest first. */
function renderEvents(c) {
  if (c) state.casterEvents = [...(c.events || []), ...((c.abuse && c.abuse.events) || [])];
  const evs = [...(state.casterEvents || []), ...(state.stationEvents || [])]
    .sort((a, b) => (b.time || 0) - (a.time || 0)).slice(0, 50);
  $("events").innerHTML = evs.length ? evs.map((e) => {
    const { time, kind, ...rest } = e;
    const info = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`).join(" ");
    const sev = rest.severity === "critical" ? "bad" : rest.severity === "warning" ? "warn"
      : /ban|abuse|refused|unauthor|flood|lost|vanish|drop|silent|degraded|moved/i.test(kind || "") ? "warn" : "";
    delete rest.severity;
    return `<li><time>${time ? hhmmss(new Date(time * 1000)) : "—"}</time><span class="kind ${sev}">${esc(kind)}</span><span class="muted">${esc(info)}</span></li>`;
  }).join("") : `<li class="empty">no caster events</li>`;
}

/* ------------------------------------------------------------------ wiring */
document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", login);
  $("logout-btn").addEventListener("click", logout);
  $("q-range").addEventListener("change", () => state.selected && selectStation(state.selected));
  $("m-range").addEventListener("change", () => state.mselected && selectPoint(state.mselected));
  $("a-filter").addEventListener("change", () => state.token && refresh());
  $("mpoints-table").tBodies[0].addEventListener("click", (ev) => {
    const tr = ev.target.closest("tr[data-code]");
    if (tr) selectPoint(tr.dataset.code);
  });
  $("alarms-table").tBodies[0].addEventListener("click", alarmAction);
  $("m-exports").addEventListener("click", (ev) => exportSeries(ev).catch((e) => { $("alarm-msg").textContent = `export: ${e.message}`; }));
  $("health-table").tBodies[0].addEventListener("click", (ev) => {
    const tr = ev.target.closest("tr[data-code]");
    if (tr) selectStation(tr.dataset.code);
  });
  if (state.token) start(); else signedOut();
});

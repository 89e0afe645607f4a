"""The live monitoring page served at ``/`` (self-contained: no external scripts).

Open ``/?token=<token>``. The page reads ``/v1/stats`` at once, again whenever the event
stream (``/v1/events``) reports something (at most every 500 ms), and every 2 s in any
case; it keeps the queue length of the last 10 minutes for its chart. Each read is at the
service's time (what is due fires first), so the page is current. Per channel and group
it shows waiting, over target, mean and longest wait, in progress, the online humans and
their free slots, what the humans can still take of each channel (caps and cost
honoured), and bots apart.
"""

PAGE = r"""<!doctype html>
<html><head><meta charset="utf-8"><title>pyroute — live floor</title>
<style>
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:3px 10px;text-align:right;white-space:nowrap}
td:first-child,th:first-child{text-align:left}
.late{color:#b00;font-weight:bold}
#status{color:#666;font-size:90%}
</style></head><body>
<h1>pyroute — live floor</h1>
<p id="status">connecting…</p>
<h2>Channels</h2><table id="channels"></table>
<h2>Groups</h2><table id="groups"></table>
<h2>Queue length, last 10 minutes</h2>
<svg id="chart" width="800" height="220" role="img"></svg>
<script>
const token = new URLSearchParams(location.search).get("token") || "";
const headers = {"Authorization": "Bearer " + token};
const history = [];   // [time ms, total waiting]
let pending = false, last = 0;

function esc(s) {
  return String(s).replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;",
                                             '"': "&quot;", "'": "&#39;"}[c]));
}
function fmt(x, d) { return x === null || x === undefined ? "–" : x.toFixed(d); }
function pct(x) { return x === null || x === undefined ? "–" : (100 * x).toFixed(1) + "%"; }

function rows(id, entries, targets) {
  // online, free slots and "can take" are the humans'; bots apart. "can take": how many
  // more of that channel the online humans could take now (channel caps and cost honoured)
  const chans = targets !== null;
  const head = "<tr><th></th><th>waiting</th><th>over target</th><th>mean wait s</th>" +
    "<th>longest wait s</th>" + (chans ? "<th>target s</th>" : "") +
    "<th>in progress</th><th>humans online</th><th>human free slots</th>" +
    (chans ? "<th>humans can take</th>" : "") + "<th>bots online</th><th>bot free slots</th>" +
    "<th>answered</th><th>service level</th><th>abandoned</th></tr>";
  let html = head;
  for (const [name, v] of entries) {
    const t = targets ? targets[name] : null;
    const late = t !== null && t !== undefined && v.longest_wait !== null && v.longest_wait > t;
    const o = v.outcomes || {};
    const over = v.over_target || 0, bots = v.bots_online || 0, botFree = v.bot_free_slots || 0;
    html += `<tr data-name="${esc(name)}"><td>${esc(name)}</td><td class="waiting">${v.waiting}</td>` +
      `<td class="over_target ${over ? "late" : ""}">${over}</td>` +
      `<td class="mean_wait">${fmt(v.mean_wait, 1)}</td>` +
      `<td class="${late ? "late" : ""}">${fmt(v.longest_wait, 1)}</td>` +
      (chans ? `<td>${t === null || t === undefined ? "–" : t}</td>` : "") +
      `<td class="in_progress">${v.in_progress}</td><td class="humans">${v.online - bots}</td>` +
      `<td class="free_slots">${v.free_slots - botFree}</td>` +
      (chans ? `<td class="can_take">${(v.can_take || 0) - (v.bot_can_take || 0)}</td>` : "") +
      `<td class="bots">${bots}</td><td class="bot_free_slots">${botFree}</td>` +
      `<td class="answered">${o.answered || 0}</td>` +
      `<td>${pct(o.service_level)}</td><td>${o.abandoned || 0}</td></tr>`;
  }
  document.getElementById(id).innerHTML = html;
}

function chart() {
  const svg = document.getElementById("chart"), W = 800, H = 220, L = 40, B = 20;
  const now = Date.now(), from = now - 600000;
  while (history.length && history[0][0] < from) history.shift();
  const top = Math.max(1, ...history.map(p => p[1]));
  const pts = history.map(p => `${(L + (p[0] - from) / 600000 * (W - L - 10)).toFixed(1)},` +
                               `${(H - B - p[1] / top * (H - B - 10)).toFixed(1)}`).join(" ");
  svg.innerHTML = `<line x1="${L}" y1="${H - B}" x2="${W - 10}" y2="${H - B}" stroke="#444"/>` +
    `<line x1="${L}" y1="10" x2="${L}" y2="${H - B}" stroke="#444"/>` +
    `<text x="${L - 5}" y="16" text-anchor="end" font-size="11">${top}</text>` +
    `<text x="${L - 5}" y="${H - B}" text-anchor="end" font-size="11">0</text>` +
    `<text x="${L}" y="${H - 4}" font-size="11">−10 min</text>` +
    `<text x="${W - 10}" y="${H - 4}" text-anchor="end" font-size="11">now</text>` +
    `<polyline id="series" fill="none" stroke="#1f77b4" stroke-width="2" points="${pts}"/>`;
}

let targets = null;
async function refresh() {
  pending = false; last = Date.now();
  try {
    if (targets === null) {
      const c = await fetch("/v1/config", {headers});
      targets = {};
      if (c.ok) for (const ch of (await c.json()).channels) targets[ch.name] = ch.target_wait;
    }
    const r = await fetch("/v1/stats", {headers});
    if (!r.ok) { document.getElementById("status").textContent = "error " + r.status; return; }
    const s = await r.json();
    rows("channels", Object.entries(s.channels), targets);
    rows("groups", Object.entries(s.groups), null);
    history.push([Date.now(), s.total.waiting]);
    chart();
    document.getElementById("status").textContent =
      `updated ${new Date().toLocaleTimeString()} — waiting ${s.total.waiting}, ` +
      `in progress ${s.total.in_progress}, online ${s.total.online}`;
    document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
  } catch (e) { document.getElementById("status").textContent = "offline: " + e; }
}

function soon() {
  if (pending) return;
  pending = true;
  setTimeout(refresh, Math.max(0, 500 - (Date.now() - last)));
}

const source = new EventSource("/v1/events?token=" + encodeURIComponent(token));
source.onmessage = soon;
setInterval(refresh, 2000);
refresh();
</script></body></html>
"""

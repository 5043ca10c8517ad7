"""The live dashboard's page (dashboard.py serves it): one self-contained HTML document whose
inline script polls /data.json once a second and redraws each chart as inline SVG.

Nothing comes from the network: styles (report.html's, html.CSS) and script are inline, fonts are
the browser's own. Each chart is a <figure class="live-chart"> with `data-chart` (its title) and
`data-points` (the points it draws now), its SVG holding one <polyline> per line or one <rect> per
bar; a chart without data shows its note, as report.html does. When /data.json stops answering
(the run has ended) the page keeps what it drew and says so.
"""

from __future__ import annotations

from generator.report.html import CSS

EXTRA_CSS = """
figure.live-chart figcaption { font-weight: 600; font-size: 0.95rem; margin-bottom: 0.2rem; }
svg.chart text { font-family: system-ui, sans-serif; font-size: 11px; fill: #333; }
#state { color: #555; } #state.gone { color: #c62828; font-weight: 600; }
#figures { font-variant-numeric: tabular-nums; } #charts { align-items: start; }
"""

SCRIPT = r"""
"use strict";
const W = 640, H = 290, L = 58, R = 14, T = 40, B = 34;
const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
                 "#7f7f7f"];
const NAMED = {succeeded: "#2ca02c", failed: "#d62728"};
const PHASES = {baseline: "#9ecae1", cooldown: "#c7e9c0"};
const grid = document.getElementById("charts");
const figures = new Map();

function esc(s) {
  return String(s).replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;",
                                             '"': "&quot;", "'": "&#39;"})[c]);
}
function nice(top) {
  if (!(top > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(top)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= top) return m * p;
  return 10 * p;
}
function fmt(v) {
  const a = Math.abs(v);
  if (a >= 1e6) return (v / 1e6).toFixed(1) + "M";
  if (a >= 1e4) return (v / 1e3).toFixed(0) + "k";
  return String(Math.round(v * 100) / 100);
}
function xRange(charts) {
  let lo = 0, hi = 1;
  for (const c of charts) {
    for (const l of c.lines) for (const x of l.xs) if (x !== null) {
      lo = Math.min(lo, x); hi = Math.max(hi, x + 0.5);
    }
    for (const s of c.spans) { lo = Math.min(lo, s[0]); hi = Math.max(hi, s[1]); }
  }
  return [lo, hi];
}
function yTop(c) {
  let top = 0;
  for (const r of c.refs) if (r[1] !== null) top = Math.max(top, r[1]);
  if (c.band) top = Math.max(top, c.band[1] || 0);
  if (c.kind === "stacked") {
    const sums = new Map();
    for (const l of c.lines) {
      l.xs.forEach((x, i) => sums.set(x, (sums.get(x) || 0) + (l.ys[i] || 0)));
    }
    for (const v of sums.values()) top = Math.max(top, v);
  } else {
    for (const l of c.lines) for (const y of l.ys) if (y !== null) top = Math.max(top, y);
  }
  return top;
}
function countPoints(c) {
  return c.lines.reduce((n, l) => n + l.ys.filter(y => y !== null).length, 0);
}
function step(xs) {
  let d = Infinity;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[i - 1]) d = Math.min(d, xs[i] - xs[i - 1]);
  return isFinite(d) ? d : 1;
}
function svgOf(c, xlim) {
  const top = nice(yTop(c) * 1.15);
  const sx = x => L + (x - xlim[0]) / (xlim[1] - xlim[0]) * (W - L - R);
  const sy = y => H - B - y / top * (H - T - B);
  const out = [];
  for (const [x0, x1, phase] of c.spans) {
    out.push(`<rect class="span" x="${sx(x0)}" y="${T}" width="${Math.max(0, sx(x1) - sx(x0))}" ` +
             `height="${H - T - B}" fill="${PHASES[phase] || "#eee"}" fill-opacity="0.35"/>`);
  }
  if (c.band) {
    out.push(`<rect class="band" x="${L}" y="${sy(c.band[1])}" width="${W - L - R}" ` +
             `height="${Math.max(0, sy(c.band[0]) - sy(c.band[1]))}" ` +
             `fill="#fdd49e" fill-opacity="0.5"/>`);
  }
  for (let i = 0; i <= 4; i++) {
    const v = top * i / 4, y = sy(v);
    out.push(`<line x1="${L}" x2="${W - R}" y1="${y}" y2="${y}" ` +
             `stroke="#ddd" stroke-width="0.6"/>`);
    out.push(`<text x="${L - 6}" y="${y + 4}" text-anchor="end">${fmt(v)}</text>`);
  }
  const span = xlim[1] - xlim[0], xstep = nice(span / 6);
  for (let v = Math.ceil(xlim[0] / xstep) * xstep; v <= xlim[1]; v += xstep) {
    out.push(`<text x="${sx(v)}" y="${H - B + 16}" text-anchor="middle">${fmt(v)}</text>`);
  }
  out.push(`<text x="${W - R}" y="${H - 4}" text-anchor="end">seconds since start</text>`);
  const mid = T + (H - T - B) / 2;
  out.push(`<text x="12" y="${mid}" transform="rotate(-90 12 ${mid})" ` +
           `text-anchor="middle">${esc(c.ylabel)}</text>`);
  const legend = [];
  let color = 0;
  if (c.kind === "stacked") {
    const bottoms = new Map();
    for (const l of c.lines) {
      const fill = NAMED[l.label] || PALETTE[color++ % PALETTE.length];
      const st = step(l.xs);
      l.xs.forEach((x, i) => {
        const y = l.ys[i];
        if (x === null || y === null || y <= 0) return;
        const w = Math.max(1, (sx(l.ws ? l.ws[i] : st) - sx(0)) * 0.9);
        const b = bottoms.get(x) || 0;
        out.push(`<rect class="bar" x="${sx(x) - w / 2}" y="${sy(b + y)}" width="${w}" ` +
                 `height="${Math.max(0, sy(b) - sy(b + y))}" fill="${fill}"/>`);
        bottoms.set(x, b + y);
      });
      legend.push([l.label, fill, false]);
    }
  } else {
    for (const l of c.lines) {
      const stroke = PALETTE[color++ % PALETTE.length];
      let run = [];
      const flush = () => {
        if (run.length) out.push(`<polyline class="line" fill="none" stroke="${stroke}" ` +
                                 `stroke-width="1.6" points="${run.join(" ")}"/>`);
        run = [];
      };
      l.xs.forEach((x, i) => {
        const y = l.ys[i];
        if (x === null || y === null) { flush(); return; }
        run.push(`${sx(x).toFixed(1)},${sy(y).toFixed(1)}`);
      });
      flush();
      legend.push([l.label, stroke, false]);
    }
  }
  for (const [label, y] of c.refs) {
    if (y === null) continue;
    out.push(`<line class="ref" x1="${L}" x2="${W - R}" y1="${sy(y)}" y2="${sy(y)}" ` +
             `stroke="#444" stroke-dasharray="5 3" stroke-width="1.2"/>`);
    legend.push([`${label} (${fmt(y)})`, "#444", true]);
  }
  let lx = L;
  for (const [label, fill, dashed] of legend) {
    out.push(dashed
      ? `<line x1="${lx}" x2="${lx + 14}" y1="${T - 14}" y2="${T - 14}" ` +
        `stroke="${fill}" stroke-dasharray="4 2"/>`
      : `<rect x="${lx}" y="${T - 19}" width="12" height="10" fill="${fill}"/>`);
    out.push(`<text x="${lx + 17}" y="${T - 10}">${esc(label)}</text>`);
    lx += 30 + 6.2 * String(label).length;
  }
  return `<svg class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(c.title)}">` +
         `<title>${esc(c.title)}</title>${out.join("")}</svg>`;
}
function draw(c, xlim) {
  let fig = figures.get(c.title);
  if (!fig) {
    fig = document.createElement("figure");
    fig.dataset.chart = c.title;
    grid.appendChild(fig);
    figures.set(c.title, fig);
  }
  const points = countPoints(c);
  fig.dataset.points = String(points);
  if (!points) {
    fig.className = "chart-box live-chart no-data";
    fig.innerHTML = `<figcaption>${esc(c.title)}</figcaption>` +
                    `<p class="note">${esc(c.empty_note)}</p>`;
    return;
  }
  fig.className = "chart-box live-chart";
  fig.innerHTML = `<figcaption>${esc(c.title)}</figcaption>${svgOf(c, xlim)}` +
                  (c.note ? `<p class="note">${esc(c.note)}</p>` : "");
}
function render(d) {
  document.getElementById("name").textContent = d.name;
  document.title = "callbench live — " + d.name;
  const parts = [`phase: ${d.phase}`];
  for (const [label, value] of d.figures) parts.push(value ? `${label} ${value}` : label);
  document.getElementById("figures").textContent = parts.join(" · ");
  const xlim = xRange(d.charts);
  for (const c of d.charts) draw(c, xlim);
}
let polls = 0;
async function poll() {
  const state = document.getElementById("state");
  try {
    const r = await fetch("data.json", {cache: "no-store"});
    if (!r.ok) throw new Error("HTTP " + r.status);
    render(await r.json());
    polls += 1;
    state.className = "";
    state.textContent = `live · updated ${new Date().toLocaleTimeString()}`;
    document.body.dataset.polls = String(polls);
  } catch (e) {
    state.className = "gone";
    state.textContent = "not updating: the run has ended (or its dashboard stopped); " +
                        "its report.html holds the whole run";
  } finally {
    setTimeout(poll, 1000);
  }
}
poll();
"""

PAGE = (
    '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    f"<title>callbench live</title><style>{CSS}{EXTRA_CSS}</style></head><body>"
    '<h1>callbench live — <span id="name">…</span></h1>'
    '<p id="figures"></p><p id="state">connecting…</p>'
    '<div id="charts" class="chart-grid"></div>'
    f"<script>{SCRIPT}</script></body></html>\n"
)

// Small SVG charts drawn from the dashboard's series (nothing loaded from elsewhere).
"use strict";
(function () {
  const NS = "http://www.w3.org/2000/svg";
  const PALETTE = ["#2d6cdf", "#e07b39", "#1f8a4c", "#c4362c", "#8a4fd3", "#14a3b8", "#b8962e", "#6b7785"];
  const FIXED = { completed: "#1f8a4c", failed: "#c4362c", interrupted: "#e0a030", accept: "#1f8a4c", decline: "#c4362c", unknown: "#6b7785" };
  const W = 480, H = 220, LEFT = 44, RIGHT = 8, TOP = 8, BOTTOM = 48;

  function el(name, attrs, text) {
    const node = document.createElementNS(NS, name);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function color(name, index) { return FIXED[name] || PALETTE[index % PALETTE.length]; }
  function short(n) { return n >= 1e6 ? (n / 1e6).toFixed(1) + "M" : n >= 1e3 ? (n / 1e3).toFixed(1) + "k" : String(n); }
  function clear(svg) { while (svg.firstChild) svg.removeChild(svg.firstChild); }
  function empty(svg, message) {
    clear(svg);
    svg.appendChild(el("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "empty" }, message));
    svg.dataset.bars = "0";
  }
  function axis(svg, max) {
    const plotH = H - TOP - BOTTOM;
    for (let i = 0; i <= 4; i++) {
      const y = TOP + plotH - (plotH * i) / 4;
      svg.appendChild(el("line", { x1: LEFT, x2: W - RIGHT, y1: y, y2: y, stroke: "#e6e9ee" }));
      svg.appendChild(el("text", { x: LEFT - 4, y: y + 3, "text-anchor": "end" }, short(Math.round((max * i) / 4))));
    }
  }
  function legend(svg, names) {
    let x = LEFT;
    names.forEach((name, index) => {
      svg.appendChild(el("rect", { x, y: H - 14, width: 9, height: 9, fill: color(name, index) }));
      svg.appendChild(el("text", { x: x + 12, y: H - 6 }, name));
      x += 18 + name.length * 6;
    });
  }

  // Stacked bars over time buckets: series = {name: [value per bucket]}.
  function stackedBars(svg, data, noun) {
    const names = Object.keys(data.series || {});
    const buckets = data.buckets || [];
    if (!buckets.length || !names.length) return empty(svg, "no " + noun + " yet");
    clear(svg);
    const totals = buckets.map((_, i) => names.reduce((sum, name) => sum + data.series[name][i], 0));
    const max = Math.max(1, ...totals);
    axis(svg, max);
    const plotW = W - LEFT - RIGHT, plotH = H - TOP - BOTTOM;
    const slot = plotW / Math.max(buckets.length, 6);
    const width = Math.max(4, slot * 0.7);
    let bars = 0;
    buckets.forEach((bucket, i) => {
      let y = TOP + plotH;
      const x = LEFT + i * slot + (slot - width) / 2;
      names.forEach((name, index) => {
        const value = data.series[name][i];
        if (!value) return;
        const h = (plotH * value) / max;
        y -= h;
        const rect = el("rect", { x, y, width, height: Math.max(h, 1), fill: color(name, index), class: "bar" });
        rect.appendChild(el("title", {}, name + ": " + value + " " + noun));
        svg.appendChild(rect);
        bars++;
      });
      const label = new Date(bucket * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      svg.appendChild(el("text", { x: x + width / 2, y: TOP + plotH + 12, "text-anchor": "middle" }, label));
    });
    legend(svg, names);
    svg.dataset.bars = String(bars);
  }

  // Grouped bars: rows = [{server, decision, count}].
  function groupedBars(svg, rows) {
    if (!rows.length) return empty(svg, "no approval decisions yet");
    clear(svg);
    const servers = [...new Set(rows.map((row) => row.server))];
    const decisions = [...new Set(rows.map((row) => row.decision))].sort();
    const max = Math.max(1, ...rows.map((row) => row.count));
    axis(svg, max);
    const plotW = W - LEFT - RIGHT, plotH = H - TOP - BOTTOM;
    const slot = plotW / Math.max(servers.length, 3);
    const width = (slot * 0.8) / decisions.length;
    let bars = 0;
    servers.forEach((server, i) => {
      decisions.forEach((decision, j) => {
        const row = rows.find((r) => r.server === server && r.decision === decision);
        if (!row) return;
        const h = (plotH * row.count) / max;
        const x = LEFT + i * slot + slot * 0.1 + j * width;
        const rect = el("rect", { x, y: TOP + plotH - h, width: width - 2, height: Math.max(h, 1), fill: color(decision, j), class: "bar" });
        rect.appendChild(el("title", {}, server + " " + decision + ": " + row.count));
        svg.appendChild(rect);
        bars++;
      });
      svg.appendChild(el("text", { x: LEFT + i * slot + slot / 2, y: TOP + plotH + 12, "text-anchor": "middle" }, server));
    });
    legend(svg, decisions);
    svg.dataset.bars = String(bars);
  }

  window.DashboardCharts = { stackedBars, groupedBars };
})();

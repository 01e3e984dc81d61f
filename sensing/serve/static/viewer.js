// Minimal viewer: pick a published layer and date; tiles come from this server only.
(function () {
  "use strict";
  const map = L.map("map", { zoomControl: true }).setView([43.9, 77.3], 10);
  const layerSelect = document.getElementById("layer");
  const dateSelect = document.getElementById("date");
  const opacity = document.getElementById("opacity");
  const legend = document.getElementById("legend");
  const status = document.getElementById("status");
  let byId = new Map();
  let current = null;
  let fitted = false;

  function rgba(c) { return `rgba(${c[0]},${c[1]},${c[2]},${(c[3] ?? 255) / 255})`; }

  function showLegend(doc) {
    legend.innerHTML = "";
    if (doc.type === "classes") {
      for (const cls of doc.classes) {
        const row = document.createElement("div");
        row.className = "row";
        row.innerHTML = `<span class="swatch" style="background:${rgba(cls.color)}"></span>${cls.label}`;
        legend.appendChild(row);
      }
    } else {
      const stops = doc.colors.map(rgba).join(",");
      legend.innerHTML = `<div class="ramp" style="background:linear-gradient(to right,${stops})"></div>` +
        `<div class="range"><span>${doc.range[0]}</span><span>${doc.range[1]}</span></div>`;
    }
  }

  async function show() {
    const entry = (byId.get(layerSelect.value) || []).find((e) => e.date === dateSelect.value);
    if (!entry) return;
    const tj = await (await fetch(entry.tilejson)).json();
    if (current) map.removeLayer(current);
    current = L.tileLayer(tj.tiles[0], {
      minZoom: 0, maxZoom: 18, maxNativeZoom: tj.maxzoom, opacity: Number(opacity.value),
      bounds: L.latLngBounds([tj.bounds[1], tj.bounds[0]], [tj.bounds[3], tj.bounds[2]]),
    }).addTo(map);
    if (!fitted) { map.fitBounds([[tj.bounds[1], tj.bounds[0]], [tj.bounds[3], tj.bounds[2]]]); fitted = true; }
    showLegend(await (await fetch(entry.legend)).json());
    status.textContent = `${tj.name}`;
  }

  function fillDates() {
    const dates = (byId.get(layerSelect.value) || []).map((e) => e.date);
    const keep = dateSelect.value;
    dateSelect.innerHTML = dates.map((d) => `<option>${d}</option>`).join("");
    if (dates.includes(keep)) dateSelect.value = keep;
  }

  async function init() {
    const doc = await (await fetch("/layers")).json();
    byId = new Map();
    for (const e of doc.layers) {
      if (!byId.has(e.id)) byId.set(e.id, []);
      byId.get(e.id).push(e);
    }
    if (byId.size === 0) { status.textContent = "No published layers yet: run the nightly flow."; return; }
    // The water classes first: what most visitors come for.
    const ids = [...byId.keys()].sort((a, b) => (b.startsWith("water-") - a.startsWith("water-")) || a.localeCompare(b));
    layerSelect.innerHTML = ids
      .map((id) => `<option value="${id}">${byId.get(id)[0].title} (${byId.get(id)[0].aoi})</option>`).join("");
    fillDates();
    await show();
  }

  // The water-area series of one water body: gap-filled area with its bounds, unusable looks hollow,
  // alerts circled in red. Drawn as plain SVG (no chart library, nothing fetched from elsewhere).
  const panel = document.getElementById("series-panel");
  const bodySelect = document.getElementById("body");
  const langSelect = document.getElementById("lang");
  const chart = document.getElementById("chart");
  const note = document.getElementById("chart-note");
  let bodies = [];

  function fillBodies() {
    const lang = langSelect.value;
    const keep = bodySelect.value;
    bodySelect.innerHTML = bodies
      .map((b) => `<option value="${b.id}">${b["name_" + lang] || b.name_en || b.id}</option>`).join("");
    if (keep) bodySelect.value = keep;
  }

  function svg(tag, attrs, text) {
    const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    if (text !== undefined) el.textContent = text;
    return el;
  }

  async function drawSeries() {
    chart.innerHTML = "";
    const response = await fetch(`/water-bodies/${encodeURIComponent(bodySelect.value)}/series`);
    if (!response.ok) { note.textContent = "No observations yet."; return; }
    const doc = await response.json();
    const obs = doc.observations.filter((o) => o.water_km2 !== null);
    if (obs.length === 0) { note.textContent = "No measured observation yet."; return; }
    const t = obs.map((o) => Date.parse(o.date));
    const area = (o) => (o.filled_km2 ?? o.water_km2);
    const hi = Math.max(...obs.map((o) => o.filled_high_km2 ?? area(o))) * 1.05 || 1;
    const [t0, t1] = [Math.min(...t), Math.max(...t) + 1];
    const x = (d) => 30 + ((Date.parse(d) - t0) / (t1 - t0)) * 280;
    const y = (v) => 160 - (v / hi) * 145;
    chart.append(svg("line", { x1: 30, y1: 160, x2: 310, y2: 160, class: "axis" }),
      svg("line", { x1: 30, y1: 15, x2: 30, y2: 160, class: "axis" }),
      svg("text", { x: 2, y: 18 }, `${hi.toFixed(1)} km²`), svg("text", { x: 2, y: 160 }, "0"),
      svg("text", { x: 30, y: 175 }, obs[0].date), svg("text", { x: 250, y: 175 }, obs[obs.length - 1].date));
    const alerted = new Set(doc.alerts.map((a) => `${a.date} ${a.sensor}`));
    for (const o of obs) {
      if (o.filled_low_km2 !== null && o.filled_high_km2 !== null && o.filled_high_km2 > o.filled_low_km2) {
        chart.append(svg("line", { x1: x(o.date), x2: x(o.date), y1: y(o.filled_low_km2), y2: y(o.filled_high_km2), class: "bounds" }));
      }
      const dot = svg("circle", { cx: x(o.date), cy: y(area(o)), r: 2.5, class: o.usable ? "usable" : "unusable" });
      dot.append(svg("title", {}, `${o.date} ${o.sensor}: ${area(o).toFixed(2)} km² (${o.quality}${o.excluded ? ", excluded" : ""})`));
      chart.append(dot);
      if (alerted.has(`${o.date} ${o.sensor}`)) chart.append(svg("circle", { cx: x(o.date), cy: y(area(o)), r: 5, class: "alert" }));
    }
    const usable = obs.filter((o) => o.usable).length;
    note.textContent = `${obs.length} observations, ${usable} usable; ${doc.alerts.length} alert(s).`;
  }

  async function initSeries() {
    const doc = await (await fetch("/water-bodies")).json();
    bodies = doc.water_bodies;
    if (bodies.length === 0) return;
    panel.hidden = false;
    fillBodies();
    await drawSeries();
  }

  bodySelect.addEventListener("change", drawSeries);
  langSelect.addEventListener("change", fillBodies);
  layerSelect.addEventListener("change", () => { fillDates(); show(); });
  dateSelect.addEventListener("change", show);
  opacity.addEventListener("input", () => current && current.setOpacity(Number(opacity.value)));
  init().catch((err) => { status.textContent = `Error: ${err}`; });
  initSeries().catch((err) => { note.textContent = `Error: ${err}`; });
})();

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

  layerSelect.addEventListener("change", () => { fillDates(); show(); });
  dateSelect.addEventListener("change", show);
  opacity.addEventListener("input", () => current && current.setOpacity(Number(opacity.value)));
  init().catch((err) => { status.textContent = `Error: ${err}`; });
})();

// The viewer: published layers and dates, legend, downloads, a pixel's time series on click, and
// each water body's area series. Everything comes from this server; nothing is fetched elsewhere.
(function () {
  "use strict";
  const TEXT = {
    en: { key: "● area (gap-filled; bars: bounds) · ○ not usable · ▪ seen before filling · red ring: alert", title: "Water monitoring", layer: "Layer", date: "Date", opacity: "Opacity", download: "Download",
      loading: "Loading layers…", pixel: "Pixel through time", series: "Water area through time",
      body: "Water body", none: "No published layers yet: run the nightly flow.", click: "Click the map for a pixel's values.",
      observations: (n, u, a) => `${n} observations, ${u} usable; ${a} alert(s).`, noObs: "No observations yet.",
      value: "value", outside: "Outside the layer.", notSeen: "not seen" },
    ru: { key: "● площадь (с заполнением; отрезки: границы) · ○ непригодно · ▪ видимая часть · красное кольцо: оповещение", title: "Мониторинг водных объектов", layer: "Слой", date: "Дата", opacity: "Прозрачность",
      download: "Скачать", loading: "Загрузка слоёв…", pixel: "Пиксель во времени", series: "Площадь воды во времени",
      body: "Водный объект", none: "Слоёв пока нет: запустите ночной расчёт.", click: "Щёлкните по карте, чтобы увидеть значения пикселя.",
      observations: (n, u, a) => `${n} наблюдений, ${u} пригодных; оповещений: ${a}.`, noObs: "Наблюдений пока нет.",
      value: "значение", outside: "Вне слоя.", notSeen: "не видно" },
    kk: { key: "● аудан (толтырылған; сызықтар: шектер) · ○ жарамсыз · ▪ толтыруға дейін көрінгені · қызыл сақина: ескерту", title: "Су нысандарының мониторингі", layer: "Қабат", date: "Күні", opacity: "Мөлдірлік",
      download: "Жүктеу", loading: "Қабаттар жүктелуде…", pixel: "Пиксель уақыт бойынша", series: "Су ауданы уақыт бойынша",
      body: "Су нысаны", none: "Қабаттар әлі жоқ: түнгі есептеуді іске қосыңыз.", click: "Пиксель мәндерін көру үшін картаны басыңыз.",
      observations: (n, u, a) => `${n} бақылау, ${u} жарамды; ескертулер: ${a}.`, noObs: "Бақылаулар әлі жоқ.",
      value: "мәні", outside: "Қабаттан тыс.", notSeen: "көрінбейді" },
  };
  const $ = (id) => document.getElementById(id);
  const map = L.map("map", { zoomControl: true }).setView([43.9, 77.3], 10);
  const ui = { lang: $("ui-lang"), layer: $("layer"), date: $("date"), dateLabel: $("date-label"), opacity: $("opacity"),
    legend: $("legend"), status: $("status"), cog: $("dl-cog"), item: $("dl-item") };
  let lang = (navigator.language || "kk").slice(0, 2);
  if (!TEXT[lang]) lang = "kk";
  let byId = new Map();
  let current = null;
  let fitted = false;
  let lastClick = null;
  const t = (key) => TEXT[lang][key];

  function translate() {
    document.documentElement.lang = lang;
    ui.lang.value = lang;
    for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
    fillBodies();
  }

  function rgba(c) { return `rgba(${c[0]},${c[1]},${c[2]},${(c[3] ?? 255) / 255})`; }

  function showLegend(doc) {
    ui.legend.replaceChildren();
    if (doc.type === "classes") {
      for (const cls of doc.classes.filter((c) => c.color[3] > 0)) {
        const row = document.createElement("div");
        row.className = "row";
        const swatch = document.createElement("span");
        swatch.className = "swatch";
        swatch.style.background = rgba(cls.color);
        row.append(swatch, document.createTextNode(cls.label));
        ui.legend.appendChild(row);
      }
    } else {
      const ramp = document.createElement("div");
      ramp.className = "ramp";
      ramp.style.background = `linear-gradient(to right,${doc.colors.map(rgba).join(",")})`;
      const range = document.createElement("div");
      range.className = "range";
      range.innerHTML = `<span>${Number(doc.range[0])}</span><span>${Number(doc.range[1])}</span>`;
      ui.legend.append(ramp, range);
    }
  }

  function entries() { return byId.get(ui.layer.value) || []; }
  function selected() { return entries()[Number(ui.date.value)]; }

  async function show() {
    const entry = selected();
    if (!entry) return;
    ui.dateLabel.textContent = entry.date;
    const tj = await (await fetch(entry.tilejson)).json();
    const next = L.tileLayer(tj.tiles[0], {
      minZoom: 0, maxZoom: 18, maxNativeZoom: tj.maxzoom, opacity: Number(ui.opacity.value),
      bounds: L.latLngBounds([tj.bounds[1], tj.bounds[0]], [tj.bounds[3], tj.bounds[2]]),
    }).addTo(map);
    if (current) map.removeLayer(current);
    current = next;
    if (!fitted) { map.fitBounds([[tj.bounds[1], tj.bounds[0]], [tj.bounds[3], tj.bounds[2]]]); fitted = true; }
    showLegend(await (await fetch(entry.legend)).json());
    ui.cog.href = entry.cog;
    ui.item.href = entry.item;
    ui.status.textContent = tj.name;
    if (lastClick) await queryPixel(lastClick);
  }

  function fillDates() {
    const keep = selected() && selected().date;
    const list = entries();
    ui.date.max = String(Math.max(list.length - 1, 0));
    const at = list.findIndex((e) => e.date === keep);
    ui.date.value = String(at >= 0 ? at : list.length - 1);
  }

  async function init() {
    const doc = await (await fetch("/layers")).json();
    byId = new Map();
    for (const e of doc.layers) {
      if (!byId.has(e.id)) byId.set(e.id, []);
      byId.get(e.id).push(e);
    }
    for (const list of byId.values()) list.sort((a, b) => a.date.localeCompare(b.date));
    if (byId.size === 0) { ui.status.textContent = t("none"); return; }
    // The water classes first: what most visitors come for.
    const first = (id) => (byId.get(id)[0].product === "water" ? 0 : 1);
    const ids = [...byId.keys()].sort((a, b) => (first(a) - first(b)) || a.localeCompare(b));
    ui.layer.replaceChildren(...ids.map((id) => new Option(`${byId.get(id)[0].title} (${byId.get(id)[0].aoi})`, id)));
    fillDates();
    await show();
  }

  function svg(tag, attrs, text) {
    const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    if (text !== undefined) el.textContent = text;
    return el;
  }

  // A pixel's values through time (GET /layers/{id}/point), the selected date ringed.
  async function queryPixel(latlng) {
    lastClick = latlng;
    const panel = $("pixel-panel");
    const chart = $("pixel-chart");
    const label = $("pixel-value");
    panel.hidden = false;
    chart.replaceChildren();
    const url = `/layers/${encodeURIComponent(ui.layer.value)}/point?lon=${latlng.lng.toFixed(6)}&lat=${latlng.lat.toFixed(6)}`;
    const response = await fetch(url);
    if (!response.ok) { label.textContent = t("outside"); return; }
    const doc = await response.json();
    const entry = selected();
    const now = doc.values.find((v) => v.date === entry.date);
    const shown = (v) => (v.value === null ? t("notSeen") : (v.label ?? v.value));
    label.textContent = `${latlng.lat.toFixed(4)}, ${latlng.lng.toFixed(4)} · ${entry.date}: ${now ? shown(now) : "–"}`;
    const seen = doc.values.filter((v) => v.value !== null);
    if (seen.length === 0) return;
    const times = doc.values.map((v) => Date.parse(v.date));
    const [t0, t1] = [Math.min(...times), Math.max(...times) + 1];
    const lo = Math.min(...seen.map((v) => v.value));
    const hi = Math.max(...seen.map((v) => v.value));
    const x = (d) => 20 + ((Date.parse(d) - t0) / (t1 - t0)) * 290;
    const y = (v) => 75 - ((v - lo) / ((hi - lo) || 1)) * 65;
    chart.append(svg("line", { x1: 20, y1: 80, x2: 310, y2: 80, class: "axis" }),
      svg("text", { x: 0, y: 12 }, String(hi)), svg("text", { x: 0, y: 78 }, String(lo)));
    chart.append(svg("polyline", { points: seen.map((v) => `${x(v.date)},${y(v.value)}`).join(" "), class: "trace" }));
    for (const v of seen) {
      const dot = svg("circle", { cx: x(v.date), cy: y(v.value), r: v.date === entry.date ? 4 : 2, class: v.date === entry.date ? "selected" : "usable" });
      dot.append(svg("title", {}, `${v.date}: ${shown(v)}`));
      chart.append(dot);
    }
  }

  // The water-area series of one water body: gap-filled area with its bounds, unusable looks hollow,
  // alerts circled in red. Drawn as plain SVG (no chart library, nothing fetched from elsewhere).
  const bodySelect = $("body");
  const chart = $("chart");
  const note = $("chart-note");
  let bodies = [];

  function fillBodies() {
    const keep = bodySelect.value;
    bodySelect.replaceChildren(...bodies.map((b) => new Option(b["name_" + lang] || b.name_en || b.id, b.id)));
    if (keep) bodySelect.value = keep;
  }

  async function drawSeries() {
    chart.replaceChildren();
    const response = await fetch(`/water-bodies/${encodeURIComponent(bodySelect.value)}/series`);
    if (!response.ok) { note.textContent = t("noObs"); return; }
    const doc = await response.json();
    const obs = doc.observations.filter((o) => o.water_km2 !== null);
    if (obs.length === 0) { note.textContent = t("noObs"); return; }
    const times = obs.map((o) => Date.parse(o.date));
    const area = (o) => (o.filled_km2 ?? o.water_km2);
    const hi = Math.max(...obs.map((o) => o.filled_high_km2 ?? area(o))) * 1.05 || 1;
    const [t0, t1] = [Math.min(...times), Math.max(...times) + 1];
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
      if (o.filled_km2 !== null && Math.abs(o.filled_km2 - o.water_km2) > 1e-6) {
        // What was seen before gap filling: the measured (partly hidden) area.
        chart.append(svg("rect", { x: x(o.date) - 1.5, y: y(o.water_km2) - 1.5, width: 3, height: 3, class: "observed" }));
      }
      const dot = svg("circle", { cx: x(o.date), cy: y(area(o)), r: 2.5, class: o.usable ? "usable" : "unusable" });
      dot.append(svg("title", {}, `${o.date} ${o.sensor}: ${area(o).toFixed(2)} km² (${o.quality}${o.excluded ? ", excluded" : ""})`));
      chart.append(dot);
      if (alerted.has(`${o.date} ${o.sensor}`)) chart.append(svg("circle", { cx: x(o.date), cy: y(area(o)), r: 5, class: "alert" }));
    }
    note.textContent = t("observations")(obs.length, obs.filter((o) => o.usable).length, doc.alerts.length);
  }

  async function initSeries() {
    const doc = await (await fetch("/water-bodies")).json();
    bodies = doc.water_bodies;
    if (bodies.length === 0) return;
    $("series-panel").hidden = false;
    fillBodies();
    await drawSeries();
  }

  const report = (err) => { ui.status.textContent = `Error: ${err}`; };
  bodySelect.addEventListener("change", () => drawSeries().catch(report));
  ui.lang.addEventListener("change", () => { lang = ui.lang.value; translate(); drawSeries().catch(report); });
  ui.layer.addEventListener("change", () => { fillDates(); show().catch(report); });
  ui.date.addEventListener("input", () => show().catch(report));
  ui.opacity.addEventListener("input", () => current && current.setOpacity(Number(ui.opacity.value)));
  map.on("click", (e) => queryPixel(e.latlng).catch(report));
  translate();
  init().catch(report);
  initSeries().catch(report);
})();

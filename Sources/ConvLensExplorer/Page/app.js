// ConvLens explorer: the page. Every picture comes from the JSON/PNG API under /api/ (Docs/Explorer.md).
"use strict";

const $ = (id) => document.getElementById(id);
const S = {
  client: Math.random().toString(36).slice(2, 10),
  model: null, images: [], image: "b0", layer: 0, unit: 0, pos: null,
  rule: "deconvnet", display: "norm", seed: "unit",
  scale: "layer", boost: 0, gamma: 1, colormap: "gray",
  frozen: null, signal: false,
  camera: null, cameraFrozen: false, view: "projection",
};
const BOOSTS = [0, 0.25, 0.5, 0.75, 1];
const GAMMAS = [0.25, 0.5, 0.75, 1, 1.5, 2];
const controllers = {};
window.convlens = S; // for tests and the console

function layer() { return S.model.layers[S.layer]; }

function status(text, error) {
  const el = $("status");
  el.textContent = text;
  el.className = error ? "error" : "";
}

// Query strings with %20 for spaces (URLSearchParams writes "+", which the server reads literally).
function query(params) {
  return new URLSearchParams(params).toString().replace(/\+/g, "%20");
}

function url(path, params) {
  return "/api/" + path + "?" + query(params);
}

// Fetches into an <img>, latest wins per lane: the previous request of the lane is aborted, and the
// server drops a request of this client and lane that a newer one superseded (409).
async function show(img, lane, path, params) {
  if (controllers[lane]) controllers[lane].abort();
  const ctl = new AbortController();
  controllers[lane] = ctl;
  const started = performance.now();
  try {
    const res = await fetch(url(path, { ...params, client: S.client, lane }), { signal: ctl.signal });
    if (res.status === 409) return false;
    if (!res.ok) {
      const body = await res.json().catch(() => ({ error: res.statusText }));
      if (ctl.signal.aborted) return false;
      if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
      img.removeAttribute("src");
      img.dataset.error = body.error;
      status(body.error, true);
      return false;
    }
    const blob = await res.blob();
    if (ctl.signal.aborted) return false;
    const old = img.src;
    img.src = URL.createObjectURL(blob);
    if (old.startsWith("blob:")) URL.revokeObjectURL(old);
    delete img.dataset.error;
    if ($("status").className === "error") status("");
    img.dataset.ms = (performance.now() - started).toFixed(1);
    img.dataset.request = url(path, params);
    return true;
  } catch (e) {
    if (e.name !== "AbortError") status(String(e), true);
    return false;
  } finally {
    if (controllers[lane] === ctl) delete controllers[lane];
  }
}

async function getJSON(path, params) {
  const res = await fetch(url(path, params || {}));
  const body = await res.json();
  if (!res.ok) throw new Error(body.error);
  return body;
}

function fill(select, values, current) {
  select.innerHTML = "";
  for (const v of values) {
    const o = document.createElement("option");
    o.value = String(v); o.textContent = String(v);
    select.appendChild(o);
  }
  select.value = String(current);
}

function seedParams() {
  const s = S.frozen || { layer: S.layer, unit: S.unit, pos: S.pos, seed: S.seed };
  const p = { image: S.image, layer: S.model.layers[s.layer].name, unit: s.unit, rule: S.rule, display: S.display, seed: s.seed };
  if (s.pos && s.seed === "unit") { p.y = s.pos[0]; p.x = s.pos[1]; }
  return p;
}

function drawParams() {
  return { scale: S.scale, boost: S.boost, gamma: S.gamma, colormap: S.colormap };
}

// --- views ---

function refreshInput() {
  show($("input"), "input", "input.png", { image: S.image });
  refreshPredictions();
}

function refreshPredictions() {
  const image = S.image;
  getJSON("predictions", { image, top: 5 }).then((d) => {
    if (image !== S.image) return;   // a newer image was chosen meanwhile
    const ol = $("predictions");
    ol.innerHTML = "";
    for (const p of d.predictions) {
      const li = document.createElement("li");
      li.textContent = `${p.label}  ${(100 * p.probability).toFixed(1)}%`;
      ol.appendChild(li);
    }
  }).catch((e) => status(e.message, true));
}

function refreshGrid() {
  const l = layer();
  $("layerTitle").textContent = `#${l.index} ${l.name}  ${l.op}  [${l.shape.join(", ")}]` +
    (l.receptive_field ? `  field ${l.receptive_field.size.map((v) => Math.round(v)).join("×")}` : "");
  if (S.signal && S.frozen) {
    show($("grid"), "grid", "signal.png", { ...seedParams(), layer: l.name, from: S.model.layers[S.frozen.layer].name, ...drawParams() });
  } else {
    show($("grid"), "grid", "activations.png", { image: S.image, layer: l.name, ...drawParams() });
  }
  placeCursor();
}

function refreshUnit() {
  const l = layer();
  $("unitCaption").textContent = `unit ${S.unit} of ${l.channels}` + (S.pos ? ` at (${S.pos[0]}, ${S.pos[1]})` : "");
  show($("unit"), "unit", "unit.png", { image: S.image, layer: l.name, unit: S.unit, colormap: S.colormap === "gray" ? "viridis" : S.colormap });
  if (l.has_filters) {
    $("filters").hidden = false;
    $("filtersCaption").textContent = `filters of unit ${S.unit}`;
    show($("filters"), "filters", "filters.png", { layer: l.name, unit: S.unit });
  } else {
    $("filters").hidden = true;
    $("filtersCaption").textContent = "filters: not a convolution";
  }
}

function refreshTopK() {
  const l = layer();
  const scanned = S.model.scanned_layers.includes(l.name);
  $("topkFigure").hidden = !scanned;
  if (!scanned) return;
  $("topkCaption").textContent = `unit ${S.unit}: its top images in the scan and their ${S.rule} projections`;
  show($("topk"), "topk", "topk.png", { layer: l.name, unit: S.unit, rule: S.rule, display: S.display });
}

function refreshBack() {
  const p = seedParams();
  const s = S.frozen || { layer: S.layer, unit: S.unit };
  $("backCaption").textContent = `${S.rule} · ${S.display} · ${p.seed} seed of #${S.model.layers[s.layer].index} unit ${s.unit}` + (S.frozen ? " (frozen)" : "");
  show($("back"), "back", "projection.png", p);
}

function refreshAll() { refreshInput(); refreshGrid(); refreshUnit(); refreshBack(); refreshTopK(); renderLayers(); }

function placeCursor() {
  const l = layer(), g = l.grid, img = $("grid"), c = $("cursor");
  const k = img.clientWidth ? img.clientWidth / g.width : 1;
  const row = Math.floor(S.unit / g.columns), col = S.unit % g.columns;
  c.style.left = `${col * g.cell_width * k}px`;
  c.style.top = `${row * g.cell_height * k}px`;
  c.style.width = `${g.cell_width * k}px`;
  c.style.height = `${g.cell_height * k}px`;
}

function renderLayers() {
  const ul = $("layers");
  if (ul.children.length !== S.model.layers.length) {
    ul.innerHTML = "";
    S.model.layers.forEach((l, i) => {
      const li = document.createElement("li");
      const rf = l.receptive_field ? ` rf ${Math.round(l.receptive_field.size[0])}` : "";
      li.textContent = `#${l.index} ${l.op} [${l.shape.slice(1).join("×")}]${rf} ${l.name}`;
      li.title = li.textContent;
      li.onclick = () => selectLayer(i);
      ul.appendChild(li);
    });
  }
  [...ul.children].forEach((li, i) => {
    li.classList.toggle("selected", i === S.layer);
    li.classList.toggle("frozen", !!S.frozen && S.frozen.layer === i);
  });
  const sel = ul.children[S.layer];
  if (sel) sel.scrollIntoView({ block: "nearest" });
}

// --- actions ---

function selectLayer(i) {
  S.layer = Math.max(0, Math.min(S.model.layers.length - 1, i));
  S.unit = Math.min(S.unit, layer().channels - 1);
  S.pos = null;
  refreshGrid(); refreshUnit(); refreshTopK(); renderLayers();
  if (!S.frozen) refreshBack();
}

function selectUnit(u) {
  const n = layer().channels;
  if (u < 0 || u >= n) return;
  S.unit = u; S.pos = null;
  placeCursor(); refreshUnit(); refreshTopK();
  if (!S.frozen) refreshBack();
}

function selectImage(id) {
  S.image = id;
  $("imageSelect").value = id;
  refreshAll();
}

function cycle(values, current, step) {
  const i = values.indexOf(current);
  return values[(i + step + values.length) % values.length];
}

function setFreeze(on) {
  S.frozen = on ? { layer: S.layer, unit: S.unit, pos: S.pos, seed: S.seed } : null;
  if (!on) S.signal = false;
  $("freeze").checked = !!S.frozen; $("signal").checked = S.signal;
  renderLayers(); refreshBack(); refreshGrid();
}

function setSignal(on) {
  S.signal = on && !!S.frozen;
  $("signal").checked = S.signal;
  if (on && !S.frozen) status("freeze a seed first (d), then browse to a lower layer", true);
  refreshGrid();
}

function syncControls() {
  $("rule").value = S.rule; $("display").value = S.display; $("seed").value = S.seed;
  $("scale").value = S.scale; $("boost").value = String(S.boost); $("gamma").value = String(S.gamma);
  $("colormap").value = S.colormap;
}

async function reloadImages(select) {
  S.images = await getJSON("images");
  const sel = $("imageSelect");
  sel.innerHTML = "";
  for (const im of S.images) {
    const o = document.createElement("option");
    o.value = im.id; o.textContent = `${im.name} (${im.source})`;
    sel.appendChild(o);
  }
  if (select) S.image = select;
  sel.value = S.image;
}

function stepImage(k) {
  const files = S.images.filter((im) => im.source !== "camera");
  const i = files.findIndex((im) => im.id === S.image);
  const next = files[(i + k + files.length) % files.length];
  if (next) selectImage(next.id);
}

async function postImage(blob, name, camera) {
  const q = query({ name, ...(camera ? { source: "camera" } : {}) });
  const res = await fetch("/api/images?" + q, { method: "POST", body: blob });
  const body = await res.json();
  if (!res.ok) throw new Error(body.error);
  return body;
}

async function upload(file) {
  try {
    const doc = await postImage(file, file.name, false);
    await reloadImages(doc.id);
    status(`uploaded ${doc.name}`);
    refreshAll();
  } catch (e) { status(e.message, true); }
}

async function toggleCamera() {
  S.cameraGeneration = (S.cameraGeneration || 0) + 1;   // ends a loop still waiting on a frame
  if (S.camera) {
    S.camera.getTracks().forEach((t) => t.stop());
    S.camera = null;
    $("video").hidden = true; $("cameraButton").classList.remove("on");
    return;
  }
  try {
    S.camera = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 } });
  } catch (e) { status("camera: " + e.message, true); return; }
  const v = $("video");
  v.srcObject = S.camera; v.hidden = false; await v.play();
  $("cameraButton").classList.add("on");
  cameraLoop();
}

// One frame at a time: grab (mirrored), post, show its views, then the next frame.
async function cameraLoop() {
  const v = $("video"), canvas = $("frame"), generation = S.cameraGeneration;
  let frames = 0, started = performance.now();
  while (S.camera && S.cameraGeneration === generation) {
    if (S.cameraFrozen || !v.videoWidth) { await new Promise((r) => setTimeout(r, 100)); continue; }
    canvas.width = v.videoWidth; canvas.height = v.videoHeight;
    const ctx = canvas.getContext("2d");
    ctx.setTransform(-1, 0, 0, 1, canvas.width, 0);
    ctx.drawImage(v, 0, 0);
    const blob = await new Promise((r) => canvas.toBlob(r, "image/jpeg", 0.9));
    try {
      const doc = await postImage(blob, "camera.jpg", true);
      if (S.cameraGeneration !== generation) break;
      S.image = doc.id;
      refreshUnit();
      refreshPredictions();
      await Promise.all([show($("input"), "input", "input.png", { image: S.image }), refreshGridAwait(), refreshBackAwait()]);
      frames += 1;
      const fps = frames / ((performance.now() - started) / 1000);
      status(`camera ${fps.toFixed(1)} frames/s`);
      S.fps = fps;
    } catch (e) { status(e.message, true); await new Promise((r) => setTimeout(r, 500)); }
  }
  reloadImages();
}

function refreshGridAwait() {
  const l = layer();
  if (S.signal && S.frozen) return show($("grid"), "grid", "signal.png", { ...seedParams(), layer: l.name, from: S.model.layers[S.frozen.layer].name, ...drawParams() });
  return show($("grid"), "grid", "activations.png", { image: S.image, layer: l.name, ...drawParams() });
}

function refreshBackAwait() { return show($("back"), "back", "projection.png", seedParams()); }

function viewParams() {
  const p = { ...seedParams(), ...drawParams(), view: S.view };
  if (S.view !== "projection") { p.layer = layer().name; p.unit = S.unit; }
  return p;
}

async function copyCommand() {
  try {
    const d = await getJSON("command", viewParams());
    $("command").textContent = d.command;
    if (navigator.clipboard) await navigator.clipboard.writeText(d.command).catch(() => {});
    status("command copied");
  } catch (e) { status(e.message, true); }
}

async function saveView() {
  try {
    const res = await fetch(url("save", viewParams()), { method: "POST" });
    const d = await res.json();
    if (!res.ok) throw new Error(d.error);
    $("command").textContent = `${d.folder}\n  ${d.files.join("\n  ")}\n\n${d.command}`;
    status(`saved ${d.files.length} files in ${d.folder}`);
  } catch (e) { status(e.message, true); }
}

// --- input ---

function onKey(e) {
  if (e.target.tagName === "INPUT" || e.target.tagName === "SELECT" || e.ctrlKey || e.metaKey || e.altKey) return;
  const g = layer().grid;
  const k = e.key;
  const actions = {
    ArrowLeft: () => selectUnit(S.unit - 1), j: () => selectUnit(S.unit - 1),
    ArrowRight: () => selectUnit(S.unit + 1), l: () => selectUnit(S.unit + 1),
    ArrowUp: () => selectUnit(S.unit - g.columns), i: () => selectUnit(S.unit - g.columns),
    ArrowDown: () => selectUnit(S.unit + g.columns), k: () => selectUnit(S.unit + g.columns),
    u: () => selectLayer(S.layer - 1), o: () => selectLayer(S.layer + 1),
    b: () => { S.rule = cycle(S.model.rules, S.rule, 1); syncControls(); refreshBack(); refreshTopK(); if (S.signal) refreshGrid(); },
    m: () => { S.display = cycle(S.model.displays, S.display, 1); syncControls(); refreshBack(); refreshTopK(); },
    e: () => { S.seed = cycle(S.model.seeds, S.seed, 1); if (S.frozen) S.frozen.seed = S.seed; syncControls(); refreshBack(); },
    t: () => { S.boost = cycle(BOOSTS, S.boost, 1); syncControls(); refreshGrid(); },
    T: () => { S.boost = cycle(BOOSTS, S.boost, -1); syncControls(); refreshGrid(); },
    d: () => setFreeze(!S.frozen),
    a: () => setSignal(!S.signal),
    f: () => { S.cameraFrozen = !S.cameraFrozen; status(S.cameraFrozen ? "camera frozen (f)" : "camera live"); },
    ",": () => stepImage(-1), ".": () => stepImage(1),
    s: () => saveView(), c: () => copyCommand(),
    h: () => { $("help").hidden = !$("help").hidden; },
    Escape: () => { $("help").hidden = true; if (S.pos) { S.pos = null; refreshUnit(); if (!S.frozen) refreshBack(); } },
  };
  if (actions[k]) { e.preventDefault(); actions[k](); }
}

function onGridClick(e) {
  const l = layer(), g = l.grid, img = $("grid");
  const k = g.width / img.clientWidth;
  const col = Math.floor(e.offsetX * k / g.cell_width), row = Math.floor(e.offsetY * k / g.cell_height);
  if (col < g.columns) selectUnit(row * g.columns + col);
}

function onUnitClick(e) {
  const l = layer(), img = $("unit");
  if (l.height * l.width <= 1 || !img.naturalWidth) return;
  // The picture is letterboxed in its box (object-fit: contain).
  const k = Math.min(img.clientWidth / img.naturalWidth, img.clientHeight / img.naturalHeight);
  const x = e.offsetX - (img.clientWidth - img.naturalWidth * k) / 2, y = e.offsetY - (img.clientHeight - img.naturalHeight * k) / 2;
  if (x < 0 || y < 0 || x >= img.naturalWidth * k || y >= img.naturalHeight * k) return;
  S.pos = [Math.min(l.height - 1, Math.floor(y / (img.naturalHeight * k) * l.height)),
           Math.min(l.width - 1, Math.floor(x / (img.naturalWidth * k) * l.width))];
  refreshUnit();
  if (!S.frozen) refreshBack();
}

async function main() {
  try {
    S.model = await getJSON("model");
  } catch (e) { status("cannot load the model description: " + e.message, true); return; }
  $("modelName").textContent = `${S.model.name} · input [${S.model.input.join(", ")}] · ${S.model.layers.length} layers`;
  fill($("rule"), S.model.rules, S.rule);
  fill($("display"), S.model.displays, S.display);
  fill($("seed"), S.model.seeds, S.seed);
  fill($("colormap"), S.model.colormaps, S.colormap);
  fill($("boost"), BOOSTS, S.boost);
  fill($("gamma"), GAMMAS, S.gamma);
  // Start at the first rectified spatial layer whose units see at least a quarter of the input.
  const side = Math.max(...S.model.input.slice(-2));
  const wide = (l) => l.height > 1 && l.receptive_field && l.receptive_field.size[0] >= side / 4;
  let start = S.model.layers.findIndex((l) => wide(l) && ["Relu", "Clip", "LeakyRelu"].includes(l.op));
  if (start < 0) start = S.model.layers.findIndex(wide);
  S.layer = start >= 0 ? start : 0;
  await reloadImages();
  $("rule").onchange = (e) => { S.rule = e.target.value; refreshBack(); refreshTopK(); if (S.signal) refreshGrid(); };
  $("display").onchange = (e) => { S.display = e.target.value; refreshBack(); refreshTopK(); };
  $("seed").onchange = (e) => { S.seed = e.target.value; if (S.frozen) S.frozen.seed = S.seed; refreshBack(); };
  $("scale").onchange = (e) => { S.scale = e.target.value; refreshGrid(); };
  $("boost").onchange = (e) => { S.boost = Number(e.target.value); refreshGrid(); };
  $("gamma").onchange = (e) => { S.gamma = Number(e.target.value); refreshGrid(); };
  $("colormap").onchange = (e) => { S.colormap = e.target.value; refreshGrid(); refreshUnit(); };
  $("freeze").onchange = (e) => setFreeze(e.target.checked);
  $("signal").onchange = (e) => setSignal(e.target.checked);
  $("view").onchange = (e) => { S.view = e.target.value; };
  $("imageSelect").onchange = (e) => selectImage(e.target.value);
  $("prevImage").onclick = () => stepImage(-1);
  $("nextImage").onclick = () => stepImage(1);
  $("upload").onchange = (e) => { if (e.target.files[0]) upload(e.target.files[0]); e.target.value = ""; };
  // After a menu or checkbox is used, the keys go to the page again.
  document.querySelectorAll("select, input[type=checkbox]").forEach((el) => el.addEventListener("change", () => el.blur()));
  $("cameraButton").onclick = toggleCamera;
  $("save").onclick = saveView;
  $("copy").onclick = copyCommand;
  $("helpButton").onclick = () => { $("help").hidden = !$("help").hidden; };
  $("grid").onclick = onGridClick;
  $("grid").onload = placeCursor;
  $("unit").onclick = onUnitClick;
  window.addEventListener("resize", placeCursor);
  document.addEventListener("keydown", onKey);
  refreshAll();
  status("ready · h for keys");
}

main();

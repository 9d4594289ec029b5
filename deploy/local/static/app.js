"use strict";
// The API is served from the same origin as this page (deploy/local/http_front.py).
const API = "";
const API_MAX_BODY_BYTES = 4500000;  // POST /images limit; bigger files use POST /uploads
const POLL_MS = 500, POLL_LIMIT_MS = 120000;
const FINAL = new Set(["processed", "rejected", "failed"]);
// What POST /uploads accepts (handlers/sniff.py); a file's own type when it is one of them,
// else its suffix, case-insensitive (an iPhone's IMG_1234.HEIC comes with no type at all).
const ACCEPTED_TYPES = new Set(["image/jpeg", "image/png", "image/gif", "image/webp",
  "image/tiff", "image/bmp", "image/heic", "image/heif", "image/avif"]);
const SUFFIX_TYPES = {
  jpg: "image/jpeg", jpeg: "image/jpeg", jpe: "image/jpeg", jfif: "image/jpeg",
  png: "image/png", apng: "image/png", gif: "image/gif", webp: "image/webp",
  tif: "image/tiff", tiff: "image/tiff", bmp: "image/bmp", dib: "image/bmp",
  heic: "image/heic", heif: "image/heif", hif: "image/heif", avif: "image/avif",
};
const REFUSAL_STATUSES = new Set([400, 413, 415]);  // the API refusing the file itself
const KEPT_KEY = "image-pipeline.refused";  // localStorage: refusals the API did not store
const KEPT_MAX = 50;
const TOKEN_KEY = "image-pipeline.token";  // sessionStorage: gone when the tab closes
const rows = document.getElementById("rows");
const tokenInput = document.getElementById("token");

// Every API call carries the access token when one is given (AUTH_MODE=jwt: an ID token
// in the Authorization header, as API Gateway's Cognito authorizer wants it). Presigned
// S3 uploads and downloads never do: their signature is their authority.
function apiFetch(path, init) {
  const options = Object.assign({}, init || {});
  const token = tokenInput.value.trim();
  if (token) options.headers = Object.assign({}, options.headers || {}, { Authorization: token });
  return fetch(API + path, options);
}
const rowsById = new Map();

function human(bytes) {  // decimal units, like the API's 4.5 MB limit
  if (bytes == null) return "";
  if (bytes >= 1000000) return (bytes / 1000000).toFixed(2) + " MB";
  if (bytes >= 1000) return (bytes / 1000).toFixed(1) + " kB";
  return bytes + " B";
}
function dims(item, prefix) {
  let w = item[prefix + "_width"], h = item[prefix + "_height"];
  // The original upright, as its rendition: EXIF orientations 5-8 swap the stored sides.
  if (prefix === "original" && [5, 6, 7, 8].includes(Number(item.orientation))) [w, h] = [h, w];
  return w != null && h != null ? w + "\u00d7" + h + ", " : "";
}
function renditionUrl(item) {
  return item.download_url || item.processed_url || item.rendition_url || item.url || null;
}
function suffixOf(name) {
  const dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(dot + 1).toLowerCase() : "";
}
function imageType(file) {  // the media type to declare for a presigned upload, or null
  const given = (file.type || "").toLowerCase();
  if (ACCEPTED_TYPES.has(given)) return given;
  return SUFFIX_TYPES[suffixOf(file.name)] || null;
}

// A failure before the API stored anything: shown in the row, kept in this browser.
class Refusal extends Error {
  constructor(status, reason, message) {
    super(message);
    this.status = status;  // "rejected" (the API refused the file), "error", "not sent"
    this.reason = reason;
  }
}

function makeRow(filename) {
  const tr = document.createElement("tr");
  tr.innerHTML = "<td class=file></td><td class=id><code></code></td>" +
    "<td class=state><span class='status uploading'>uploading</span>" +
    "<span class=detail role=button tabindex=0></span><span class=kept></span></td>" +
    "<td class='num original' data-label=original></td>" +
    "<td class='num rendition' data-label=rendition></td><td class=thumb></td>";
  tr.querySelector(".file").textContent = filename;
  const detail = tr.querySelector(".detail");
  const toggle = () => detail.classList.toggle("open");
  detail.addEventListener("click", toggle);
  detail.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") toggle(); });
  rows.prepend(tr);
  return tr;
}

function showStatus(tr, status, reason, message) {
  const span = tr.querySelector(".status");
  span.textContent = reason ? status + " (" + reason + ")" : status;
  span.className = "status " + status.replace(" ", "-");
  const detail = tr.querySelector(".detail");
  detail.textContent = message || "";
  detail.title = message || "";
}

function render(tr, item) {
  if (item.image_id) {
    tr.dataset.imageId = item.image_id;
    tr.querySelector(".id code").textContent = item.image_id;
  }
  if (item.filename && !tr.querySelector(".file").textContent) {
    tr.querySelector(".file").textContent = item.filename;
  }
  showStatus(tr, item.status || "pending", item.error_reason, item.error_message);
  if (item.original_size_bytes != null) {
    tr.querySelector(".original").textContent = dims(item, "original") +
      human(item.original_size_bytes);
  }
  if (item.processed_size_bytes != null) {
    tr.querySelector(".rendition").textContent = dims(item, "processed") +
      human(item.processed_size_bytes);
  }
  if (item.status === "processed") renderSet(tr, item);
  const url = renditionUrl(item);
  const cell = tr.querySelector(".thumb");
  if (item.status === "processed" && url && !cell.querySelector("img")) {
    const link = document.createElement("a");  // the whole rendition, in a new tab
    link.href = url;
    link.target = "_blank";
    link.rel = "noopener";
    link.title = "open the rendition";
    const img = document.createElement("img");
    img.className = "thumb";
    img.alt = "rendition of " + (item.filename || item.image_id);
    img.src = url;
    link.appendChild(img);
    cell.appendChild(link);
  }
}

// --- rendition sets --------------------------------------------------------------------

// Where the snippet's paths point: the processed bucket's keys behind your CDN.
const SNIPPET_BASE = "https://cdn.example.com/";
const FALLBACK_TYPES = new Set(["image/jpeg", "image/png"]);

function renderSet(tr, item) {
  const set = item.renditions || [];
  const cell = tr.querySelector(".rendition");
  let details = cell.querySelector("details.set");
  if (set.length < 2) return;
  if (!details) {
    details = document.createElement("details");
    details.className = "set";
    details.innerHTML = "<summary></summary><ul></ul><div class=snippet hidden>" +
      "<p class=muted>A <code>&lt;picture&gt;</code> for a page; paths are keys in the " +
      "processed bucket, served from your CDN:</p><pre><code></code></pre>" +
      "<button class=link type=button>Copy</button></div>";
    details.querySelector("button").addEventListener("click", () => {
      const text = details.querySelector("pre code").textContent;
      navigator.clipboard.writeText(text).catch(() => {
        window.getSelection().selectAllChildren(details.querySelector("pre code"));
      });
    });
    // A listing leaves out the signed URLs; one image's view has them.
    details.addEventListener("toggle", async () => {
      if (!details.open || set.some((e) => e.url) || details.dataset.fetched) return;
      details.dataset.fetched = "1";
      const response = await apiFetch("/images/" + encodeURIComponent(item.image_id));
      if (response.ok) renderSet(tr, await response.json());
    });
    cell.appendChild(details);
  }
  details.querySelector("summary").textContent = set.length + " renditions";
  const list = details.querySelector("ul");
  list.replaceChildren(...set.map((entry) => {
    const li = document.createElement("li");
    const label = entry.name + " " + entry.format + " " + entry.width + "\u00d7" +
      entry.height + ", " + human(entry.bytes);
    if (entry.url) {
      const link = document.createElement("a");
      link.href = entry.url;
      link.target = "_blank";
      link.rel = "noopener";
      link.textContent = label;
      li.appendChild(link);
    } else {
      li.textContent = label;
    }
    return li;
  }));
  const snippet = pictureSnippet(item);
  details.querySelector(".snippet").hidden = !snippet;
  details.querySelector("pre code").textContent = snippet || "";
}

// <picture> with a srcset per type, when the set has several widths of a JPEG/PNG
// fallback (the web presets). The width steps are the renditions after the default, and
// the default itself where a step collapsed into it (web: w500's JPEG is the default).
function pictureSnippet(item) {
  const listed = item.renditions || [];
  const byKey = new Map(listed.map((entry) => [entry.key, entry]));
  const steps = listed.slice(1);
  for (const collapsed of item.collapsed || []) {
    const same = byKey.get(collapsed.same_as);
    if (same && !steps.includes(same)) steps.push(same);
  }
  const byType = new Map();
  for (const entry of steps) {
    if (!byType.has(entry.content_type)) byType.set(entry.content_type, []);
    byType.get(entry.content_type).push(entry);
  }
  const fallback = [...byType.keys()].find((type) => FALLBACK_TYPES.has(type));
  if (!fallback || byType.get(fallback).length < 2) return null;
  const path = (key) => SNIPPET_BASE + key.split("/").map(encodeURIComponent).join("/");
  const srcset = (entries) => entries.slice().sort((a, b) => a.width - b.width)
    .map((e) => path(e.key) + " " + e.width + "w").join(", ");
  const lines = ["<picture>"];
  for (const [type, entries] of byType) {
    if (type === fallback) continue;
    lines.push('  <source type="' + type + '" sizes="100vw"', '    srcset="' + srcset(entries) + '">');
  }
  const fallbacks = byType.get(fallback);
  const largest = fallbacks.reduce((a, b) => (b.width > a.width ? b : a));
  const colour = /^#[0-9a-f]{6}$/.test(item.dominant_color || "") ? item.dominant_color : null;
  lines.push('  <img src="' + path(largest.key) + '" sizes="100vw"',
    '    srcset="' + srcset(fallbacks) + '"',
    '    width="' + largest.width + '" height="' + largest.height + '" alt=""' +
    ' loading="lazy" decoding="async"' + (colour ? ' style="background:' + colour + '"' : "") + ">",
    "</picture>");
  return lines.join("\n");
}

async function refusal(response) {
  let code = null, message = null;
  try {
    const body = await response.json();
    if (body.error) { code = body.error.code; message = body.error.message; }
    else if (body.message) message = body.message;
  } catch (e) { /* not JSON */ }
  const refused = REFUSAL_STATUSES.has(response.status);
  return new Refusal(refused ? "rejected" : "error", code || "http_" + response.status,
                     message || "HTTP " + response.status);
}

async function upload(file) {
  if (file.size <= API_MAX_BODY_BYTES) {
    const form = new FormData();
    form.append("file", file, file.name);
    const response = await apiFetch("/images", { method: "POST", body: form });
    if (!response.ok) throw await refusal(response);
    return (await response.json()).image_id;
  }
  // Large file: ask for a presigned S3 POST, then send the file straight to S3. S3 holds
  // the upload to the declared type, so the page has to know it.
  const type = imageType(file);
  if (!type) {
    const suffix = suffixOf(file.name);
    throw new Refusal("not sent", "unknown_type",
      "Not an image type the pipeline takes: " +
      (suffix ? "\u201c." + suffix + "\u201d" : "no suffix") +
      (file.type ? " (" + file.type + ")" : "") +
      ". Files over 4.5 MB need an image suffix: .jpg .png .gif .webp .tif .bmp .heic .avif.");
  }
  const response = await apiFetch("/uploads", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ filename: file.name, content_type: type, size_bytes: file.size }),
  });
  if (!response.ok) throw await refusal(response);
  const grant = await response.json();
  const post = grant.upload || grant;
  const form = new FormData();
  for (const [name, value] of Object.entries(post.fields)) form.append(name, value);
  form.append("file", file, file.name);
  const sent = await fetch(post.url, { method: "POST", body: form });
  if (!sent.ok) throw new Refusal("error", "s3_" + sent.status, "S3 refused the upload: HTTP " + sent.status);
  return grant.image_id;
}

async function poll(tr, imageId) {
  const started = Date.now();
  while (Date.now() - started < POLL_LIMIT_MS) {
    const response = await apiFetch("/images/" + encodeURIComponent(imageId));
    if (response.ok) {
      const item = await response.json();
      render(tr, item);
      if (FINAL.has(item.status)) return item;
    } else if (response.status !== 404) {
      throw await refusal(response);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  throw new Refusal("pending", "timeout", "no final status after " + POLL_LIMIT_MS / 1000 + " s");
}

// --- refusals kept in this browser ---------------------------------------------------

function keptRefusals() {
  try {
    const kept = JSON.parse(localStorage.getItem(KEPT_KEY) || "[]");
    return Array.isArray(kept) ? kept : [];
  } catch (e) { return []; }
}
function keepRefusal(entry) {
  try {
    const kept = keptRefusals();
    kept.push(entry);
    localStorage.setItem(KEPT_KEY, JSON.stringify(kept.slice(-KEPT_MAX)));
  } catch (e) { /* storage full or disabled: the row stays until the page is left */ }
  document.getElementById("kept-note").hidden = false;
}
function showKept(tr, entry) {
  showStatus(tr, entry.status, entry.reason, entry.message);
  tr.dataset.kept = "1";
  tr.querySelector(".kept").textContent = "not stored by the API; " +
    new Date(entry.at).toLocaleString();
}

async function handle(file) {
  const tr = makeRow(file.name);
  let imageId = null;
  try {
    imageId = await upload(file);
    rowsById.set(imageId, tr);
    render(tr, { image_id: imageId, status: "pending" });
    await poll(tr, imageId);
  } catch (error) {
    const known = error instanceof Refusal;
    const status = known ? error.status : "error";
    const reason = known ? error.reason : "connection_error";
    showStatus(tr, status, reason, error.message);
    if (!imageId) {  // nothing stored by the API: keep it here, or it vanishes on reload
      const entry = { filename: file.name, status, reason, message: error.message,
                      at: new Date().toISOString() };
      keepRefusal(entry);
      showKept(tr, entry);
    }
  }
}

function handleFiles(files) {
  for (const file of files) handle(file);
}

async function loadRecent() {
  let items = [];
  try {
    const response = await apiFetch("/images?limit=20");
    if (response.ok) {
      const body = await response.json();
      items = body.items || body.images || [];
    }
  } catch (e) { /* the listing is a nicety */ }
  const entries = items.filter((item) => item.image_id && !rowsById.has(item.image_id))
    .map((item) => ({ at: Date.parse(item.uploaded_at) || 0, item }))
    .concat(keptRefusals().map((kept) => ({ at: Date.parse(kept.at) || 0, kept })));
  entries.sort((a, b) => a.at - b.at);  // oldest first: each is put on top
  for (const entry of entries) {
    if (entry.item) {
      const tr = makeRow(entry.item.filename || "");
      rowsById.set(entry.item.image_id, tr);
      render(tr, entry.item);
      if (!FINAL.has(entry.item.status)) poll(tr, entry.item.image_id).catch(() => {});
    } else {
      showKept(makeRow(entry.kept.filename || ""), entry.kept);
    }
  }
  document.getElementById("note").textContent =
    items.length ? "Recent images are listed from GET /images." : "";
  document.getElementById("kept-note").hidden = keptRefusals().length === 0;
}

document.getElementById("forget").addEventListener("click", () => {
  try { localStorage.removeItem(KEPT_KEY); } catch (e) { /* nothing kept */ }
  for (const tr of rows.querySelectorAll("tr[data-kept]")) tr.remove();
  document.getElementById("kept-note").hidden = true;
});
const drop = document.getElementById("drop");
const input = document.getElementById("file");
input.addEventListener("change", () => { handleFiles(input.files); input.value = ""; });
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  handleFiles(e.dataTransfer.files);
});
document.getElementById("form").addEventListener("submit", (e) => e.preventDefault());
try { tokenInput.value = sessionStorage.getItem(TOKEN_KEY) || ""; } catch (e) { /* none */ }
tokenInput.addEventListener("change", () => {
  try { sessionStorage.setItem(TOKEN_KEY, tokenInput.value.trim()); } catch (e) { /* none */ }
  for (const tr of rows.querySelectorAll("tr:not([data-kept])")) tr.remove();
  rowsById.clear();
  loadRecent();
});
loadRecent();

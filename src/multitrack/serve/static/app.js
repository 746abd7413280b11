// The pages' behaviour: JSON calls with one-line errors, job panels that follow a running job
// (and find it again after a reload), forms that start jobs, the upload drop zone.
"use strict";

async function api(url, options = {}) {
  const response = await fetch(url, { credentials: "same-origin", ...options });
  const text = await response.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch (error) {
    body = { error: text.trim() };
  }
  if (!response.ok) throw new Error((body && body.error) || `${response.status} ${response.statusText}`);
  return body;
}

function postJSON(url, data) {
  return api(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(data) });
}

function showMessage(element, text, kind = "error") {
  element.textContent = text || "";
  element.className = `message ${text ? kind : ""}`;
}

function fileLink(path, label) {
  const link = document.createElement("a");
  link.href = `/files/${path.split("/").map(encodeURIComponent).join("/")}`;
  link.textContent = label || path;
  return link;
}

// --- job panels -----------------------------------------------------------------------------

class JobPanel {
  constructor(element) {
    this.element = element;
    this.kind = element.dataset.kind;
    this.listeners = [];
    this.jobId = null;
    this.timer = null;
    this.q = (name) => element.querySelector(`[data-part=${name}]`);
    this.q("cancel").addEventListener("click", () => this.cancel());
    this.refresh();
  }

  onFinish(listener) {
    this.listeners.push(listener);
  }

  follow(view) {
    this.render(view);
    this.schedule();
  }

  schedule() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.refresh(), 700);
  }

  async refresh() {
    try {
      const view = this.jobId
        ? await api(`/api/job/${this.jobId}`)
        : await api(`/api/jobs/${this.kind}/latest`);
      this.render(view);
      if (view && view.running) this.schedule();
    } catch (error) {
      showMessage(this.q("error"), error.message);
      this.schedule();
    }
  }

  async cancel() {
    if (!this.jobId) return;
    try {
      this.render(await postJSON(`/api/job/${this.jobId}/cancel`, {}));
      this.schedule();
    } catch (error) {
      showMessage(this.q("error"), error.message);
    }
  }

  render(view) {
    this.element.hidden = !view;
    if (!view) return;
    const wasRunning = this.element.dataset.state === "running";
    this.jobId = view.id;
    this.element.dataset.state = view.state;
    this.element.dataset.job = view.id;
    this.q("title").textContent = `${view.title} — ${view.state}`;
    const fraction = this.fraction(view);
    const bar = this.q("bar");
    if (view.running && fraction === 0) bar.removeAttribute("value"); // under way, amount unknown: it moves
    else bar.value = fraction;
    bar.title = `${Math.round(fraction * 100)}%`;
    this.q("step").textContent = this.stepText(view);
    showMessage(this.q("error"), view.error || "");
    this.q("commands").textContent = view.commands.join("\n");
    this.q("log").textContent = view.log;
    this.q("cancel").hidden = !view.running;
    const outputs = this.q("outputs");
    outputs.replaceChildren();
    if (!view.running && view.state === "done") {
      for (const [name, path] of Object.entries(view.outputs)) {
        const item = document.createElement("li");
        item.append(`${name}: `, /\.[a-z]+$/i.test(path) ? fileLink(path) : `${path}/`); // files open, folders are named
        outputs.append(item);
      }
    }
    if (view.curve) drawCurve(this.q("curve"), view.curve);
    if (wasRunning && !view.running) this.listeners.forEach((listener) => listener(view));
    if (this.element.dataset.seen !== view.id) {
      this.element.dataset.seen = view.id;
      this.listeners.forEach((listener) => listener(view, true));
    }
  }

  fraction(view) {
    if (view.state === "done") return 1;
    let within = view.step_percent !== null ? view.step_percent / 100 : 0;
    if (view.max_epochs && view.step === view.steps - 2) within = view.epoch / view.max_epochs; // the train step
    return Math.min(1, (view.step + within) / view.steps);
  }

  stepText(view) {
    const parts = [`step ${Math.min(view.step + 1, view.steps)} of ${view.steps}`];
    if (view.max_epochs) parts.push(`epoch ${view.epoch} of ${view.max_epochs}`);
    const last = view.curve && view.curve[view.curve.length - 1];
    if (last && last.train !== undefined) parts.push(`train loss ${last.train.toFixed(4)}`);
    if (last && last.val !== undefined) parts.push(`val loss ${last.val.toFixed(4)}`);
    return parts.join(" · ");
  }
}

function drawCurve(canvas, curve) {
  const g = canvas.getContext("2d");
  const width = canvas.width;
  const height = canvas.height;
  g.clearRect(0, 0, width, height);
  g.fillStyle = "#1e2126";
  g.fillRect(0, 0, width, height);
  const values = curve.flatMap((point) => [point.train, point.val]).filter((v) => v !== undefined);
  if (values.length === 0) return;
  const low = Math.min(...values);
  const high = Math.max(...values);
  const last = Math.max(2, curve[curve.length - 1].epoch);
  const x = (epoch) => 8 + ((epoch - 1) / (last - 1)) * (width - 16);
  const y = (value) => height - 10 - ((value - low) / (high - low || 1)) * (height - 20);
  for (const [key, colour] of [["train", "#5aa9e6"], ["val", "#f4a259"]]) {
    const points = curve.filter((point) => point[key] !== undefined);
    g.strokeStyle = colour;
    g.fillStyle = colour;
    g.beginPath();
    points.forEach((point, i) => (i ? g.lineTo(x(point.epoch), y(point[key])) : g.moveTo(x(point.epoch), y(point[key]))));
    g.stroke();
    points.forEach((point) => g.fillRect(x(point.epoch) - 2, y(point[key]) - 2, 4, 4));
  }
  g.font = "11px sans-serif";
  g.fillStyle = "#5aa9e6";
  g.fillText("train", 8, 12);
  g.fillStyle = "#f4a259";
  g.fillText("val", 44, 12);
}

// --- forms that start jobs ---------------------------------------------------------------------

function formFields(form) {
  const fields = {};
  for (const [name, value] of new FormData(form)) fields[name] = String(value);
  return fields;
}

function wireJobForm(form, panel) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const message = form.querySelector(".message");
    showMessage(message, "");
    try {
      panel.follow(await postJSON(`/api/jobs/${form.dataset.plan}`, formFields(form)));
    } catch (error) {
      showMessage(message, error.message);
    }
  });
}

// --- upload ------------------------------------------------------------------------------------

function wireUpload(zone, onUploaded) {
  const input = zone.querySelector("input[type=file]");
  const message = zone.querySelector(".message");
  const send = async (files) => {
    if (!files.length) return;
    const body = new FormData();
    for (const file of files) body.append("file", file);
    showMessage(message, `uploading ${files.length} file(s) …`, "info");
    try {
      const result = await api("/api/upload", { method: "POST", body });
      const bad = result.files.filter((file) => file.error);
      const good = result.files.filter((file) => !file.error);
      showMessage(message, bad.map((file) => file.error).join("\n") || `uploaded ${good.map((f) => f.name).join(", ")}`,
        bad.length ? "error" : "info");
      if (good.length) onUploaded(good);
    } catch (error) {
      showMessage(message, error.message);
    }
    input.value = "";
  };
  input.addEventListener("change", () => send([...input.files]));
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    send([...event.dataTransfer.files]);
  });
}

// the prompt and its continuation drawn on one time scale, so the continuation's first part lies
// under the prompt
function sameTimeScale(hosts) {
  const pictures = hosts.flatMap((host) => host.pictures || []);
  const frames = Math.max(...pictures.map((p) => p.data.frames), 1);
  for (const p of pictures) {
    p.frames = frames;
    p.fit();
  }
}

// --- page set-up -------------------------------------------------------------------------------

function pictureInto(host, path) {
  const message = document.querySelector("#page-message");
  showMessage(message, "");
  return showPictures(host, path).catch((error) => {
    if (host.dataset.path !== path) return;
    host.replaceChildren();
    host.dataset.ready = "error";
    showMessage(message, error.message);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const panels = {};
  document.querySelectorAll(".job").forEach((element) => (panels[element.dataset.kind] = new JobPanel(element)));
  document.querySelectorAll("form[data-plan]").forEach((form) => wireJobForm(form, panels[form.dataset.kind]));
  const picture = document.querySelector("#picture");
  const select = document.querySelector("#timeline-select");
  if (picture && select) {
    const show = () => select.value && pictureInto(picture, select.value);
    select.addEventListener("change", show);
    show();
  }
  const zone = document.querySelector("#upload");
  if (zone) {
    wireUpload(zone, (files) => {
      const path = files[files.length - 1].path;
      if (![...select.options].some((option) => option.value === path)) select.add(new Option(path, path));
      select.value = path;
      pictureInto(picture, path);
    });
  }
  const result = document.querySelector("#result-picture");
  if (result && panels.generate) {
    panels.generate.onFinish((view) => {
      const download = document.querySelector("#download");
      download.replaceChildren();
      if (view.state !== "done") return;
      download.append(fileLink(view.outputs.timeline, `download ${view.outputs.timeline.split("/").pop()}`));
      download.querySelector("a").setAttribute("download", "");
      pictureInto(result, view.outputs.timeline).then(() => sameTimeScale([picture, result]));
    });
  }
  const frameInput = document.querySelector("#frame-input");
  if (frameInput && picture) {
    // frames count at the model's rate (its data.fps; else the timeline's own)
    picture.addEventListener("pick", (event) => {
      const option = document.querySelector("#bundle-select")?.selectedOptions[0];
      const seconds = event.detail.seconds;
      const fps = Number(option?.dataset.fps) || Number(event.target.dataset.fps) || 0;
      if (!fps) return;
      frameInput.value = String(Math.max(1, Math.round(seconds * fps)));
      document.querySelector("#frame-note").textContent =
        `frame ${frameInput.value} at ${fps} fps: ${seconds.toFixed(2)} s into the timeline`;
    });
  }
  const attentionResult = document.querySelector("#attention-result");
  if (attentionResult && panels.attention) {
    panels.attention.onFinish((view) => {
      attentionResult.replaceChildren();
      if (view.state !== "done" || !view.outputs.picture) return;
      const image = document.createElement("img");
      image.src = `/files/${view.outputs.picture.split("/").map(encodeURIComponent).join("/")}`;
      image.alt = `attention: ${view.outputs.picture}`;
      image.className = "attention";
      attentionResult.append(image);
    });
  }
  if (panels.ingest || panels.train) {
    // a finished ingest or training adds a table or a model: reload the lists it feeds
    for (const panel of [panels.ingest, panels.train].filter(Boolean)) {
      panel.onFinish((view, first) => {
        if (!first && view.state === "done") document.querySelector("#finished").hidden = false;
      });
    }
  }
});

// The timeline picture: video tracks (V1 at the bottom, as in Premiere) × time, clips coloured
// by asset, on one canvas. Wheel zooms around the pointer, shift+wheel or dragging scrolls,
// the slider scrolls, hovering a clip shows its name, asset, time and Premiere geometry.
// The data comes from /api/picture (serve/picture.py, CLIP_COLUMNS); nothing is computed here
// but pixels.
"use strict";

const RULER_PX = 22;
const ROW_PX = 22;
const LABEL_PX = 70;

function assetColour(hue) {
  return hue === undefined ? "#888" : `hsl(${hue}, 62%, 52%)`; // hue: serve/picture.py asset_hue
}

function secondsText(seconds, digits = 2) {
  const minutes = Math.floor(seconds / 60);
  const rest = seconds - minutes * 60;
  return `${minutes}:${rest < 10 ? "0" : ""}${rest.toFixed(digits)}`;
}

class TimelinePicture {
  constructor(host, data) {
    this.data = data;
    this.col = Object.fromEntries(data.columns.map((name, i) => [name, i]));
    this.frames = Math.max(1, data.frames);
    host.classList.add("picture-ready");
    this.wrap = document.createElement("div");
    this.wrap.className = "timeline-canvas";
    this.canvas = document.createElement("canvas");
    this.canvas.setAttribute("data-tracks", String(data.tracks.length));
    this.canvas.setAttribute("data-clips", String(data.clips));
    this.canvas.setAttribute("data-ruler-px", String(RULER_PX));
    this.canvas.setAttribute("data-row-px", String(ROW_PX));
    this.canvas.setAttribute("data-label-px", String(LABEL_PX));
    this.canvas.setAttribute("data-fps", String(data.fps));
    this.tip = document.createElement("div");
    this.tip.className = "tip";
    this.tip.hidden = true;
    this.slider = document.createElement("input");
    this.slider.type = "range";
    this.slider.min = "0";
    this.slider.max = "1000";
    this.slider.value = "0";
    this.slider.className = "scroll";
    this.slider.setAttribute("aria-label", "scroll the timeline");
    const controls = document.createElement("div");
    controls.className = "zoom";
    for (const [label, factor] of [["−", 2], ["+", 0.5], ["fit", 0]]) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = label;
      button.title = factor === 0 ? "whole timeline" : factor < 1 ? "zoom in" : "zoom out";
      button.addEventListener("click", () => (factor === 0 ? this.fit() : this.zoom(factor, 0.5)));
      controls.append(button);
    }
    this.wrap.append(this.canvas, this.tip);
    host.append(controls, this.wrap, this.slider);
    this.draws = 0;
    this.fit();
    this.listen();
    new ResizeObserver(() => this.draw()).observe(this.wrap);
  }

  get plotWidth() {
    return Math.max(1, this.canvas.clientWidth - LABEL_PX);
  }

  fit() {
    this.start = 0;
    this.span = this.frames; // frames across the plot
    this.draw();
  }

  zoom(factor, anchor) {
    const at = this.start + anchor * this.span;
    this.span = Math.min(this.frames, Math.max(10, this.span * factor));
    this.start = at - anchor * this.span;
    this.clamp();
    this.draw();
  }

  clamp() {
    this.start = Math.max(0, Math.min(this.start, this.frames - this.span));
  }

  listen() {
    const canvas = this.canvas;
    canvas.addEventListener("wheel", (event) => {
      event.preventDefault();
      const anchor = Math.max(0, (event.offsetX - LABEL_PX) / this.plotWidth);
      if (event.shiftKey) {
        this.start += (event.deltaY / 500) * this.span;
        this.clamp();
        this.draw();
      } else {
        this.zoom(event.deltaY > 0 ? 1.25 : 0.8, anchor);
      }
    }, { passive: false });
    let dragFrom = null;
    canvas.addEventListener("mousedown", (event) => (dragFrom = { x: event.clientX, start: this.start }));
    canvas.addEventListener("click", (event) => {
      // a click (not the end of a drag) picks a time: pages that explain a frame listen for "pick"
      if (event.offsetX < LABEL_PX || (dragFrom && Math.abs(event.clientX - dragFrom.x) > 3)) return;
      const frame = this.start + ((event.offsetX - LABEL_PX) / this.plotWidth) * this.span;
      const seconds = frame / this.data.fps;
      canvas.dispatchEvent(new CustomEvent("pick", { bubbles: true, detail: { seconds } }));
    });
    window.addEventListener("mouseup", () => (dragFrom = null));
    canvas.addEventListener("mousemove", (event) => {
      if (dragFrom) {
        this.start = dragFrom.start - ((event.clientX - dragFrom.x) / this.plotWidth) * this.span;
        this.clamp();
        this.draw();
      }
      this.hover(event.offsetX, event.offsetY);
    });
    canvas.addEventListener("mouseleave", () => (this.tip.hidden = true));
    this.slider.addEventListener("input", () => {
      this.start = (Number(this.slider.value) / 1000) * (this.frames - this.span);
      this.draw();
    });
  }

  draw() {
    const began = performance.now();
    const tracks = this.data.tracks;
    const ratio = window.devicePixelRatio || 1;
    const width = this.wrap.clientWidth || 800;
    const height = RULER_PX + ROW_PX * Math.max(1, tracks.length);
    this.canvas.style.width = `${width}px`;
    this.canvas.style.height = `${height}px`;
    this.canvas.width = Math.round(width * ratio);
    this.canvas.height = Math.round(height * ratio);
    const g = this.canvas.getContext("2d");
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.fillStyle = "#1e2126";
    g.fillRect(0, 0, width, height);
    this.drawRuler(g, width);
    const scale = this.plotWidth / this.span;
    const end = this.start + this.span;
    const c = this.col;
    tracks.forEach((track, t) => {
      const y = RULER_PX + ROW_PX * (tracks.length - 1 - t);
      g.fillStyle = t % 2 ? "#262a30" : "#2b3037";
      g.fillRect(LABEL_PX, y, width - LABEL_PX, ROW_PX);
      g.fillStyle = track.enabled ? "#d7dbe0" : "#7d848c";
      g.font = "12px sans-serif";
      g.fillText(track.name.slice(0, 9), 6, y + 15);
      const clips = track.clips;
      for (let i = this.firstClip(clips, this.start); i < clips.length; i++) {
        const clip = clips[i];
        if (clip[c.start] > end) break;
        const x0 = LABEL_PX + Math.max(0, (clip[c.start] - this.start) * scale);
        const x1 = LABEL_PX + Math.min(this.plotWidth, (clip[c.end] - this.start) * scale);
        g.globalAlpha = clip[c.enabled] && track.enabled ? 1 : 0.35;
        g.fillStyle = assetColour(this.data.hues[clip[c.asset]]);
        g.fillRect(x0, y + 2, Math.max(1, x1 - x0 - (x1 - x0 > 3 ? 1 : 0)), ROW_PX - 4);
      }
      g.globalAlpha = 1;
    });
    this.slider.value = this.frames > this.span ? String(Math.round((this.start / (this.frames - this.span)) * 1000)) : "0";
    this.slider.disabled = this.frames <= this.span;
    this.lastDrawMs = performance.now() - began;
    this.draws += 1;
    this.canvas.setAttribute("data-draws", String(this.draws));
  }

  drawRuler(g, width) {
    const fps = this.data.fps;
    const seconds = this.span / fps;
    const steps = [0.1, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600];
    const step = steps.find((s) => (s / seconds) * this.plotWidth >= 70) || 3600;
    g.fillStyle = "#aab1b9";
    g.font = "11px sans-serif";
    const first = Math.ceil(this.start / fps / step) * step;
    for (let s = first; s * fps <= this.start + this.span; s += step) {
      const x = LABEL_PX + ((s * fps - this.start) / this.span) * this.plotWidth;
      g.fillRect(x, RULER_PX - 6, 1, 6);
      g.fillText(secondsText(s, step < 1 ? 1 : 0), x + 3, 13);
    }
    g.fillRect(LABEL_PX, RULER_PX - 1, width - LABEL_PX, 1);
  }

  firstClip(clips, frame) {
    // the first clip that ends after `frame` (clips on a track are sorted by start and rarely overlap)
    let low = 0;
    let high = clips.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (clips[mid][this.col.end] <= frame) low = mid + 1;
      else high = mid;
    }
    return Math.max(0, low - 1);
  }

  hover(x, y) {
    const tracks = this.data.tracks;
    const row = Math.floor((y - RULER_PX) / ROW_PX);
    const t = tracks.length - 1 - row;
    if (x < LABEL_PX || row < 0 || t < 0 || t >= tracks.length) {
      this.tip.hidden = true;
      return;
    }
    const frame = this.start + ((x - LABEL_PX) / this.plotWidth) * this.span;
    const clips = tracks[t].clips;
    const c = this.col;
    let found = -1;
    for (let i = this.firstClip(clips, frame); i < clips.length && clips[i][c.start] <= frame; i++) {
      if (clips[i][c.end] > frame) found = i;
    }
    if (found < 0) {
      this.tip.hidden = true;
      return;
    }
    const clip = clips[found];
    const fps = this.data.fps;
    const asset = this.data.assets[clip[c.asset]] || "?";
    const lines = [
      `${tracks[t].name}: ${tracks[t].names[found] || asset}${clip[c.enabled] ? "" : " (disabled)"}`,
      `asset ${clip[c.asset] + 1}: ${asset}`,
      `frames ${clip[c.start]}–${clip[c.end]} (${secondsText(clip[c.start] / fps)}–${secondsText(clip[c.end] / fps)}, ` +
        `${((clip[c.end] - clip[c.start]) / fps).toFixed(2)} s)`,
      `scale ${clip[c.scale]}%, centre ${clip[c.center_x]}, ${clip[c.center_y]}`,
      `crop L ${clip[c.crop_left]} R ${clip[c.crop_right]} T ${clip[c.crop_top]} B ${clip[c.crop_bottom]}` +
        (clip[c.keyframed] ? " (keyframed; values at the clip's first frame)" : ""),
    ];
    this.tip.textContent = lines.join("\n");
    this.tip.hidden = false;
    const left = Math.min(x + 14, this.wrap.clientWidth - 330);
    this.tip.style.left = `${Math.max(0, left)}px`;
    this.tip.style.top = `${y + 14}px`;
  }
}

// Draw every timeline of the file at `path` into `host`; resolves to the pictures.
async function showPictures(host, path) {
  host.replaceChildren();
  host.dataset.path = path;
  host.dataset.ready = "";
  const note = document.createElement("p");
  note.className = "muted";
  note.textContent = `reading ${path} …`;
  host.append(note);
  const began = performance.now();
  const data = await api(`/api/picture?path=${encodeURIComponent(path)}`);
  const loaded = performance.now();
  if (host.dataset.path !== path) return []; // another file was chosen meanwhile
  host.replaceChildren();
  const pictures = [];
  for (const timeline of data.timelines) {
    const section = document.createElement("section");
    section.className = "timeline";
    const heading = document.createElement("h3");
    heading.textContent = `${timeline.name}: ${timeline.tracks.length} video tracks, ${timeline.clips} clips, ` +
      `${timeline.duration} at ${Math.round(timeline.fps * 1000) / 1000} fps, ${timeline.width}×${timeline.height}`;
    const details = document.createElement("details");
    const summary = document.createElement("summary");
    summary.textContent = "inspect";
    const text = document.createElement("pre");
    text.textContent = timeline.summary;
    details.append(summary, text);
    const holder = document.createElement("div");
    section.append(heading, details, holder);
    host.append(section);
    pictures.push(new TimelinePicture(holder, timeline));
  }
  host.pictures = pictures; // for benchmarks/serve.py, which times redraws
  host.dataset.loadMs = String(loaded - began);
  host.dataset.drawMs = String(performance.now() - loaded);
  host.dataset.ready = "1";
  return pictures;
}

// The browser side of the latent views: run an exported decoder, find neighbours,
// and draw a latent plane. Plain functions, no framework: the pad and the line views
// are concatenated after this file into one ES module each (see __init__.py).
//
// Why hand-written rather than tfjs or onnxruntime-web: the decoders are three kinds of
// layer and about 1M multiply-adds; this file is a few kB where those runtimes are
// megabytes of JS or wasm, and tfjs' converter breaks on Keras 3 files. The arithmetic
// mirrors vae/export.py's numpy_decode, which is checked against Keras.

export function base64ToBytes(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

export function base64ToFloat32(text) {
  const bytes = base64ToBytes(text);
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
}

const product = (shape) => shape.reduce((a, b) => a * b, 1);

// A description from vae/export.py → layers with typed arrays and preallocated buffers,
// so decoding allocates nothing while the pointer moves.
export function prepareDecoder(description) {
  if (description.format !== "vae-decoder/1") {
    throw new Error(`unknown decoder format ${description.format}`);
  }
  const layers = description.layers.map((layer) => {
    const prepared = { ...layer, out: new Float32Array(product(layer.output_shape)) };
    if (layer.kernel) prepared.kernel = base64ToFloat32(layer.kernel);
    if (layer.bias) prepared.bias = base64ToFloat32(layer.bias);
    return prepared;
  });
  return { latentDim: description.latent_dim, outputShape: description.output_shape, layers };
}

function activate(buffer, name) {
  if (name === "relu") {
    for (let i = 0; i < buffer.length; i++) if (buffer[i] < 0) buffer[i] = 0;
  } else if (name === "sigmoid") {
    for (let i = 0; i < buffer.length; i++) buffer[i] = 1 / (1 + Math.exp(-buffer[i]));
  }
}

function dense(x, layer) {
  const n = layer.input_shape[0], m = layer.output_shape[0], w = layer.kernel, out = layer.out;
  out.set(layer.bias);
  for (let i = 0; i < n; i++) {
    const xi = x[i];
    if (xi === 0) continue;
    const row = i * m;
    for (let j = 0; j < m; j++) out[j] += xi * w[row + j];
  }
  return out;
}

// Keras' Conv2D: out[oy, ox, co] = b[co] + Σ in[oy*s + ky - pad, ox*s + kx - pad, ci] · w[ky, kx, ci, co]
function conv2d(x, layer) {
  const [h, w, cin] = layer.input_shape, [oh, ow, cout] = layer.output_shape;
  const [kh, kw] = layer.kernel_size, [sh, sw] = layer.strides, [pt, pl] = layer.pad;
  const k = layer.kernel, out = layer.out;
  for (let oy = 0; oy < oh; oy++) {
    for (let ox = 0; ox < ow; ox++) {
      const o = (oy * ow + ox) * cout;
      for (let co = 0; co < cout; co++) out[o + co] = layer.bias[co];
      for (let ky = 0; ky < kh; ky++) {
        const iy = oy * sh + ky - pt;
        if (iy < 0 || iy >= h) continue;
        for (let kx = 0; kx < kw; kx++) {
          const ix = ox * sw + kx - pl;
          if (ix < 0 || ix >= w) continue;
          const inBase = (iy * w + ix) * cin, kBase = (ky * kw + kx) * cin * cout;
          for (let ci = 0; ci < cin; ci++) {
            const v = x[inBase + ci];
            if (v === 0) continue;
            const kRow = kBase + ci * cout;
            for (let co = 0; co < cout; co++) out[o + co] += v * k[kRow + co];
          }
        }
      }
    }
  }
  return out;
}

// Keras' Conv2DTranspose (kernel stored as [kh, kw, out, in]): every input pixel
// scatters into out[iy*s + ky - pad, ix*s + kx - pad].
function conv2dTranspose(x, layer) {
  const [h, w, cin] = layer.input_shape, [oh, ow, cout] = layer.output_shape;
  const [kh, kw] = layer.kernel_size, [sh, sw] = layer.strides, [pt, pl] = layer.pad;
  const k = layer.kernel, out = layer.out;
  for (let p = 0; p < oh * ow; p++) out.set(layer.bias, p * cout);
  for (let iy = 0; iy < h; iy++) {
    for (let ix = 0; ix < w; ix++) {
      const inBase = (iy * w + ix) * cin;
      for (let ky = 0; ky < kh; ky++) {
        const oy = iy * sh + ky - pt;
        if (oy < 0 || oy >= oh) continue;
        for (let kx = 0; kx < kw; kx++) {
          const ox = ix * sw + kx - pl;
          if (ox < 0 || ox >= ow) continue;
          const o = (oy * ow + ox) * cout, kBase = (ky * kw + kx) * cout * cin;
          for (let co = 0; co < cout; co++) {
            const kRow = kBase + co * cin;
            let sum = 0;
            for (let ci = 0; ci < cin; ci++) sum += x[inBase + ci] * k[kRow + ci];
            out[o + co] += sum;
          }
        }
      }
    }
  }
  return out;
}

const RUN = { dense, conv2d, conv2d_transpose: conv2dTranspose };

// z (array of latentDim numbers) → Float32Array of the decoder's output, channels last.
// The returned buffer is reused by the next call: copy it to keep it.
export function decode(decoder, z) {
  let x = Float32Array.from(z);
  for (const layer of decoder.layers) {
    if (layer.type === "reshape") continue; // row-major, channels last: the same buffer
    const run = RUN[layer.type];
    if (!run) throw new Error(`unsupported layer type ${layer.type}`);
    x = run(x, layer);
    activate(x, layer.activation);
  }
  return x;
}

// The k nearest codes to z by Euclidean distance; the majority label, ties to the
// nearer neighbour (as vae/knn.py's vote).
export function looksLike(codes, labels, nClasses, z, k) {
  const n = labels.length, best = [];
  for (let i = 0; i < n; i++) {
    const dx = codes[2 * i] - z[0], dy = codes[2 * i + 1] - z[1], d = dx * dx + dy * dy;
    if (best.length < k || d < best[best.length - 1][0]) {
      let j = best.length < k ? best.length : k - 1;
      if (best.length < k) best.push(null);
      while (j > 0 && best[j - 1][0] > d) { best[j] = best[j - 1]; j--; }
      best[j] = [d, i];
    }
  }
  const counts = new Array(nClasses).fill(0);
  for (const [, i] of best) counts[labels[i]]++;
  const top = Math.max(...counts);
  const label = labels[best.find(([, i]) => counts[labels[i]] === top)[1]];
  return { label, share: top / best.length, k: best.length };
}

// One model's browser data, decoded once per page and shared by every view: the pad and
// the line view are separate modules, so the cache lives on globalThis.
const MODELS = (globalThis.__vaeLatentModels ??= new Map());

export function modelFromPayload(payload) {
  const model = {
    key: payload.key,
    decoder: prepareDecoder(payload.decoder),
    codes: base64ToFloat32(payload.codes),
    labels: base64ToBytes(payload.labels),
    classNames: payload.class_names,
    colors: payload.class_colors,
    noun: payload.noun,
    extent: payload.extent,
    k: payload.looks_like_k,
  };
  MODELS.set(model.key, model);
  return model;
}

// The model a view's data names: decoded from the payload when it came along (and the page
// tells Python it holds it), else from the page's cache; null, and Python asked to send it
// again, when the page lost it.
export function receiveModel(data, setStateValue) {
  if (data.payload) {
    modelFromPayload(data.payload);
    setStateValue("have", data.payload.key);
  }
  const model = MODELS.get(data.model) ?? null;
  if (!model) setStateValue("have", null);
  return model;
}

// -- drawing -------------------------------------------------------------------

// Decoder output (values in [0, 1], ink high) → a grey image on `canvas`, pixels kept crisp.
export function drawImage(canvas, pixels, shape) {
  const [h, w] = shape;
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(w, h);
  for (let p = 0; p < h * w; p++) {
    const v = Math.round(Math.min(1, Math.max(0, pixels[p])) * 255);
    image.data[4 * p] = image.data[4 * p + 1] = image.data[4 * p + 2] = v;
    image.data[4 * p + 3] = 255;
  }
  const scratch = (drawImage.scratch ??= document.createElement("canvas"));
  scratch.width = w;
  scratch.height = h;
  scratch.getContext("2d").putImageData(image, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(scratch, 0, 0, canvas.width, canvas.height);
}

function niceStep(span, target) {
  const raw = span / target, power = 10 ** Math.floor(Math.log10(raw));
  const unit = [1, 2, 2.5, 5, 10].find((m) => m * power >= raw) * power;
  return unit;
}

// A square latent plane: margins for axes, z ↔ pixel maps, the scatter drawn once.
export class Plane {
  constructor(container, ariaLabel) {
    this.root = document.createElement("div");
    this.root.className = "plane";
    this.base = document.createElement("canvas");
    this.overlay = document.createElement("canvas");
    this.overlay.className = "overlay";
    this.overlay.tabIndex = 0;
    this.overlay.setAttribute("role", "application");
    this.overlay.setAttribute("aria-label", ariaLabel);
    this.root.append(this.base, this.overlay);
    container.append(this.root);
    this.margin = { left: 44, right: 8, top: 8, bottom: 36 };
  }

  resize(cssSize) {
    const ratio = window.devicePixelRatio || 1;
    this.size = cssSize;
    for (const canvas of [this.base, this.overlay]) {
      canvas.style.width = canvas.style.height = `${cssSize}px`;
      canvas.width = canvas.height = Math.round(cssSize * ratio);
      canvas.getContext("2d").setTransform(ratio, 0, 0, ratio, 0, 0);
    }
    this.root.style.width = this.root.style.height = `${cssSize}px`;
    const m = this.margin;
    this.plot = { x: m.left, y: m.top, w: cssSize - m.left - m.right, h: cssSize - m.top - m.bottom };
  }

  setExtent(extent) {
    this.extent = extent; // [[x0, x1], [y0, y1]]
  }

  toPx(z) {
    const [[x0, x1], [y0, y1]] = this.extent, p = this.plot;
    return [p.x + ((z[0] - x0) / (x1 - x0)) * p.w, p.y + ((y1 - z[1]) / (y1 - y0)) * p.h];
  }

  toZ(px, py) {
    const [[x0, x1], [y0, y1]] = this.extent, p = this.plot;
    const fx = Math.min(1, Math.max(0, (px - p.x) / p.w)), fy = Math.min(1, Math.max(0, (py - p.y) / p.h));
    return [x0 + fx * (x1 - x0), y1 - fy * (y1 - y0)];
  }

  inside(px, py) {
    const p = this.plot;
    return px >= p.x && px <= p.x + p.w && py >= p.y && py <= p.y + p.h;
  }

  drawBase(model, { showCodes = true, hidden = new Set(), alpha = 0.35 } = {}) {
    const ctx = this.base.getContext("2d"), p = this.plot, [[x0, x1], [y0, y1]] = this.extent;
    ctx.clearRect(0, 0, this.size, this.size);
    ctx.fillStyle = "#fafafa";
    ctx.fillRect(p.x, p.y, p.w, p.h);
    ctx.font = "11px sans-serif";
    ctx.fillStyle = "#444";
    ctx.strokeStyle = "#e6e6ea";
    ctx.lineWidth = 1;
    const step = niceStep(x1 - x0, 6);
    for (let axis = 0; axis < 2; axis++) {
      const [lo, hi] = axis === 0 ? [x0, x1] : [y0, y1];
      for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) {
        const label = Math.abs(v) < 1e-9 ? "0" : +v.toFixed(2) + "";
        const [px, py] = this.toPx(axis === 0 ? [v, y0] : [x0, v]);
        ctx.strokeStyle = Math.abs(v) < 1e-9 ? "#c4c4cc" : "#e6e6ea";
        ctx.beginPath();
        if (axis === 0) {
          ctx.moveTo(px, p.y); ctx.lineTo(px, p.y + p.h); ctx.stroke();
          ctx.textAlign = "center"; ctx.textBaseline = "top";
          ctx.fillText(label, px, p.y + p.h + 4);
        } else {
          ctx.moveTo(p.x, py); ctx.lineTo(p.x + p.w, py); ctx.stroke();
          ctx.textAlign = "right"; ctx.textBaseline = "middle";
          ctx.fillText(label, p.x - 5, py);
        }
      }
    }
    ctx.font = "12px sans-serif";
    ctx.textAlign = "center"; ctx.textBaseline = "bottom";
    ctx.fillText("z[0]", p.x + p.w / 2, this.size - 2);
    ctx.save();
    ctx.translate(11, p.y + p.h / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textBaseline = "middle";
    ctx.fillText("z[1]", 0, 0);
    ctx.restore();
    if (showCodes && model) {
      ctx.save();
      ctx.beginPath();
      ctx.rect(p.x, p.y, p.w, p.h);
      ctx.clip();
      ctx.globalAlpha = alpha;
      const r = Math.max(1.2, this.size / 400);
      for (let c = 0; c < model.colors.length; c++) {
        if (hidden.has(c)) continue;
        ctx.fillStyle = model.colors[c];
        for (let i = 0; i < model.labels.length; i++) {
          if (model.labels[i] !== c) continue;
          const [px, py] = this.toPx([model.codes[2 * i], model.codes[2 * i + 1]]);
          ctx.fillRect(px - r, py - r, 2 * r, 2 * r);
        }
      }
      ctx.restore();
    }
    ctx.strokeStyle = "#9a9aa6";
    ctx.strokeRect(p.x + 0.5, p.y + 0.5, p.w - 1, p.h - 1);
  }

  overlayContext() {
    const ctx = this.overlay.getContext("2d");
    ctx.clearRect(0, 0, this.size, this.size);
    return ctx;
  }
}

// A legend of class swatches as HTML: readable, wrappable, and clickable to hide a class.
export function buildLegend(container, model, hidden, onToggle) {
  container.replaceChildren();
  model.classNames.forEach((name, c) => {
    const item = document.createElement("button");
    item.type = "button";
    item.className = "legend-item" + (hidden.has(c) ? " off" : "");
    item.setAttribute("aria-pressed", String(!hidden.has(c)));
    item.title = `Show or hide the ${name}s`;
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = model.colors[c];
    const label = document.createElement("span");
    label.className = "legend-text";
    label.textContent = name;
    item.append(swatch, label);
    item.addEventListener("click", () => onToggle(c));
    container.append(item);
  });
}

// Streamlit calls a component's function again on every rerun with the same parentElement:
// keep one view per element, update it, and destroy it in the cleanup Streamlit calls on unmount.
export function mountView(View, views, { parentElement, data, setStateValue }) {
  let view = views.get(parentElement);
  if (!view) {
    view = new View(parentElement);
    views.set(parentElement, view);
  }
  view.update(data, setStateValue);
  return () => {
    view.destroy();
    views.delete(parentElement);
  };
}


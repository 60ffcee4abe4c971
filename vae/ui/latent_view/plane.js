// Drawing for the latent views: a decoded image, the latent plane (axes, the test codes, a
// layer on top for what follows the pointer) and the legend of classes.

// An image of `shape` (rows, cols) on `canvas`, scaled up with its pixels kept crisp;
// colour(p, rgba, i) writes pixel p's four bytes at rgba[i..i+3].
export function paintPixels(canvas, shape, colour) {
  const [h, w] = shape;
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(w, h);
  for (let p = 0; p < h * w; p++) colour(p, image.data, 4 * p);
  const scratch = (paintPixels.scratch ??= document.createElement("canvas"));
  scratch.width = w;
  scratch.height = h;
  scratch.getContext("2d").putImageData(image, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(scratch, 0, 0, canvas.width, canvas.height);
}

// Decoder output (values in [0, 1], ink high) → a grey image on `canvas`.
export function drawImage(canvas, pixels, shape) {
  paintPixels(canvas, shape, (p, rgba, i) => {
    rgba[i] = rgba[i + 1] = rgba[i + 2] = Math.round(Math.min(1, Math.max(0, pixels[p])) * 255);
    rgba[i + 3] = 255;
  });
}

// A canvas that shows an image, named for whoever cannot see it: a screen reader reads the label.
export function labelImage(canvas, label) {
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", label);
}

// A polite live region: a screen reader hears the latest message once the person pauses, never
// every step of a held arrow key or a dragged slider (each say() restarts the wait).
export const ANNOUNCE_QUIET_MS = 600;
export class Announcer {
  constructor(container) {
    this.el = document.createElement("div");
    this.el.className = "announce visually-hidden";
    this.el.setAttribute("aria-live", "polite");
    this.el.setAttribute("aria-atomic", "true");
    container.append(this.el);
  }

  say(text) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => { this.el.textContent = text; }, ANNOUNCE_QUIET_MS);
  }

  destroy() {
    clearTimeout(this.timer);
  }
}

// The keys of a plane a point moves on, the pad's and each compare pad's alike: an arrow moves the
// point under the keyboard a hundredth of the plane's width (Shift: a tenth), kept inside it, and
// calls moved(e); Enter or Space keep it; Escape goes back to the kept point. `view` has cursor,
// committed, commit(z) and leave().
const ARROW_MOVES = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] };
export function planeKey(view, plane, e, moved) {
  const move = ARROW_MOVES[e.key];
  if (move) {
    const [[x0, x1], [y0, y1]] = plane.extent, from = view.cursor ?? view.committed;
    const step = ((x1 - x0) / 100) * (e.shiftKey ? 10 : 1);
    view.cursor = [Math.min(x1, Math.max(x0, from[0] + move[0] * step)),
      Math.min(y1, Math.max(y0, from[1] + move[1] * step))];
    moved(e);
  } else if (e.key === "Enter" || e.key === " ") {
    view.commit(view.cursor ?? view.committed);
  } else {
    if (e.key === "Escape") view.leave();
    return;
  }
  e.preventDefault();
}

// A coordinate as the views print it: two decimals, a true minus sign, no "−0.00".
export const fmtCoord = (v) => (Math.abs(v) < 0.005 ? 0 : v).toFixed(2).replace("-", "−");
export const fmtPoint = (z) => `(${z.map(fmtCoord).join(", ")})`;

// "Looks like 3 · 9 of the 10 nearest test digits" in `el`, for z; returns the class name.
export function showLooksLike(el, model, z) {
  const looks = looksLike(model.codes, model.labels, model.classNames.length, z, model.k);
  const strong = document.createElement("strong");
  strong.textContent = model.classNames[looks.label];
  // The class colour on a swatch, not on the text: several of the palette's colours are too
  // light to read on white (WCAG's 4.5:1).
  const swatch = document.createElement("span");
  swatch.className = "swatch";
  swatch.style.background = model.colors[looks.label];
  el.replaceChildren("Looks like ", swatch, strong,
    ` · ${Math.round(looks.share * looks.k)} of the ${looks.k} nearest test ${model.noun}s`);
  return strong.textContent;
}

function niceStep(span, target) {
  const raw = span / target, power = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 2.5, 5, 10].find((m) => m * power >= raw) * power;
}

// A square latent plane: margins for axes, z ↔ pixel maps, the scatter drawn once on a base
// canvas and what moves drawn on an overlay. `redraw` (set by the view) repaints both; it is
// called when the canvases had to be rebuilt at a new resolution.
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
    this.size = null;
    this.ratio = null;
    this.redraw = null;
    // A browser zoom or a move to a screen of another density changes devicePixelRatio, often
    // without changing the plane's layout size (no ResizeObserver call): the canvases are
    // rebuilt at the new ratio then, or the plane goes blurry. A zoom also fires the window's
    // resize; a move between screens only the resolution media query.
    this.onResolution = () => {
      if (this.size && devicePixelRatio !== this.ratio) {
        this.resize(this.size);
        this.redraw?.();
      }
    };
    addEventListener("resize", this.onResolution);
  }

  // The canvases' backing stores hold cssSize × devicePixelRatio pixels: crisp on any screen.
  resize(cssSize) {
    const ratio = devicePixelRatio;
    this.size = cssSize;
    this.ratio = ratio;
    for (const canvas of [this.base, this.overlay]) {
      canvas.style.width = canvas.style.height = `${cssSize}px`;
      canvas.width = canvas.height = Math.round(cssSize * ratio);
      canvas.getContext("2d").setTransform(ratio, 0, 0, ratio, 0, 0);
    }
    this.root.style.width = this.root.style.height = `${cssSize}px`;
    const m = this.margin;
    this.plot = { x: m.left, y: m.top, w: cssSize - m.left - m.right, h: cssSize - m.top - m.bottom };
    this.resolution?.removeEventListener("change", this.onResolution);
    this.resolution = matchMedia(`(resolution: ${ratio}dppx)`); // stops matching when the ratio changes
    this.resolution.addEventListener("change", this.onResolution);
  }

  // Whether the canvases are `cssSize` at the screen's current ratio.
  fits(cssSize) {
    return cssSize === this.size && devicePixelRatio === this.ratio;
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
    return !!p && px >= p.x && px <= p.x + p.w && py >= p.y && py <= p.y + p.h;
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

  destroy() {
    this.resolution?.removeEventListener("change", this.onResolution);
    removeEventListener("resize", this.onResolution);
    this.root.remove();
  }
}

// A legend of class swatches as HTML: readable, wrappable, and clickable to hide a class.
// The title names the class as the dataset writes it: a class name is not pluralised by hand.
function buildLegend(container, model, hidden, onToggle) {
  container.replaceChildren();
  model.classNames.forEach((name, c) => {
    const item = document.createElement("button");
    item.type = "button";
    item.className = "legend-item" + (hidden.has(c) ? " off" : "");
    item.setAttribute("aria-pressed", String(!hidden.has(c)));
    item.title = `Show or hide the test ${model.noun}s labelled “${name}”`;
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

// A plane with the model's test codes underneath, coloured by class, and its legend: a
// click on a class hides it. With the codes off the legend is hidden too (it would hide
// nothing). `drawOverlay` is the view's own layer, redrawn whenever the plane is.
export class CodesPlane {
  constructor(planeSlot, legend, ariaLabel, drawOverlay) {
    this.plane = new Plane(planeSlot, ariaLabel);
    this.legend = legend;
    this.drawOverlay = drawOverlay;
    this.hidden = new Set();
    this.showCodes = true;
    this.model = null;
    this.plane.redraw = () => this.redraw();
  }

  // A new model: its extent, all classes shown; the caller then fits the plane to a size.
  setModel(model) {
    this.model = model;
    this.hidden.clear();
    this.plane.setExtent(model.extent);
    this.plane.size = null; // redrawn at whatever size comes next
    this.rebuildLegend();
  }

  setShowCodes(show) {
    if (show === this.showCodes) return;
    this.showCodes = show;
    this.rebuildLegend();
    if (this.plane.size) this.drawBase();
  }

  fit(size) {
    if (this.plane.fits(size)) return;
    this.plane.resize(size);
    this.redraw();
  }

  redraw() {
    this.drawBase();
    this.drawOverlay();
  }

  drawBase() {
    this.plane.drawBase(this.model, { showCodes: this.showCodes, hidden: this.hidden });
  }

  rebuildLegend() {
    this.legend.hidden = !this.showCodes;
    buildLegend(this.legend, this.model, this.hidden, (c) => {
      this.hidden.has(c) ? this.hidden.delete(c) : this.hidden.add(c);
      this.rebuildLegend();
      this.drawBase();
    });
  }

  destroy() {
    this.plane.destroy();
  }
}

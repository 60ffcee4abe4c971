// Two versions side by side, linked: the pointer (or the arrow keys) over either plane picks one
// point, and both decoders answer at once, here in the page; a click (or Enter) keeps the point
// in both. With the maps aligned, B's plane shows B's test codes carried into A's frame by the
// Procrustes fit, and B decodes the point carried back into its own frame: the same place on
// both maps. Raw, both decode the very same z.

const COMPARES = new WeakMap(); // parentElement → Compare
const SIDE_PX_MAX = 440;

// The fit's map of points, both ways (vae/ml/procrustes.py: aligned = s·(b − mb)·R + ma).
function alignTo(fit, z) {
  const [[r00, r01], [r10, r11]] = fit.rotation, s = fit.scale, b = [z[0] - fit.mean_from[0], z[1] - fit.mean_from[1]];
  return [s * (b[0] * r00 + b[1] * r10) + fit.mean_to[0], s * (b[0] * r01 + b[1] * r11) + fit.mean_to[1]];
}

function alignBack(fit, z) {
  const [[r00, r01], [r10, r11]] = fit.rotation, s = fit.scale, a = [z[0] - fit.mean_to[0], z[1] - fit.mean_to[1]];
  return [(a[0] * r00 + a[1] * r01) / s + fit.mean_from[0], (a[0] * r10 + a[1] * r11) / s + fit.mean_from[1]];
}

function alignedCodes(fit, codes) {
  const out = new Float32Array(codes.length);
  for (let i = 0; i < codes.length; i += 2) {
    const [x, y] = alignTo(fit, [codes[i], codes[i + 1]]);
    out[i] = x; out[i + 1] = y;
  }
  return out;
}

class Compare {
  constructor(parent) {
    this.models = [null, null];
    this.cursor = null; // in A's frame (= the shared frame when raw)
    this.committed = null;
    this.seq = 0;
    this.measures = 0;
    this.root = document.createElement("div");
    this.root.className = "vae-compare";
    this.root.innerHTML = `
      <div class="status" role="status"></div>
      <div class="compare-sides"></div>
      <div class="hint">Move over either map to decode the same point with both models · click or Enter keeps
        it in both · arrow keys move (Shift: faster)</div>`;
    parent.append(this.root);
    this.sides = ["a", "b"].map((which) => this.buildSide(which));
    this.announcer = new Announcer(this.root); // after a key or a kept point, once the person pauses
    this.resizer = new ResizeObserver(() => this.layout());
    this.resizer.observe(this.root);
  }

  buildSide(which) {
    const el = document.createElement("div");
    el.className = `compare-side side-${which}`;
    el.innerHTML = `
      <div class="side-title"></div>
      <div class="plane-slot"></div>
      <div class="legend" aria-label="classes"></div>
      <div class="side-answer">
        <canvas class="digit" width="112" height="112" role="img"></canvas>
        <div><div class="readout"></div><div class="looks"></div></div>
      </div>`;
    this.root.querySelector(".compare-sides").append(el);
    const side = { which, el, digit: el.querySelector(".digit") };
    side.map = new CodesPlane(el.querySelector(".plane-slot"), el.querySelector(".legend"),
      `map of version ${which.toUpperCase()}`, () => this.drawOverlay(side));
    this.listen(side);
    return side;
  }

  listen(side) {
    const el = side.map.plane.overlay, plane = side.map.plane;
    const at = (e) => { const box = el.getBoundingClientRect(); return [e.clientX - box.left, e.clientY - box.top]; };
    side.handlers = {
      pointermove: (e) => {
        if (!this.ready) return;
        const handled = performance.now();
        const [x, y] = at(e);
        if (!plane.inside(x, y)) return this.leave();
        this.cursor = plane.toZ(x, y);
        this.render(e.timeStamp, handled);
      },
      pointerdown: (e) => {
        if (!this.ready || e.button !== 0 || !e.isPrimary) return;
        const [x, y] = at(e);
        if (!plane.inside(x, y)) return;
        this.commit(plane.toZ(x, y));
        el.focus({ preventScroll: true });
      },
      pointerleave: () => this.leave(),
      keydown: (e) => {
        if (!this.ready) return;
        planeKey(this, plane, e, () => {
          this.render();
          this.announce("");
        });
      },
    };
    for (const [name, handler] of Object.entries(side.handlers)) el.addEventListener(name, handler);
  }

  get ready() {
    return this.models[0] !== null && this.models[1] !== null && !!this.sides[0].map.plane.size;
  }

  leave() {
    if (this.cursor === null) return;
    this.cursor = null;
    this.render();
  }

  commit(z) {
    this.committed = [Math.round(z[0] * 1000) / 1000, Math.round(z[1] * 1000) / 1000];
    this.root.dataset.kept = JSON.stringify(this.committed);
    this.setStateValue("kept", { z: this.committed, seq: ++this.seq });
    this.render();
    this.announce("Kept in both: ");
  }

  // Both verdicts for a screen reader, as the two digits' labels say them.
  announce(prefix) {
    const said = this.sides.map((side) => side.digit.getAttribute("aria-label")).filter(Boolean);
    if (said.length) this.announcer.say(prefix + said.join("; "));
  }

  update(data, setStateValue) {
    this.setStateValue = setStateValue;
    let error = null;
    for (const payload of data.payloads || []) {
      try {
        MODELS.set(payload.key, modelFromPayload(payload));
      } catch (err) {
        error = err.message;
      }
    }
    if (!error && (data.payloads || []).length) setStateValue("have", data.models);
    const models = data.models.map((key) => touch(key));
    useModel(this.sides[0], models[0]?.key ?? null);
    useModel(this.sides[1], models[1]?.key ?? null);
    if (error || models.some((m) => !m)) {
      this.models = [null, null];
      this.root.dataset.ready = "false";
      if (!error) setStateValue("have", null);
      const missing = data.models[models.findIndex((m) => !m)] ?? data.models[0];
      this.root.querySelector(".status").textContent = missingModelText(missing, error);
      return;
    }
    this.root.querySelector(".status").textContent = "";
    this.fit = data.aligned ? data.fit : null;
    const extent = data.aligned ? data.extent_aligned : data.extent_raw;
    const shown = [
      { ...models[0], extent },
      { ...models[1], extent, codes: this.fit ? alignedCodes(this.fit, models[1].codes) : models[1].codes },
    ];
    const signature = `${data.models.join("|")}|${!!this.fit}`;
    if (signature !== this.signature) {
      this.signature = signature;
      this.sides.forEach((side, i) => {
        side.map.setModel(shown[i]);
        side.name = data.names[i];
        side.el.querySelector(".side-title").textContent = `${"AB"[i]}: ${data.names[i]}`;
        side.map.plane.overlay.setAttribute("aria-label",
          `Map of ${data.names[i]}: move with the pointer or the arrow keys to decode with both models, Enter keeps the point`);
      });
      this.committed = this.committed ?? [0, 0];
    }
    this.models = models;
    this.shown = shown;
    this.root.dataset.models = data.models.join(",");
    this.root.dataset.aligned = String(!!this.fit);
    this.root.dataset.ready = "true";
    this.layout();
  }

  layout() {
    if (!this.models[0]) return;
    const width = this.root.clientWidth;
    const size = Math.max(220, Math.min(SIDE_PX_MAX, Math.floor((width - 24) / 2)));
    for (const side of this.sides) side.map.fit(size);
    this.render();
  }

  // The point of the shared frame → each model's own code.
  codeFor(i, z) {
    return i === 1 && this.fit ? alignBack(this.fit, z) : z;
  }

  // Both sides decoded and drawn, now. As pad.js, two timings go to the User Timing buffer for
  // bench/compare_hover.py (beside the single pad's "vae-pad-hover"): from our handler, and from
  // the event's timestamp (which adds the browser's input queue).
  render(eventTime, handled = eventTime) {
    if (!this.ready || !this.committed) return;
    const z = this.cursor ?? this.committed;
    this.sides.forEach((side, i) => {
      const code = this.codeFor(i, z);
      const model = this.models[i];
      drawImage(side.digit, decode(model.decoder, code), model.decoder.outputShape);
      const label = showLooksLike(side.el.querySelector(".looks"), this.shown[i], z);
      side.el.querySelector(".readout").textContent =
        `${this.cursor ? "under the pointer" : "kept point"}: z = ${fmtPoint(code)}`;
      side.digit.setAttribute("aria-label", `${side.name} decodes z = ${fmtPoint(code)}: looks like ${label}`);
      this.root.dataset[`label${"AB"[i]}`] = label;
      this.drawOverlay(side);
    });
    if (eventTime !== undefined) {
      const drawn = performance.now();
      performance.measure("vae-compare-hover", { start: handled, end: drawn });
      performance.measure("vae-compare-hover-from-event", { start: eventTime, end: drawn });
      if (++this.measures > 5000) { // a long session does not grow the buffer without end
        performance.clearMeasures("vae-compare-hover");
        performance.clearMeasures("vae-compare-hover-from-event");
        this.measures = 0;
      }
    }
  }

  drawOverlay(side) {
    if (!this.committed || !side.map.plane.size) return;
    const plane = side.map.plane, ctx = plane.overlayContext();
    const [cx, cy] = plane.toPx(this.committed);
    ctx.lineWidth = 3;
    ctx.strokeStyle = "#ffffff";
    for (const pass of [0, 1]) {
      ctx.beginPath();
      ctx.moveTo(cx - 7, cy - 7); ctx.lineTo(cx + 7, cy + 7);
      ctx.moveTo(cx + 7, cy - 7); ctx.lineTo(cx - 7, cy + 7);
      ctx.stroke();
      ctx.lineWidth = 1.8;
      ctx.strokeStyle = "#111111";
    }
    if (this.cursor) {
      const [x, y] = plane.toPx(this.cursor);
      ctx.fillStyle = "#4f46e5";
      ctx.beginPath();
      ctx.arc(x, y, 4, 0, 2 * Math.PI);
      ctx.fill();
    }
  }

  destroy() {
    this.announcer.destroy();
    this.resizer.disconnect();
    for (const side of this.sides) {
      for (const [name, handler] of Object.entries(side.handlers)) side.map.plane.overlay.removeEventListener(name, handler);
      side.map.destroy();
      useModel(side, null);
    }
    this.root.remove();
  }
}

export default (args) => mountView(Compare, COMPARES, args);

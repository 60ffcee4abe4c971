// The latent pad: the decoder runs here, under the pointer, with no server round trip.
// Moving (mouse hover, touch drag, arrow keys) only draws; a click, a tap, a release or
// Enter commits the point to Python, which owns the URL and everything that follows.
//
// Commits are never lost to a busy server: the "commit" state value carries the last
// HISTORY commits with increasing sequence numbers, and Python takes every one it has
// not seen, however many reruns were coalesced.

const HISTORY = 64;
const DIGIT_PX = 224;
const PADS = new WeakMap(); // parentElement → Pad: one instance across Streamlit's re-renders

const round3 = (v) => Math.round(v * 1000) / 1000;

class Pad {
  constructor(parent) {
    this.id = Math.random().toString(36).slice(2, 10);
    this.seq = 0;
    this.history = [];
    this.model = null;
    this.committed = null;
    this.cursor = null; // the point under the pointer or keyboard, not committed
    this.dragging = false;
    this.measures = 0;
    this.root = document.createElement("div");
    this.root.className = "vae-pad";
    this.root.innerHTML = `
      <div class="status" role="status"></div>
      <div class="pad-main">
        <div class="plane-slot"></div>
        <div class="legend" aria-label="classes"></div>
      </div>
      <div class="pad-side">
        <canvas class="digit" width="${DIGIT_PX}" height="${DIGIT_PX}" role="img" aria-label="decoded image"></canvas>
        <div class="readout"><span class="which"></span> z = (<span class="z0"></span>, <span class="z1"></span>)</div>
        <div class="looks"></div>
        <div class="hint"></div>
      </div>`;
    // A finger has no hover and no arrow keys: say what works with the pointer in hand.
    this.root.querySelector(".hint").textContent = matchMedia("(pointer: coarse)").matches
      ? "Drag a finger over the pad to decode live · lift it to keep the point"
      : "Move over the pad to decode live · click to keep a point · arrow keys move (Shift: faster), Enter keeps";
    parent.append(this.root);
    this.map = new CodesPlane(this.root.querySelector(".plane-slot"), this.root.querySelector(".legend"),
      "latent pad: move to decode, click to keep", () => this.drawOverlay());
    this.plane = this.map.plane;
    this.digit = this.root.querySelector(".digit");
    this.announcer = new Announcer(this.root);
    this.listen();
    this.resizer = new ResizeObserver(() => this.layout());
    this.resizer.observe(this.root);
  }

  listen() {
    const el = this.plane.overlay;
    const at = (e) => {
      const box = el.getBoundingClientRect();
      return [e.clientX - box.left, e.clientY - box.top];
    };
    this.handlers = {
      pointermove: (e) => {
        if (!this.model) return;
        const handled = performance.now();
        const [x, y] = at(e);
        if (!this.dragging && !this.plane.inside(x, y)) return this.leave();
        this.cursor = this.plane.toZ(x, y);
        this.render(e.timeStamp, handled);
      },
      pointerdown: (e) => {
        // Only the primary button of the primary pointer keeps a point: a right-click opens the
        // context menu, and a second finger is not a tap.
        if (!this.model || e.button !== 0 || !e.isPrimary) return;
        const [x, y] = at(e);
        if (!this.plane.inside(x, y)) return;
        this.dragging = true;
        el.setPointerCapture?.(e.pointerId);
        this.cursor = this.plane.toZ(x, y);
        this.render(e.timeStamp);
        e.preventDefault();
        el.classList.add("pointer-focus"); // focus for the keys, but no keyboard ring after a click
        el.focus({ preventScroll: true });
      },
      pointerup: (e) => {
        if (!this.dragging) return;
        this.dragging = false;
        const [x, y] = at(e);
        this.commit(this.plane.toZ(x, y));
        if (e.pointerType !== "mouse") this.cursor = null; // a finger leaves nothing hovering
        this.render();
      },
      pointercancel: () => { this.dragging = false; this.leave(); },
      pointerleave: () => { if (!this.dragging) this.leave(); },
      blur: () => el.classList.remove("pointer-focus"),
      keydown: (e) => {
        el.classList.remove("pointer-focus");
        if (!this.model) return; // no plane to move on yet
        planeKey(this, this.plane, e, () => {
          this.render(e.timeStamp);
          this.announce("", this.cursor);
        });
      },
    };
    for (const [name, handler] of Object.entries(this.handlers)) el.addEventListener(name, handler);
  }

  leave() {
    if (this.cursor === null) return;
    this.cursor = null;
    this.render();
  }

  commit(z) {
    z = [round3(z[0]), round3(z[1])];
    this.committed = z;
    this.history.push([z[0], z[1], ++this.seq]);
    this.history = this.history.slice(-HISTORY);
    this.setStateValue("commit", { id: this.id, seq: this.seq, points: this.history });
    this.render();
    this.announce("Kept ", z);
  }

  // The point on show and the verdict, for a screen reader: after a keyboard move or a kept point.
  announce(prefix, z) {
    const looks = looksLike(this.model.codes, this.model.labels, this.model.classNames.length, z, this.model.k);
    this.announcer.say(`${prefix}z = ${fmtPoint(z)}: looks like ${this.model.classNames[looks.label]}`);
  }

  layout() {
    if (!this.model) return;
    const width = this.root.clientWidth;
    const wide = width >= 620;
    this.root.classList.toggle("wide", wide);
    this.map.fit(Math.max(220, Math.floor(wide ? Math.min(width - 260, 600) : Math.min(width, 520))));
    this.render();
  }

  update(data, setStateValue) {
    this.setStateValue = setStateValue;
    const { model, error } = receiveModel(this, data, setStateValue);
    if (!model) return this.withoutModel(data.model, error);
    const newModel = model !== this.model;
    this.model = model;
    if (newModel) this.map.setModel(model);
    this.map.setShowCodes(data.show_codes);
    // A point from Python (URL, inputs, sampling, model switch) moves the pad; a point
    // that came from this pad's own commits is already shown, and may be older.
    if (data.point_rev !== this.pointRev) {
      this.pointRev = data.point_rev;
      if (data.point_source !== "pad" || !this.committed) this.committed = data.point;
    }
    this.trail = data.trail || [];
    this.root.dataset.trail = JSON.stringify(this.trail);
    this.root.dataset.model = model.key;
    this.root.dataset.ready = "true";
    this.layout();
  }

  // The model did not reach the page (or the runtime refused it): decode nothing rather than
  // the previous model, and say why. Python has been asked for it again (receiveModel).
  withoutModel(key, error) {
    this.model = null;
    this.cursor = null;
    this.dragging = false;
    delete this.root.dataset.label;
    delete this.root.dataset.model;
    this.root.dataset.ready = "false";
    this.root.querySelector(".status").textContent = missingModelText(key, error);
  }

  // Decode the point under the pointer (or the committed one) and draw it, now.
  // Two timings go to the User Timing buffer for bench/: from the event's timestamp (which
  // includes the browser's input queue) and from the moment our handler ran.
  render(eventTime, handled = eventTime) {
    if (!this.model || !this.plane.size || !this.committed) return;
    this.root.querySelector(".status").textContent = "";
    const z = this.cursor ?? this.committed;
    const pixels = decode(this.model.decoder, z);
    drawImage(this.digit, pixels, this.model.decoder.outputShape);
    const q = (s) => this.root.querySelector(s);
    q(".which").textContent = this.cursor ? "under the pointer:" : "kept point:";
    q(".z0").textContent = fmtCoord(z[0]);
    q(".z1").textContent = fmtCoord(z[1]);
    const name = showLooksLike(q(".looks"), this.model, z);
    labelImage(this.digit, `decoded ${this.model.noun} at z = ${fmtPoint(z)}, looks like ${name}`);
    this.root.dataset.label = name;
    this.root.dataset.point = JSON.stringify(this.committed); // the kept point, as numbers (for tests)
    this.drawOverlay();
    if (eventTime !== undefined) {
      const drawn = performance.now();
      performance.measure("vae-pad-hover", { start: handled, end: drawn });
      performance.measure("vae-pad-hover-from-event", { start: eventTime, end: drawn });
      if (++this.measures > 5000) {
        performance.clearMeasures("vae-pad-hover");
        performance.clearMeasures("vae-pad-hover-from-event");
        this.measures = 0;
      }
    }
  }

  drawOverlay() {
    if (!this.committed) return;
    const ctx = this.plane.overlayContext(), plane = this.plane;
    if (this.trail.length > 1) { // the points kept so far, oldest faintest
      ctx.strokeStyle = "rgba(17,17,17,0.25)";
      ctx.lineWidth = 1;
      ctx.beginPath();
      this.trail.forEach((z, i) => { const [x, y] = plane.toPx(z); i ? ctx.lineTo(x, y) : ctx.moveTo(x, y); });
      ctx.stroke();
      ctx.fillStyle = "rgba(17,17,17,0.35)";
      for (const z of this.trail) { const [x, y] = plane.toPx(z); ctx.fillRect(x - 2, y - 2, 4, 4); }
    }
    const [cx, cy] = plane.toPx(this.committed);
    ctx.lineWidth = 3;
    ctx.strokeStyle = "#ffffff";
    for (const pass of [0, 1]) { // a black × with a white halo, visible on any colour
      ctx.beginPath();
      ctx.moveTo(cx - 7, cy - 7); ctx.lineTo(cx + 7, cy + 7);
      ctx.moveTo(cx + 7, cy - 7); ctx.lineTo(cx - 7, cy + 7);
      ctx.stroke();
      ctx.lineWidth = 1.8;
      ctx.strokeStyle = "#111111";
    }
    if (this.cursor) {
      const [x, y] = plane.toPx(this.cursor), p = plane.plot;
      ctx.strokeStyle = "rgba(79,70,229,0.45)";
      ctx.lineWidth = 1;
      ctx.beginPath();
      ctx.moveTo(p.x, y); ctx.lineTo(p.x + p.w, y);
      ctx.moveTo(x, p.y); ctx.lineTo(x, p.y + p.h);
      ctx.stroke();
      ctx.fillStyle = "#4f46e5";
      ctx.beginPath();
      ctx.arc(x, y, 4, 0, 2 * Math.PI);
      ctx.fill();
    }
  }

  destroy() {
    this.announcer.destroy();
    this.resizer.disconnect();
    for (const [name, handler] of Object.entries(this.handlers)) this.plane.overlay.removeEventListener(name, handler);
    this.map.destroy();
    this.root.remove();
  }
}

export default (args) => mountView(Pad, PADS, args);

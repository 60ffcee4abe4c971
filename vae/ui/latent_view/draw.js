// One image through the whole VAE, in the page: the Draw tab's view, and the Test-set map's for
// a picked image. The image is what the model sees; the encoder (runtime.js) gives μ and σ, the
// plane shows z_mean as a star with the 2σ ellipse of q(z|x) and an arrow to z = μ + σ⊙ε, and
// the ELBO panel (elbo.js) takes this image's loss apart.
//
// On the Draw tab the image comes from the canvas beside the view (streamlit-drawable-canvas,
// a component of its own in an open shadow root): while the pen is down every pointer move
// re-reads its two layers, runs the dataset's drawing recipe (drawing.js) and re-encodes, at
// most once per animation frame, with no message to Python. When the pen lifts, the canvas
// itself sends the drawing to Python once, which keeps its code for Interpolate.

const DRAWS = new WeakMap(); // parentElement → DrawView
const N_SIGMA = 2; // in 2-D, the 2σ ellipse holds 1 − e⁻² ≈ 86% of q(z|x)
const CANVAS_HOST = "[data-testid=stBidiComponentIsolated]"; // the canvas component's shadow host
const FIND_CANVAS_MS = 250; // how often to look for a canvas mounted after the view
const FINAL_TRIES = 30;
// The canvas' toolbar buttons are 22.4 px, under WCAG 2.2's 24 px target size, and drop their
// focus ring: the rules below go into the canvas component's own shadow root, the only place they reach.
const CANVAS_TOOLBAR_CSS = `.dc-icon-button { min-width: 24px; min-height: 24px; }
  .dc-icon-button:focus-visible { outline: 2px solid #4f46e5; outline-offset: 1px; }`; // frames to wait, after the pen lifts, for the canvas to redraw the stroke

const EXPLAIN = `
  <summary>What am I looking at?</summary>
  <p>The <b>encoder</b> does not give one point for an image: it gives a Gaussian, q(z|x), with a
  centre <b>μ</b> (the star) and a spread <b>σ</b> per axis. The dotted <b>ellipse</b> is 2σ: where
  the encoder thinks this image's code could be, holding 86% of the probability. A wide ellipse is
  an unsure encoder.</p>
  <p>To train, the VAE draws <b>ε</b> from N(0, I) and takes <b>z = μ + σ⊙ε</b> (the arrow): the
  <i>reparameterization</i>, which keeps the sampling differentiable. The decoder turns z back into
  an image. The strip decodes eight such z: where they differ, the spread survived decoding.</p>
  <p>The loss has two terms. The <b>reconstruction</b> term, −log p(x|z), is how unlikely this
  image is under the decoder's pixel probabilities at z: the heat map shows which pixels cost the
  most. The <b>KL</b> term is how far q(z|x) is from the prior N(0, I): it pulls every code towards
  the centre and keeps the ellipses from shrinking to points. Their sum is the negative ELBO, a
  bound on −log p(x): lower is better.</p>`;

class DrawView {
  constructor(parent) {
    this.model = null;
    this.recipe = null; // the dataset's drawing recipe (vae/data/drawing.py drawing_recipe)
    this.source = null; // what is on show: {pixels, shape, q: {mean, logVar}, from}
    this.canvas = null; // the drawing canvas beside the view: {host, lower, upper, detach}
    this.canvasKey = null;
    this.eps = null;
    this.frame = 0;
    this.moveAt = 0; // when our handler saw the first pointer move not yet answered
    this.eventAt = 0; // and that event's timeStamp
    this.penDown = false;
    this.root = document.createElement("div");
    this.root.className = "vae-draw";
    this.root.dataset.updates = "0";
    this.root.innerHTML = `
      <div class="status" role="status"></div>
      <div class="draw-side">
        <figure><canvas class="digit input" width="112" height="112" role="img" aria-label="what the model sees"></canvas>
          <figcaption>what the model sees</figcaption></figure>
        <figure><canvas class="digit reconstruction" width="112" height="112" role="img" aria-label="reconstruction"></canvas>
          <figcaption>reconstruction from μ</figcaption></figure>
        <div class="verdict">
          <div class="readout"></div>
          <div class="looks"></div>
          <div class="hint"></div>
        </div>
      </div>
      <div class="draw-body">
        <div class="pad-main">
          <div class="plane-slot"></div>
          <div class="legend" aria-label="classes"></div>
        </div>
        <div class="elbo-slot"></div>
      </div>
      <details class="explain">${EXPLAIN}</details>`;
    parent.append(this.root);
    this.map = new CodesPlane(this.root.querySelector(".plane-slot"), this.root.querySelector(".legend"),
      "where the image lands in the latent plane", () => this.drawOverlay());
    this.plane = this.map.plane;
    this.elbo = new ElboPanel(this.root.querySelector(".elbo-slot"), () => this.newEps());
    this.announcer = new Announcer(this.root);
    this.resizer = new ResizeObserver(() => this.layout());
    this.resizer.observe(this.root);
  }

  layout() {
    if (!this.model) return;
    this.map.fit(Math.max(220, Math.floor(Math.min(this.root.clientWidth, 440))));
  }

  update(data, setStateValue) {
    const { model, error } = receiveModel(this, data, setStateValue);
    const q = (s) => this.root.querySelector(s);
    if (!model) { // decode nothing rather than the previous model, and say why
      this.model = null;
      this.root.dataset.ready = "false";
      q(".status").textContent = missingModelText(data.model, error);
      return;
    }
    q(".status").textContent = "";
    if (model !== this.model) {
      this.model = model;
      this.map.setModel(model);
      this.eps = null;
      this.source = null;
    }
    this.recipe = data.recipe || null;
    this.noun = data.noun || model.noun;
    this.root.dataset.model = model.key;
    this.root.dataset.serverZ = data.drawn ? JSON.stringify(data.drawn.z) : ""; // Python's code of the drawing (tests)
    this.layout();
    if (data.image) { // a test image picked on the map: Python sends its pixels, the page does the rest
      this.watchCanvas(null);
      this.showImage(Float32Array.from(base64ToBytes(data.image.pixels), (v) => v / 255), data.image.shape, "image");
    } else {
      this.watchCanvas(data.canvas_key || null);
      if (this.canvas && !this.penDown && !this.frame) this.fromCanvas(); // the toolbar's undo or reset
      else if (!this.canvas && !this.source) this.show();
    }
    this.root.dataset.ready = "true";
  }

  newEps() {
    this.eps = Array.from({ length: POSTERIOR_SAMPLES }, () => standardNormal(this.model.encoder.latentDim));
    this.show(true);
  }

  // -- the canvas beside the view

  watchCanvas(key) {
    if (this.canvas && !this.canvas.upper.isConnected) this.detachCanvas(); // remounted: find it again
    if (key !== this.canvasKey) {
      this.detachCanvas();
      this.canvasKey = key;
    }
    if (key && !this.canvas) this.findCanvas();
  }

  findCanvas() {
    clearTimeout(this.looking);
    const host = document.querySelector(`.st-key-${this.canvasKey} ${CANVAS_HOST}`);
    const lower = host?.shadowRoot?.querySelector("canvas.dc-canvas.lower-canvas");
    const upper = host?.shadowRoot?.querySelector("canvas.dc-canvas.upper-canvas");
    if (!lower || !upper) { // the canvas mounts in its own time, beside this view
      this.looking = setTimeout(() => this.findCanvas(), FIND_CANVAS_MS);
      return;
    }
    if (!host.shadowRoot.querySelector("style.vae-toolbar")) {
      const style = document.createElement("style");
      style.className = "vae-toolbar";
      style.textContent = CANVAS_TOOLBAR_CSS;
      host.shadowRoot.append(style);
    }
    const seen = (e) => { this.moveAt ||= performance.now(); this.eventAt ||= e.timeStamp; };
    const down = (e) => { this.penDown = true; this.countFrames(); seen(e); this.schedule(); };
    const move = (e) => { if (!this.penDown) return; seen(e); this.schedule(); };
    const up = () => { if (!this.penDown) return; this.penDown = false; this.schedule(true); };
    const listeners = [["pointerdown", down], ["pointermove", move], ["pointerup", up], ["pointercancel", up]];
    for (const [type, fn] of listeners) upper.addEventListener(type, fn, { passive: true });
    window.addEventListener("pointerup", up, { passive: true }); // released outside the canvas
    this.canvas = { host, lower, upper, detach: () => {
      for (const [type, fn] of listeners) upper.removeEventListener(type, fn);
      window.removeEventListener("pointerup", up);
      delete this.root.dataset.canvas;
    } };
    this.root.dataset.canvas = this.canvasKey; // following this canvas (tests wait for it)
    this.fromCanvas(); // what it holds already (a rerun, or a drawing made before the view mounted)
  }

  detachCanvas() {
    clearTimeout(this.looking);
    this.canvas?.detach();
    this.canvas = null;
  }

  // A move is answered in a task right after its event (the canvas draws the new segment in its
  // own listeners first), unless this frame was answered already: then at the next frame. So at
  // most one re-encode per animation frame, however many moves came, and no frame of waiting.
  // After the pen lifts the canvas turns the stroke into a path on its lower layer, in a frame of
  // its own: read it from the next frame on, until that layer holds the ink again.
  schedule(final = false) {
    if (final) {
      cancelAnimationFrame(this.frame);
      this.frame = requestAnimationFrame(() => { this.frame = 0; this.fromCanvas(FINAL_TRIES); });
      return;
    }
    if (this.frame || this.queued) return;
    if (this.answeredAt !== undefined && this.answeredAt === this.frameCount) {
      this.frame = requestAnimationFrame(() => { this.frame = 0; this.fromCanvas(); });
      return;
    }
    this.queued = true;
    (this.tasks ??= new MessageChannel()).port1.onmessage = () => { this.queued = false; this.fromCanvas(); };
    this.tasks.port2.postMessage(null); // a task, not a timeout: no 4 ms clamp
  }

  // Counts animation frames while the pen is down: how schedule knows this frame was answered.
  countFrames() {
    if (this.counting) return;
    this.counting = true;
    this.frameCount = 0;
    const tick = () => {
      if (!this.penDown) { this.counting = false; return; }
      this.frameCount++;
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  }

  // triesLeft: after the pen lifted, how many more frames to wait for the canvas to show the
  // finished stroke when it reads as blank (its layers hand the stroke over in between).
  fromCanvas(triesLeft = 0) {
    if (!this.canvas || !this.model || !this.recipe) return;
    const computing = performance.now();
    const started = this.moveAt || computing, event = this.eventAt || started; // the first move it answers
    this.moveAt = this.eventAt = 0;
    this.answeredAt = this.frameCount;
    const { lower, upper } = this.canvas;
    const ink = inkOf(lower, this.penDown ? upper : null);
    const prepared = preprocess(ink.alpha, ink.width, ink.height, this.recipe);
    if (prepared.blank && this.source && triesLeft > 0) { // the stroke between the two layers
      this.frame = requestAnimationFrame(() => { this.frame = 0; this.fromCanvas(triesLeft - 1); });
      return;
    }
    if (prepared.blank) {
      this.source = null;
      this.show(false, prepared.bbox ? prepared.message : null); // an empty canvas gets the invitation

    } else {
      this.showImage(prepared.pixels, [this.recipe.side, this.recipe.side], "canvas");
    }
    this.root.dataset.updates = String(Number(this.root.dataset.updates) + 1);
    this.root.dataset.penDown = String(this.penDown);
    // From our handler of the move to the updated input, star, reconstruction, verdict and terms;
    // from the event's creation (adds the browser's input queue); the work alone. bench/live_draw.py
    const end = performance.now();
    performance.measure("vae-draw-update", { start: started, end });
    performance.measure("vae-draw-update-from-event", { start: event, end });
    performance.measure("vae-draw-compute", { start: computing, end });
  }

  showImage(pixels, shape, from) {
    const q = encode(this.model.encoder, pixels); // buffers the next encode reuses: copied
    this.source = { pixels, shape, q: { mean: Float64Array.from(q.mean), logVar: Float64Array.from(q.logVar) }, from };
    this.show(false);
  }

  // -- what is on show

  show(keepSamples = false, message = null) {
    const q = (s) => this.root.querySelector(s), s = this.source, model = this.model;
    if (!this.eps) this.eps = Array.from({ length: POSTERIOR_SAMPLES }, () => standardNormal(model.encoder.latentDim));
    this.drawn = null;
    if (!s) {
      for (const canvas of this.root.querySelectorAll("canvas.digit")) canvas.getContext("2d").clearRect(0, 0, 112, 112);
      q(".readout").textContent = "";
      q(".looks").replaceChildren();
      q(".hint").textContent = message || `Draw a ${model.noun} on the canvas: it lands here, among the test ` +
        `${model.noun}s, and moves as you draw.`;
      this.elbo.clear();
      this.root.removeAttribute("data-z");
      this.root.removeAttribute("data-label");
      this.drawOverlay();
      return;
    }
    const mean = Array.from(s.q.mean), sigma = sigmaOf(s.q.logVar);
    drawImage(q("canvas.input"), s.pixels, s.shape);
    drawImage(q("canvas.reconstruction"), decode(model.decoder, mean), model.decoder.outputShape);
    q(".readout").textContent = `μ = ${fmtPoint(mean)}, σ = ${fmtPoint(sigma)}`;
    const name = showLooksLike(q(".looks"), model, mean);
    const withSamples = !this.penDown || keepSamples; // the strip waits for the pen: 8 decodes a move cost a frame
    const terms = this.elbo.show(model, s.pixels, s.q, this.eps, withSamples);
    this.drawn = { mean, sigma, z: terms.z };
    const [[x0, x1], [y0, y1]] = model.extent, plot = this.plane.plot;
    const hidden = plot && Math.max(N_SIGMA * sigma[0] * plot.w / (x1 - x0), N_SIGMA * sigma[1] * plot.h / (y1 - y0)) < 10;
    const what = s.from === "image" ? `this test ${model.noun}` : `your ${model.noun}`;
    q(".hint").textContent = `★ ${what} at μ; the dotted ellipse is ${N_SIGMA}σ of q(z|x), the encoder's ` +
      "uncertainty (it holds 86% of the probability in 2-D)" + (hidden ? ", here smaller than the star" : "") +
      "; the arrow goes to z = μ + σ⊙ε.";
    q("canvas.input").setAttribute("aria-label", `what the model sees: ${what}, ${s.shape[0]}×${s.shape[1]}`);
    q("canvas.reconstruction").setAttribute("aria-label", `reconstruction from μ = ${fmtPoint(mean)}, looks like ${name}`);
    this.announcer.say(`${what[0].toUpperCase()}${what.slice(1)} lands at μ = ${fmtPoint(mean)}; its reconstruction ` +
      `looks like ${name}; −ELBO ${fmtNats(terms.negElbo)} nats.`);
    this.root.dataset.label = name;
    this.root.dataset.z = JSON.stringify(mean); // what is on show, as numbers (for tests and bench/)
    this.root.dataset.sigma = JSON.stringify(sigma);
    this.drawOverlay();
  }

  drawOverlay() {
    if (!this.plane.size) return;
    const ctx = this.plane.overlayContext(), plane = this.plane, d = this.drawn;
    if (!d) return;
    const [[x0, x1], [y0, y1]] = plane.extent, p = plane.plot;
    const [cx, cy] = plane.toPx(d.mean), [zx, zy] = plane.toPx(d.z);
    const rx = (N_SIGMA * d.sigma[0] * p.w) / (x1 - x0), ry = (N_SIGMA * d.sigma[1] * p.h) / (y1 - y0);
    ctx.save();
    ctx.beginPath();
    ctx.rect(p.x, p.y, p.w, p.h);
    ctx.clip();
    ctx.setLineDash([5, 4]);
    for (const [style, width] of [["#ffffff", 3.5], ["#111111", 1.6]]) { // dark on a white halo
      ctx.strokeStyle = style;
      ctx.lineWidth = width;
      ctx.beginPath();
      ctx.ellipse(cx, cy, Math.max(rx, 0.5), Math.max(ry, 0.5), 0, 0, 2 * Math.PI);
      ctx.stroke();
    }
    ctx.setLineDash([]);
    drawArrow(ctx, cx, cy, zx, zy);
    ctx.beginPath(); // a five-pointed star on top (an ellipse smaller than it is said in numbers)
    for (let i = 0; i < 10; i++) {
      const r = i % 2 ? 4 : 10, a = -Math.PI / 2 + (i * Math.PI) / 5;
      ctx.lineTo(cx + r * Math.cos(a), cy + r * Math.sin(a));
    }
    ctx.closePath();
    ctx.lineJoin = "round";
    ctx.strokeStyle = "#ffffff"; // a white halo: visible on any colour of the codes
    ctx.lineWidth = 4;
    ctx.stroke();
    ctx.fillStyle = "#ffd400";
    ctx.strokeStyle = "#111111";
    ctx.lineWidth = 1.3;
    ctx.fill();
    ctx.stroke();
    ctx.restore();
  }

  destroy() {
    this.announcer.destroy();
    this.detachCanvas();
    cancelAnimationFrame(this.frame);
    this.resizer.disconnect();
    this.map.destroy();
    this.root.remove();
  }
}

// The ink of the canvas: its lower layer (the strokes so far) with, while the pen is down, the
// upper one (the stroke being drawn) composited over it, as the canvas shows them.
function inkOf(lower, upper) {
  const width = lower.width, height = lower.height;
  const a = lower.getContext("2d", { willReadFrequently: true }).getImageData(0, 0, width, height).data;
  const b = upper && upper.width === width && upper.height === height
    ? upper.getContext("2d", { willReadFrequently: true }).getImageData(0, 0, width, height).data : null;
  const alpha = new Uint8ClampedArray(width * height);
  for (let i = 0; i < alpha.length; i++) {
    const over = b ? b[4 * i + 3] : 0, under = a[4 * i + 3];
    alpha[i] = over + Math.round((under * (255 - over)) / 255); // source-over, in alpha
  }
  return { alpha, width, height };
}

// An arrow from μ to z on the overlay: the reparameterization step, dark on a white halo.
function drawArrow(ctx, x0, y0, x1, y1) {
  const length = Math.hypot(x1 - x0, y1 - y0);
  if (length < 3) return;
  const ux = (x1 - x0) / length, uy = (y1 - y0) / length, head = Math.min(9, length / 2);
  for (const [style, width] of [["#ffffff", 4], ["#b42318", 1.8]]) {
    ctx.strokeStyle = style;
    ctx.lineWidth = width;
    ctx.beginPath();
    ctx.moveTo(x0, y0);
    ctx.lineTo(x1, y1);
    ctx.moveTo(x1, y1);
    ctx.lineTo(x1 - head * (ux - 0.5 * uy), y1 - head * (uy + 0.5 * ux));
    ctx.moveTo(x1, y1);
    ctx.lineTo(x1 - head * (ux + 0.5 * uy), y1 - head * (uy - 0.5 * ux));
    ctx.stroke();
  }
}

export default (args) => mountView(DrawView, DRAWS, args);

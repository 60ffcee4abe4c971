// The Draw tab's plane: the test codes the page already holds, and where the drawing landed:
// its z_mean, the 2σ ellipse of q(z|x), what the model saw, and the reconstruction, decoded
// here from z_mean. Per stroke only z, σ and the model's 28×28-style input come from Python.
// Read-only: the drawing surface is the canvas beside it.

const DRAWS = new WeakMap(); // parentElement → DrawView
const N_SIGMA = 2; // in 2-D, the 2σ ellipse holds 1 − e⁻² ≈ 86% of q(z|x)

class DrawView {
  constructor(parent) {
    this.model = null;
    this.drawn = null;
    this.root = document.createElement("div");
    this.root.className = "vae-draw";
    this.root.innerHTML = `
      <div class="status" role="status"></div>
      <div class="draw-side">
        <figure><canvas class="digit input" width="112" height="112" aria-label="what the model sees"></canvas>
          <figcaption>what the model sees</figcaption></figure>
        <figure><canvas class="digit reconstruction" width="112" height="112" aria-label="reconstruction"></canvas>
          <figcaption>reconstruction</figcaption></figure>
        <div class="verdict">
          <div class="readout"></div>
          <div class="looks"></div>
          <div class="hint"></div>
        </div>
      </div>
      <div class="pad-main">
        <div class="plane-slot"></div>
        <div class="legend" aria-label="classes"></div>
      </div>`;
    parent.append(this.root);
    this.map = new CodesPlane(this.root.querySelector(".plane-slot"), this.root.querySelector(".legend"),
      "where the drawing lands in the latent plane", () => this.drawOverlay());
    this.plane = this.map.plane;
    this.resizer = new ResizeObserver(() => this.layout());
    this.resizer.observe(this.root);
  }

  layout() {
    if (!this.model) return;
    this.map.fit(Math.max(220, Math.floor(Math.min(this.root.clientWidth, 540))));
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
    }
    this.drawn = data.drawn && { ...data.drawn, pixels: Float32Array.from(base64ToBytes(data.drawn.image), (v) => v / 255) };
    this.root.dataset.model = model.key;
    this.layout();
    this.show();
    this.root.dataset.ready = "true";
  }

  show() {
    const q = (s) => this.root.querySelector(s), d = this.drawn, model = this.model;
    this.drawOverlay();
    if (!d) {
      for (const canvas of this.root.querySelectorAll("canvas.digit")) canvas.getContext("2d").clearRect(0, 0, 112, 112);
      q(".readout").textContent = "";
      q(".looks").replaceChildren();
      q(".hint").textContent = `Draw a ${model.noun} on the canvas: it lands here, among the test ${model.noun}s.`;
      delete this.root.dataset.z;
      delete this.root.dataset.label;
      return;
    }
    drawImage(q("canvas.input"), d.pixels, d.shape);
    drawImage(q("canvas.reconstruction"), decode(model.decoder, d.z), model.decoder.outputShape);
    q(".readout").textContent = `Encoded at z = ${fmtPoint(d.z)}, σ = ${fmtPoint(d.sigma)}`;
    const name = showLooksLike(q(".looks"), model, d.z);
    const [[x0, x1], [y0, y1]] = model.extent, plot = this.plane.plot;
    const hidden = plot && Math.max(N_SIGMA * d.sigma[0] * plot.w / (x1 - x0), N_SIGMA * d.sigma[1] * plot.h / (y1 - y0)) < 10;
    q(".hint").textContent = `★ your ${model.noun} at its z_mean; the dotted ellipse is ${N_SIGMA}σ of q(z|x), ` +
      "the encoder's uncertainty (it holds 86% of the probability in 2-D)" +
      (hidden ? "; here it is smaller than the star." : ".");
    this.root.dataset.label = name;
    this.root.dataset.z = JSON.stringify(d.z); // what is on show, as numbers (for tests and bench/)
  }

  drawOverlay() {
    if (!this.plane.size) return;
    const ctx = this.plane.overlayContext(), plane = this.plane, d = this.drawn;
    if (!d) return;
    const [[x0, x1], [y0, y1]] = plane.extent, p = plane.plot;
    const [cx, cy] = plane.toPx(d.z);
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
    this.resizer.disconnect();
    this.map.destroy();
    this.root.remove();
  }
}

export default (args) => mountView(DrawView, DRAWS, args);

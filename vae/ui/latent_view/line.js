// The straight line between two latent codes, decoded in the browser: a strip of evenly
// spaced points, and a slider that scrubs t with the decoded image following at once.
// Only the released slider position goes back to Python.

const LINES = new WeakMap(); // parentElement → LineView

const lerp = (a, b, t) => [a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])];

class LineView {
  constructor(parent) {
    this.measures = 0;
    this.root = document.createElement("div");
    this.root.className = "vae-line";
    this.root.innerHTML = `
      <div class="status" role="status"></div>
      <div class="strip" role="group" aria-label="decoded points along the line"></div>
      <div class="line-body">
        <div class="scrub">
          <canvas class="digit" width="224" height="224" role="img" aria-label="decoded image at t"></canvas>
          <label>Position along the line, t = <span class="t"></span>
            <input type="range" min="0" max="1" step="0.01" aria-label="position along the line (t)">
          </label>
          <div class="readout">z = <span class="z"></span></div>
          <div class="looks"></div>
        </div>
        <div class="plane-slot"></div>
      </div>`;
    parent.append(this.root);
    this.plane = new Plane(this.root.querySelector(".plane-slot"), "the line in the latent plane");
    this.plane.redraw = () => this.drawPlane();
    this.slider = this.root.querySelector("input");
    this.status = this.root.querySelector(".status");
    this.digit = this.root.querySelector("canvas.digit");
    this.announcer = new Announcer(this.root);
    this.onInput = (e) => {
      if (!this.model) return;
      this.scrub(Number(this.slider.value), e.timeStamp);
      this.announcer.say(this.digit.getAttribute("aria-label"));
    };
    this.onChange = () => this.setStateValue("t", Number(this.slider.value));
    this.slider.addEventListener("input", this.onInput);
    this.slider.addEventListener("change", this.onChange);
    this.resizer = new ResizeObserver(() => this.layout());
    this.resizer.observe(this.root);
  }

  layout() {
    if (!this.model) return;
    const width = this.root.clientWidth;
    const size = Math.max(220, Math.floor(Math.min(width >= 620 ? width - 260 : width, 440)));
    if (this.plane.fits(size)) return;
    this.plane.resize(size);
    this.drawPlane();
  }

  drawPlane() {
    this.plane.drawBase(this.model, { alpha: 0.3 });
    this.drawPath();
  }

  update(data, setStateValue) {
    this.setStateValue = setStateValue;
    const { model, error } = receiveModel(this, data, setStateValue);
    if (!model) { // decode nothing rather than the previous model, and say why
      this.model = null;
      this.root.dataset.ready = "false";
      this.status.textContent = missingModelText(data.model, error);
      return;
    }
    this.status.textContent = "";
    const newModel = model !== this.model;
    this.model = model;
    this.a = data.a;
    this.b = data.b;
    this.labels = data.labels;
    this.steps = data.steps;
    if (newModel) {
      this.plane.setExtent(model.extent);
      this.plane.size = null;
    }
    if (this.t === undefined || data.t !== this.sentT) this.t = data.t;
    this.sentT = data.t;
    this.slider.value = String(this.t);
    this.drawStrip();
    this.layout();
    this.drawPath();
    this.scrub(this.t);
    this.root.dataset.ready = "true";
  }

  drawStrip() {
    const strip = this.root.querySelector(".strip");
    strip.replaceChildren();
    for (let i = 0; i < this.steps; i++) {
      const t = i / (this.steps - 1);
      const canvas = document.createElement("canvas");
      canvas.width = canvas.height = 64;
      if (i === 0 || i === this.steps - 1) canvas.className = "end";
      canvas.title = `t = ${t.toFixed(2)}`;
      labelImage(canvas, `decoded at t = ${t.toFixed(2)}`);
      drawImage(canvas, decode(this.model.decoder, lerp(this.a, this.b, t)), this.model.decoder.outputShape);
      strip.append(canvas);
    }
  }

  scrub(t, eventTime) {
    this.t = t;
    const z = lerp(this.a, this.b, t);
    drawImage(this.digit, decode(this.model.decoder, z), this.model.decoder.outputShape);
    this.root.querySelector(".t").textContent = t.toFixed(2);
    this.root.querySelector(".z").textContent = fmtPoint(z);
    const name = showLooksLike(this.root.querySelector(".looks"), this.model, z);
    labelImage(this.digit, `decoded ${this.model.noun} at t = ${t.toFixed(2)}, z = ${fmtPoint(z)}, looks like ${name}`);
    this.root.dataset.t = t.toFixed(2);
    this.drawPath();
    if (eventTime !== undefined) {
      performance.measure("vae-line-scrub", { start: eventTime, end: performance.now() });
      if (++this.measures > 5000) { performance.clearMeasures("vae-line-scrub"); this.measures = 0; }
    }
  }

  drawPath() {
    if (!this.plane.size) return;
    const ctx = this.plane.overlayContext(), plane = this.plane;
    const [ax, ay] = plane.toPx(this.a), [bx, by] = plane.toPx(this.b);
    ctx.strokeStyle = "#111";
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.moveTo(ax, ay);
    ctx.lineTo(bx, by);
    ctx.stroke();
    ctx.fillStyle = "#111";
    for (let i = 0; i < this.steps; i++) {
      const [x, y] = plane.toPx(lerp(this.a, this.b, i / (this.steps - 1)));
      ctx.beginPath();
      ctx.arc(x, y, 3, 0, 2 * Math.PI);
      ctx.fill();
    }
    ctx.font = "bold 13px sans-serif";
    ctx.textAlign = "center";
    ctx.textBaseline = "bottom";
    ctx.fillText("A", ax, ay - 6);
    ctx.fillText("B", bx, by - 6);
    const [tx, ty] = plane.toPx(lerp(this.a, this.b, this.t));
    ctx.fillStyle = "#ffd400";
    ctx.strokeStyle = "#111";
    ctx.beginPath();
    ctx.arc(tx, ty, 7, 0, 2 * Math.PI);
    ctx.fill();
    ctx.stroke();
  }

  destroy() {
    this.announcer.destroy();
    this.resizer.disconnect();
    this.slider.removeEventListener("input", this.onInput);
    this.slider.removeEventListener("change", this.onChange);
    this.plane.destroy();
    this.root.remove();
  }
}

export default (args) => mountView(LineView, LINES, args);

// The ELBO of one image, taken apart, as vae/ml/likelihood.py writes it (the tests hold the two
// within 0.01 nats): the reconstruction term −log p(x|z) (Bernoulli pixels, p clipped as Keras
// clips it), KL(q(z|x) ‖ N(0, I)) in closed form, and the reparameterization z = μ + σ⊙ε.
// ElboPanel shows them beside a drawing or a test image: the terms against the test set's mean,
// where the reconstruction cost sits (a heat map), ε as numbers and 8 posterior samples.

const EPS = 1e-7; // keras.backend.epsilon(), as vae/ml/likelihood.py's EPS
export const POSTERIOR_SAMPLES = 8;

// Per-pixel −[x log p + (1 − x) log(1 − p)], into `out` (a Float64Array of x's length).
export function bernoulliCost(x, p, out = new Float64Array(x.length)) {
  for (let i = 0; i < x.length; i++) {
    const q = Math.min(1 - EPS, Math.max(EPS, p[i]));
    out[i] = -(x[i] * Math.log(q) + (1 - x[i]) * Math.log(1 - q));
  }
  return out;
}

// KL(N(μ, exp(lv)) ‖ N(0, 1)) summed over the latent dims.
export function klDivergence(mean, logVar) {
  let kl = 0;
  for (let d = 0; d < mean.length; d++) kl += -0.5 * (1 + logVar[d] - mean[d] * mean[d] - Math.exp(logVar[d]));
  return kl;
}

export const sigmaOf = (logVar) => Array.from(logVar, (lv) => Math.exp(0.5 * lv));
export const reparameterize = (mean, logVar, eps) => Array.from(mean, (m, d) => m + Math.exp(0.5 * logVar[d]) * eps[d]);

// The terms for image x (values in [0, 1]) with q(z|x) = N(mean, exp(logVar)) and the noise eps:
// {z, reconstruction, kl, negElbo, cost (per pixel, a copy), decoded (p at z, a copy)}.
export function elboTerms(decoder, x, mean, logVar, eps) {
  const z = reparameterize(mean, logVar, eps);
  const decoded = Float64Array.from(decode(decoder, z));
  const cost = bernoulliCost(x, decoded);
  let reconstruction = 0;
  for (const c of cost) reconstruction += c;
  const kl = klDivergence(mean, logVar);
  return { z, reconstruction, kl, negElbo: reconstruction + kl, cost, decoded };
}

// n independent standard normal draws (Box–Muller on the browser's random numbers).
export function standardNormal(n) {
  const out = [];
  while (out.length < n) {
    const u = 1 - Math.random(), v = Math.random(); // u in (0, 1]: log(u) is finite
    out.push(Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v));
  }
  return out;
}

// The per-pixel cost as a heat map: white (no cost) through orange to dark red (the image's
// most costly pixel), so the shape of the mistakes shows whatever their size.
export function drawHeat(canvas, cost, shape, top) {
  paintPixels(canvas, shape, (p, rgba, i) => {
    const t = top > 0 ? Math.min(1, cost[p] / top) : 0;
    rgba[i] = Math.round(255 - 115 * t); // 255 → 140
    rgba[i + 1] = Math.round(255 - 255 * Math.min(1, 1.4 * t)); // → 0, sooner
    rgba[i + 2] = Math.round(255 - 255 * Math.min(1, 3 * t)); // → 0, soonest
    rgba[i + 3] = 255;
  });
}

const fmtNats = (v) => v.toFixed(1);
const fmtSigned = (v) => (Math.abs(v) < 0.005 ? 0 : v).toFixed(2).replace("-", "−");

// The panel: built once per view, shown again for every new image or ε.
export class ElboPanel {
  constructor(container, onNewEps) {
    this.root = document.createElement("section");
    this.root.className = "elbo";
    this.root.setAttribute("aria-label", "the ELBO of this image, taken apart");
    this.root.innerHTML = `
      <table class="terms">
        <caption>The loss for this one image, in nats</caption>
        <thead><tr><th scope="col">term</th><th scope="col">this image</th><th scope="col">test-set mean</th></tr></thead>
        <tbody>
          <tr class="recon"><th scope="row">reconstruction −log p(x|z)</th><td></td><td></td></tr>
          <tr class="kl"><th scope="row">KL(q(z|x) ‖ N(0, I))</th><td></td><td></td></tr>
          <tr class="total"><th scope="row">−ELBO (their sum)</th><td></td><td></td></tr>
        </tbody>
      </table>
      <p class="weighting note"></p>
      <div class="elbo-row">
        <figure><canvas class="heat" width="112" height="112" role="img"></canvas>
          <figcaption>where the reconstruction cost is</figcaption></figure>
        <div class="reparam">
          <div class="eps numbers"></div>
          <div class="zs numbers"></div>
          <button type="button" class="new-eps">Draw new ε</button>
        </div>
      </div>
      <figure class="samples-figure"><div class="samples strip" role="group"></div>
        <figcaption></figcaption></figure>`;
    container.append(this.root);
    this.samples = [];
    const strip = this.root.querySelector(".samples");
    for (let k = 0; k < POSTERIOR_SAMPLES; k++) {
      const canvas = document.createElement("canvas");
      canvas.width = canvas.height = 64;
      canvas.setAttribute("role", "img");
      strip.append(canvas);
      this.samples.push(canvas);
    }
    this.root.querySelector(".new-eps").addEventListener("click", onNewEps);
  }

  // model: the page's model (decoder, outputShape, noun, metrics, training); x: the image's
  // pixels; q: {mean, logVar}; eps: POSTERIOR_SAMPLES arrays of latentDim normals, the first
  // the one the terms and the arrow use; withSamples: decode the strip too (8 decodes). Returns
  // the terms of the first sample.
  show(model, x, q, eps, withSamples = true) {
    const el = (s) => this.root.querySelector(s);
    const terms = elboTerms(model.decoder, x, q.mean, q.logVar, eps[0]);
    const test = model.metrics || {};
    const cells = (row, mine, mean) => {
      const [a, b] = el(`tr.${row}`).querySelectorAll("td");
      a.textContent = fmtNats(mine);
      b.textContent = Number.isFinite(mean) ? fmtNats(mean) : "—";
    };
    cells("recon", terms.reconstruction, test.reconstruction);
    cells("kl", terms.kl, test.kl);
    cells("total", terms.negElbo, test.neg_elbo);
    el(".weighting").textContent = weightingNote(model.training);
    let top = 0;
    for (const c of terms.cost) top = Math.max(top, c);
    const heat = el("canvas.heat");
    drawHeat(heat, terms.cost, model.decoder.outputShape, top);
    heat.setAttribute("aria-label", `heat map of the reconstruction cost per pixel, ${fmtNats(terms.reconstruction)} nats ` +
      `in all, at most ${top.toFixed(2)} nats on one pixel`);
    el(".eps").textContent = `ε = (${eps[0].map(fmtSigned).join(", ")}) drawn from N(0, I)`;
    el(".zs").textContent = `z = μ + σ⊙ε = (${terms.z.map(fmtSigned).join(", ")})`;
    for (let k = 0; withSamples && k < this.samples.length; k++) {
      const z = reparameterize(q.mean, q.logVar, eps[k]);
      drawImage(this.samples[k], decode(model.decoder, z), model.decoder.outputShape);
      this.samples[k].setAttribute("aria-label", `decoded posterior sample ${k + 1} at z = (${z.map(fmtSigned).join(", ")})`);
    }
    el(".samples-figure figcaption").textContent = `${POSTERIOR_SAMPLES} decodes of z = μ + σ⊙ε, one ε each: ` +
      `how much of the encoder's spread survives decoding`;
    this.root.dataset.terms = JSON.stringify({ reconstruction: terms.reconstruction, kl: terms.kl,
      negElbo: terms.negElbo, eps: eps[0], z: terms.z }); // what is on show, as numbers (tests)
    return terms;
  }

  clear() {
    for (const td of this.root.querySelectorAll("td")) td.textContent = "";
    delete this.root.dataset.terms;
  }
}

// Why the training loss differs from the terms shown, when it does.
function weightingNote(training) {
  if (!training) return "";
  const parts = [];
  if (training.beta !== undefined && training.beta !== 1) parts.push(`weighed the KL by β = ${training.beta}`);
  if (training.kl_reduction === "mean") parts.push("averaged the KL over the latent dims instead of summing it");
  return parts.length ? `These are the true ELBO terms. This model's training loss ${parts.join(" and ")}, ` +
    "so it traded them differently." : "These are the true ELBO terms, the loss this model was trained on.";
}

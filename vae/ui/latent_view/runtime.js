// The browser's model runtime: run a decoder or an encoder exported by vae/ml/export.py and
// find a code's nearest test codes. Pure functions of typed arrays, no DOM: it runs in a page,
// a worker or node, and tests/e2e/test_runtime_browser.py loads it alone. The views' modules
// start with this file (see __init__.py).
//
// Why hand-written rather than tfjs or onnxruntime-web: the models are three kinds of
// layer and a few million multiply-adds; this file is a few kB where those runtimes are
// megabytes of JS or wasm, and tfjs' converter breaks on Keras 3 files. The arithmetic
// mirrors vae/ml/export.py's numpy_decode and numpy_encode, which are checked against Keras.

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

function relu(buffer) {
  for (let i = 0; i < buffer.length; i++) if (buffer[i] < 0) buffer[i] = 0;
}

function sigmoid(buffer) {
  for (let i = 0; i < buffer.length; i++) buffer[i] = 1 / (1 + Math.exp(-buffer[i]));
}

// vae/ml/export.py's ACTIVATIONS, in place; anything else is refused by name.
const ACTIVATIONS = { linear: null, relu, sigmoid };

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

// Conv2D and Conv2DTranspose alike: each output pixel gathers kernel taps × input pixels,
// the pairs prepareConvolution listed. The input's nonzero values are listed first, pixel by
// pixel (after a relu about half are zero: skipping them here costs no branch in the inner
// loop), and eight output channels are summed at a time in locals, so that the output is
// written once and each input value read once per eight channels.
function convolve(x, layer) {
  const [h, w, cin] = layer.input_shape, cout = layer.output_shape[2];
  const { kernel: k, bias, out, starts, pairs, values, rows, ends } = layer;
  let n = 0;
  for (let p = 0, i = 0; p < h * w; p++) {
    for (let ci = 0; ci < cin; ci++, i++) {
      const v = x[i];
      if (v !== 0) { values[n] = v; rows[n] = ci * cout; n++; }
    }
    ends[p + 1] = n;
  }
  const block = cout - (cout % 8);
  for (let o = 0; o < starts.length - 1; o++) {
    const first = starts[o], last = starts[o + 1], at = o * cout;
    for (let co = 0; co < block; co += 8) {
      let a0 = bias[co], a1 = bias[co + 1], a2 = bias[co + 2], a3 = bias[co + 3];
      let a4 = bias[co + 4], a5 = bias[co + 5], a6 = bias[co + 6], a7 = bias[co + 7];
      for (let q = first; q < last; q++) {
        const tap = pairs[2 * q] + co, p = pairs[2 * q + 1];
        for (let j = ends[p], end = ends[p + 1]; j < end; j++) {
          const v = values[j], r = tap + rows[j];
          a0 += v * k[r]; a1 += v * k[r + 1]; a2 += v * k[r + 2]; a3 += v * k[r + 3];
          a4 += v * k[r + 4]; a5 += v * k[r + 5]; a6 += v * k[r + 6]; a7 += v * k[r + 7];
        }
      }
      out[at + co] = a0; out[at + co + 1] = a1; out[at + co + 2] = a2; out[at + co + 3] = a3;
      out[at + co + 4] = a4; out[at + co + 5] = a5; out[at + co + 6] = a6; out[at + co + 7] = a7;
    }
    for (let co = block; co < cout; co++) { // the channels left over
      let a = bias[co];
      for (let q = first; q < last; q++) {
        const tap = pairs[2 * q] + co, p = pairs[2 * q + 1];
        for (let j = ends[p], end = ends[p + 1]; j < end; j++) a += values[j] * k[tap + rows[j]];
      }
      out[at + co] = a;
    }
  }
  return out;
}

// A convolution's geometry, worked out once: the kernel as [ky, kx, ci, co] (Keras stores
// Conv2DTranspose's as [ky, kx, co, ci]), and for every output pixel the (kernel tap, input
// pixel) pairs that reach it, by Keras' rules:
//   Conv2D           out[oy, ox] += in[oy*s + ky - pad, ox*s + kx - pad] · w[ky, kx]
//   Conv2DTranspose  out[iy*s + ky - pad, ix*s + kx - pad] += in[iy, ix] · w[ky, kx]
function prepareConvolution(layer, stored) {
  const [h, w, cin] = layer.input_shape, [oh, ow, cout] = layer.output_shape;
  const [kh, kw] = layer.kernel_size, [sh, sw] = layer.strides, [pt, pl] = layer.pad;
  const transpose = layer.type === "conv2d_transpose";
  const kernel = new Float64Array(stored.length);
  for (let t = 0; t < kh * kw; t++) {
    for (let ci = 0; ci < cin; ci++) {
      for (let co = 0; co < cout; co++) {
        kernel[(t * cin + ci) * cout + co] = stored[transpose ? (t * cout + co) * cin + ci : (t * cin + ci) * cout + co];
      }
    }
  }
  // the input row or column a tap reads (Conv2D), or the one that writes here (the transpose,
  // when there is a whole one)
  const source = (o, k, s, pad) => (transpose ? ((o + pad - k) % s === 0 ? (o + pad - k) / s : -1) : o * s + k - pad);
  const pairs = [], starts = new Int32Array(oh * ow + 1);
  for (let oy = 0; oy < oh; oy++) {
    for (let ox = 0; ox < ow; ox++) {
      for (let ky = 0; ky < kh; ky++) {
        const iy = source(oy, ky, sh, pt);
        if (iy < 0 || iy >= h) continue;
        for (let kx = 0; kx < kw; kx++) {
          const ix = source(ox, kx, sw, pl);
          if (ix >= 0 && ix < w) pairs.push((ky * kw + kx) * cin * cout, iy * w + ix);
        }
      }
      starts[oy * ow + ox + 1] = pairs.length / 2;
    }
  }
  return { kernel, starts, pairs: Int32Array.from(pairs), values: new Float64Array(h * w * cin),
    rows: new Int32Array(h * w * cin), ends: new Int32Array(h * w + 1) };
}

// vae/ml/export.py's layer types; a reshape is row-major, channels last: the same buffer.
const LAYERS = { dense, conv2d: convolve, conv2d_transpose: convolve, reshape: null };

// One described layer → typed arrays and a preallocated output buffer, so running it allocates
// nothing while the pointer moves. Anything this runtime cannot run exactly is refused by
// name here (`where` says which layer), before anything is run. The arithmetic is in float64,
// JavaScript's own numbers: no conversion at every load.
function prepareLayer(layer, where) {
  if (!Object.hasOwn(LAYERS, layer.type)) {
    throw new Error(`${where}: unsupported layer type ${layer.type}`);
  }
  if (layer.type === "reshape") return { type: "reshape" };
  if (!Object.hasOwn(ACTIVATIONS, layer.activation)) {
    throw new Error(`${where} (${layer.type}): unsupported activation ${layer.activation}; ` +
      `the browser runtime runs ${Object.keys(ACTIVATIONS).join(", ")}`);
  }
  const stored = base64ToFloat32(layer.kernel);
  return {
    ...layer,
    run: LAYERS[layer.type],
    activate: ACTIVATIONS[layer.activation],
    ...(layer.type === "dense" ? { kernel: Float64Array.from(stored) } : prepareConvolution(layer, stored)),
    bias: Float64Array.from(base64ToFloat32(layer.bias)),
    out: new Float64Array(product(layer.output_shape)),
  };
}

function prepareLayers(layers, side = "") {
  return layers.map((layer, i) => prepareLayer(layer, `${side}layer ${i}`));
}

// A prepared layer on x → its own output buffer, reused by the next call.
function runLayer(layer, x) {
  const out = layer.run(x, layer);
  if (layer.activate) layer.activate(out);
  return out;
}

function runLayers(layers, x) {
  for (const layer of layers) if (layer.run) x = runLayer(layer, x); // a reshape has no run
  return x;
}

function checkFormat(description, format, what) {
  if (description?.format !== format) throw new Error(`unknown ${what} format ${description?.format}`);
}

// A decoder description from vae/ml/export.py, ready to decode.
export function prepareDecoder(description) {
  checkFormat(description, "vae-decoder/1", "decoder");
  return { latentDim: description.latent_dim, outputShape: description.output_shape,
    layers: prepareLayers(description.layers) };
}

// z (array of latentDim numbers) → Float64Array of the decoder's output, channels last.
// The returned buffer is reused by the next call: copy it to keep it.
export function decode(decoder, z) {
  return runLayers(decoder.layers, Float64Array.from(z));
}

// An encoder description from vae/ml/export.py, ready to encode: its layers, then the two
// Dense heads, each with a buffer of its own, so that both read the same features.
export function prepareEncoder(description) {
  checkFormat(description, "vae-encoder/1", "encoder");
  const head = (name) => {
    const layer = description[name];
    if (!layer || layer.type !== "dense") throw new Error(`encoder ${name}: the head must be a dense layer`);
    return prepareLayer(layer, `encoder ${name}`);
  };
  return { latentDim: description.latent_dim, inputShape: description.input_shape,
    layers: prepareLayers(description.layers, "encoder "), zMean: head("z_mean"), zLogVar: head("z_log_var"),
    input: new Float64Array(product(description.input_shape)) };
}

// pixels (rows × cols × channels numbers in [0, 1], row-major, channels last: what the model
// was trained on) → {mean, logVar}, each a Float64Array of latentDim numbers. The Sampling
// layer is not here: z = mean + exp(logVar / 2) · ε, with ε drawn by the caller. The returned
// buffers are reused by the next call: copy them to keep them.
export function encode(encoder, pixels) {
  if (pixels.length !== encoder.input.length) {
    throw new Error(`encode: ${pixels.length} values for an input of ${encoder.inputShape.join("×")}`);
  }
  encoder.input.set(pixels);
  const features = runLayers(encoder.layers, encoder.input);
  return { mean: runLayer(encoder.zMean, features), logVar: runLayer(encoder.zLogVar, features) };
}

// The k nearest codes to z by Euclidean distance; the majority label, ties to the
// nearer neighbour (as vae/ml/knn.py's vote).
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

// One model's browser data (what vae/explorer/__init__.py's browser_payload sends), decoded.
export function modelFromPayload(payload) {
  return {
    key: payload.key,
    decoder: prepareDecoder(payload.decoder),
    encoder: prepareEncoder(payload.encoder),
    codes: base64ToFloat32(payload.codes),
    labels: base64ToBytes(payload.labels),
    classNames: payload.class_names,
    colors: payload.class_colors,
    noun: payload.noun,
    extent: payload.extent,
    k: payload.looks_like_k,
    metrics: payload.metrics, // the test set's mean ELBO terms (elbo.js)
    training: payload.training,
  };
}

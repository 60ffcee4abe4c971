// The browser decoder's runtime: run a decoder exported by vae/export.py and find a code's
// nearest test codes. Pure functions of typed arrays, no DOM: it runs in a page, a worker
// or node, and tests/e2e/test_runtime_browser.py loads it alone. The views' modules start
// with this file (see __init__.py).
//
// Why hand-written rather than tfjs or onnxruntime-web: the decoders are three kinds of
// layer and a few million multiply-adds; this file is a few kB where those runtimes are
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

function relu(buffer) {
  for (let i = 0; i < buffer.length; i++) if (buffer[i] < 0) buffer[i] = 0;
}

function sigmoid(buffer) {
  for (let i = 0; i < buffer.length; i++) buffer[i] = 1 / (1 + Math.exp(-buffer[i]));
}

// vae/export.py's ACTIVATIONS, in place; anything else is refused by name.
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

// Keras' Conv2D: out[oy, ox, co] = b[co] + Σ in[oy*s + ky - pad, ox*s + kx - pad, ci] · w[ky, kx, ci, co]
// Eight output channels at a time in local sums (the kernel's co runs fastest, so their
// weights are adjacent): the output is written once, and each input value read once per
// eight channels. A zero input (after a relu, about half of them) is skipped.
function conv2d(x, layer) {
  const [h, w, cin] = layer.input_shape, [oh, ow, cout] = layer.output_shape;
  const [kh, kw] = layer.kernel_size, [sh, sw] = layer.strides, [pt, pl] = layer.pad;
  const k = layer.kernel, bias = layer.bias, out = layer.out;
  const block = cout - (cout % 8);
  for (let oy = 0; oy < oh; oy++) {
    const ky0 = Math.max(0, pt - oy * sh), ky1 = Math.min(kh, h + pt - oy * sh);
    for (let ox = 0; ox < ow; ox++) {
      const kx0 = Math.max(0, pl - ox * sw), kx1 = Math.min(kw, w + pl - ox * sw);
      const o = (oy * ow + ox) * cout;
      for (let co = 0; co < block; co += 8) {
        let a0 = bias[co], a1 = bias[co + 1], a2 = bias[co + 2], a3 = bias[co + 3];
        let a4 = bias[co + 4], a5 = bias[co + 5], a6 = bias[co + 6], a7 = bias[co + 7];
        for (let ky = ky0; ky < ky1; ky++) {
          const iy = oy * sh + ky - pt;
          for (let kx = kx0; kx < kx1; kx++) {
            let i = (iy * w + ox * sw + kx - pl) * cin, r = (ky * kw + kx) * cin * cout + co;
            for (let ci = 0; ci < cin; ci++, i++, r += cout) {
              const v = x[i];
              if (v === 0) continue;
              a0 += v * k[r]; a1 += v * k[r + 1]; a2 += v * k[r + 2]; a3 += v * k[r + 3];
              a4 += v * k[r + 4]; a5 += v * k[r + 5]; a6 += v * k[r + 6]; a7 += v * k[r + 7];
            }
          }
        }
        out[o + co] = a0; out[o + co + 1] = a1; out[o + co + 2] = a2; out[o + co + 3] = a3;
        out[o + co + 4] = a4; out[o + co + 5] = a5; out[o + co + 6] = a6; out[o + co + 7] = a7;
      }
      for (let co = block; co < cout; co++) { // the channels left over
        let a = bias[co];
        for (let ky = ky0; ky < ky1; ky++) {
          const iy = oy * sh + ky - pt;
          for (let kx = kx0; kx < kx1; kx++) {
            const i = (iy * w + ox * sw + kx - pl) * cin, r = (ky * kw + kx) * cin * cout + co;
            for (let ci = 0; ci < cin; ci++) a += x[i + ci] * k[r + ci * cout];
          }
        }
        out[o + co] = a;
      }
    }
  }
  return out;
}

// Keras' Conv2DTranspose (kernel stored as [kh, kw, out, in]): out[oy, ox] gathers every
// in[iy, ix] with oy = iy*s + ky - pad (and the same in x). Gathered per output pixel, four
// output channels at a time in local sums: the output is written once.
function conv2dTranspose(x, layer) {
  const [h, w, cin] = layer.input_shape, [oh, ow, cout] = layer.output_shape;
  const [kh, kw] = layer.kernel_size, [sh, sw] = layer.strides, [pt, pl] = layer.pad;
  const k = layer.kernel, bias = layer.bias, out = layer.out;
  const block = cout - (cout % 4);
  for (let oy = 0; oy < oh; oy++) {
    for (let ox = 0; ox < ow; ox++) {
      const o = (oy * ow + ox) * cout;
      for (let co = 0; co < cout; co++) out[o + co] = bias[co];
      for (let ky = (oy + pt) % sh; ky < kh; ky += sh) {
        const iy = (oy + pt - ky) / sh;
        if (iy < 0 || iy >= h) continue;
        for (let kx = (ox + pl) % sw; kx < kw; kx += sw) {
          const ix = (ox + pl - kx) / sw;
          if (ix < 0 || ix >= w) continue;
          const i = (iy * w + ix) * cin, tap = (ky * kw + kx) * cout * cin;
          for (let co = 0; co < block; co += 4) {
            const r0 = tap + co * cin, r1 = r0 + cin, r2 = r1 + cin, r3 = r2 + cin;
            let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
            for (let ci = 0; ci < cin; ci++) {
              const v = x[i + ci];
              a0 += v * k[r0 + ci]; a1 += v * k[r1 + ci]; a2 += v * k[r2 + ci]; a3 += v * k[r3 + ci];
            }
            out[o + co] += a0; out[o + co + 1] += a1; out[o + co + 2] += a2; out[o + co + 3] += a3;
          }
          for (let co = block; co < cout; co++) {
            const r = tap + co * cin;
            let a = 0;
            for (let ci = 0; ci < cin; ci++) a += x[i + ci] * k[r + ci];
            out[o + co] += a;
          }
        }
      }
    }
  }
  return out;
}

// vae/export.py's layer types; a reshape is row-major, channels last: the same buffer.
const LAYERS = { dense, conv2d, conv2d_transpose: conv2dTranspose, reshape: null };

// A description from vae/export.py → layers with typed arrays and preallocated buffers,
// so decoding allocates nothing while the pointer moves. Anything this runtime cannot run
// exactly is refused by name here, before a single point is decoded.
export function prepareDecoder(description) {
  if (description.format !== "vae-decoder/1") {
    throw new Error(`unknown decoder format ${description.format}`);
  }
  const layers = description.layers.map((layer, i) => {
    if (!Object.hasOwn(LAYERS, layer.type)) {
      throw new Error(`layer ${i}: unsupported layer type ${layer.type}`);
    }
    if (layer.type === "reshape") return { type: "reshape" };
    if (!Object.hasOwn(ACTIVATIONS, layer.activation)) {
      throw new Error(`layer ${i} (${layer.type}): unsupported activation ${layer.activation}; ` +
        `the browser decoder runs ${Object.keys(ACTIVATIONS).join(", ")}`);
    }
    return {
      ...layer,
      run: LAYERS[layer.type],
      activate: ACTIVATIONS[layer.activation],
      kernel: base64ToFloat32(layer.kernel),
      bias: base64ToFloat32(layer.bias),
      out: new Float32Array(product(layer.output_shape)),
    };
  });
  return { latentDim: description.latent_dim, outputShape: description.output_shape, layers };
}

// z (array of latentDim numbers) → Float32Array of the decoder's output, channels last.
// The returned buffer is reused by the next call: copy it to keep it.
export function decode(decoder, z) {
  let x = Float32Array.from(z);
  for (const layer of decoder.layers) {
    if (!layer.run) continue; // a reshape
    x = layer.run(x, layer);
    if (layer.activate) layer.activate(x);
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

// One model's browser data (what vae/explorer.py's browser_payload sends), decoded.
export function modelFromPayload(payload) {
  return {
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
}

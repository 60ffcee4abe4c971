// A canvas drawing → the encoder's input, made by the dataset's recipe: the page's twin of
// vae/data/drawing.py's preprocess_drawing, which is the reference. Find the ink box, fit it
// into recipe.inkBox px keeping its aspect ratio with Pillow's resampling filter, then place it
// in a recipe.side field with its centre of mass at the middle, by a whole-pixel shift.
// The recipe's numbers come from Python (drawing_recipe); tests/e2e/test_drawing_prep_browser.py
// holds the two implementations within 2/255 per pixel.
//
// Pure functions of typed arrays, no DOM and no imports: it runs in a page, a worker or node.
//
// Why the resampler is hand-written: the npm Lanczos resizers (pica and its ports,
// @rgba-image/lanczos, ndarray-lanczos) use 14-bit fixed-point weights on 8-bit RGBA, while
// Pillow resizes a float ('F') image in double; this is a port of Pillow's
// src/libImaging/Resample.c (precompute_coeffs and the 32bpc passes) for that case.
//
// Where Python's arithmetic order decides a result it is copied too: Python's round() (half to
// even) for the fitted size, and NumPy's pairwise summation for the centre of mass, since a sum
// taken in another order can move the centre across a half pixel and the drawing by a whole one.

function sinc(x) {
  if (x === 0) return 1;
  x = x * Math.PI;
  return Math.sin(x) / x;
}

function lanczos(x) {
  return -3 <= x && x < 3 ? sinc(x) * sinc(x / 3) : 0; // truncated sinc, as Pillow's
}

// Pillow's filters by the name drawing_recipe gives (Image.Resampling's, lower case): the
// weight of an input pixel x filter units from the centre, and how far the weights reach.
export const FILTERS = {
  lanczos: { weight: lanczos, support: 3 },
};

// Pillow's round() for a size: Python rounds halves to even, Math.round rounds them up.
export function roundHalfEven(x) {
  const below = Math.floor(x), rest = x - below;
  if (rest !== 0.5) return rest < 0.5 ? below : below + 1;
  return below % 2 === 0 ? below : below + 1;
}

// Pillow's precompute_coeffs over the whole input (box 0..inSize): for each output pixel, the
// first input pixel it reads, how many, and their normalised weights, `taps` slots apiece.
export function resampleWeights(inSize, outSize, filter) {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1); // shrinking widens the filter; enlarging does not narrow it
  const support = filter.support * filterScale;
  const taps = Math.ceil(support) * 2 + 1;
  const inverse = 1 / filterScale; // Pillow multiplies by the inverse rather than dividing
  const first = new Int32Array(outSize), count = new Int32Array(outSize);
  const weights = new Float64Array(outSize * taps);
  for (let o = 0; o < outSize; o++) {
    const centre = (o + 0.5) * scale;
    const lo = Math.max(Math.trunc(centre - support + 0.5), 0); // C's (int) truncates
    const n = Math.min(Math.trunc(centre + support + 0.5), inSize) - lo;
    let total = 0;
    for (let i = 0; i < n; i++) {
      const w = filter.weight((i + lo - centre + 0.5) * inverse);
      weights[o * taps + i] = w;
      total += w;
    }
    if (total !== 0) for (let i = 0; i < n; i++) weights[o * taps + i] /= total;
    first[o] = lo;
    count[o] = n;
  }
  return { first, count, weights, taps };
}

// One pass along rows (horizontal) or columns: the sums in double, each result stored in
// float32 as Pillow's 'F' image stores it between the passes.
function resampleRows(image, width, height, outWidth, filter) {
  const { first, count, weights, taps } = resampleWeights(width, outWidth, filter);
  const out = new Float32Array(outWidth * height);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let o = 0; o < outWidth; o++) {
      let sum = 0;
      for (let i = 0; i < count[o]; i++) sum += image[row + first[o] + i] * weights[o * taps + i];
      out[y * outWidth + o] = sum;
    }
  }
  return out;
}

function resampleColumns(image, width, height, outHeight, filter) {
  const { first, count, weights, taps } = resampleWeights(height, outHeight, filter);
  const out = new Float32Array(width * outHeight);
  for (let o = 0; o < outHeight; o++) {
    for (let x = 0; x < width; x++) {
      let sum = 0;
      for (let i = 0; i < count[o]; i++) sum += image[(first[o] + i) * width + x] * weights[o * taps + i];
      out[o * width + x] = sum;
    }
  }
  return out;
}

// Pillow's Image.resize of an 'F' image: horizontal pass, then vertical, each only when that
// side changes size. `image` is a row-major Float32Array; the result is a new one.
export function resample(image, width, height, outWidth, outHeight, filter = FILTERS.lanczos) {
  let out = image;
  if (outWidth !== width) out = resampleRows(out, width, height, outWidth, filter);
  if (outHeight !== height) out = resampleColumns(out, outWidth, height, outHeight, filter);
  return out === image ? Float32Array.from(image) : out;
}

// drawing.py's ink_intensity for a canvas: ink in [0, 1] from the alpha channel, in double.
// `pixels` is getImageData's RGBA (4 bytes a pixel) or the alpha channel alone (1 byte).
export function inkFromCanvas(pixels, width, height) {
  const n = width * height;
  const stride = pixels.length === 4 * n ? 4 : pixels.length === n ? 1 : 0;
  if (!stride) throw new Error(`expected ${n} alpha bytes or ${4 * n} RGBA bytes for ${width}×${height}, got ${pixels.length}`);
  const ink = new Float64Array(n);
  for (let i = 0, j = stride - 1; i < n; i++, j += stride) ink[i] = pixels[j] / 255;
  return ink;
}

// drawing.py's ink_bbox: [left, top, right, bottom) of the ink above threshold, or null.
export function inkBbox(ink, width, height, threshold) {
  let left = width, top = height, right = 0, bottom = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!(ink[y * width + x] > threshold)) continue;
      if (x < left) left = x;
      if (x >= right) right = x + 1;
      if (y < top) top = y;
      bottom = y + 1;
    }
  }
  return right === 0 ? null : [left, top, right, bottom];
}

export function countInk(ink, threshold) {
  let n = 0;
  for (let i = 0; i < ink.length; i++) if (ink[i] > threshold) n++;
  return n;
}

// The box's ink as float32, as drawing.py hands it to Pillow (ink[...].astype("float32")).
function crop(ink, width, [left, top, right, bottom]) {
  const w = right - left, h = bottom - top;
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[y * w + x] = ink[(top + y) * width + left + x];
  return out;
}

// drawing.py's fit_box: the longer side to `box` px keeping the aspect ratio, clipped to [0, 1]
// (the filter's ringing goes below 0 and above 1).
export function fitBox(ink, width, height, box, filter = FILTERS.lanczos) {
  const scale = box / Math.max(height, width);
  const outWidth = Math.max(1, roundHalfEven(width * scale));
  const outHeight = Math.max(1, roundHalfEven(height * scale));
  const patch = resample(ink, width, height, outWidth, outHeight, filter);
  for (let i = 0; i < patch.length; i++) patch[i] = Math.min(Math.max(patch[i], 0), 1);
  return { patch, width: outWidth, height: outHeight };
}

// NumPy's float64 sum of n values `stride` apart (pairwise_sum): eight running sums up to 128
// values, halves above.
function numpySum(values, start, n, stride) {
  if (n < 8) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += values[start + i * stride];
    return sum;
  }
  if (n <= 128) {
    const r = new Float64Array(8);
    for (let j = 0; j < 8; j++) r[j] = values[start + j * stride];
    let i = 8;
    for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j] += values[start + (i + j) * stride];
    let sum = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; i++) sum += values[start + i * stride];
    return sum;
  }
  let half = Math.floor(n / 2);
  half -= half % 8;
  return numpySum(values, start, half, stride) + numpySum(values, start + half * stride, n - half, stride);
}

// drawing.py's centre_of_mass, summed in NumPy's order: [row, col] in pixel indices.
export function centreOfMass(patch, width, height) {
  const total = numpySum(patch, 0, width * height, 1); // image.sum(): one pairwise sum
  const rowSums = new Float64Array(height), colSums = new Float64Array(width);
  for (let y = 0; y < height; y++) rowSums[y] = numpySum(patch, y * width, width, 1); // sum(axis=1)
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) colSums[x] += patch[y * width + x]; // sum(axis=0): row by row
  for (let y = 0; y < height; y++) rowSums[y] *= y;
  for (let x = 0; x < width; x++) colSums[x] *= x;
  return [numpySum(rowSums, 0, height, 1) / total, numpySum(colSums, 0, width, 1) / total];
}

// drawing.py's place_centred: the patch in a side × side field, its centre of mass at `centre`
// by a whole-pixel shift, clamped so no ink falls off the field.
export function placeCentred(patch, width, height, side, centre = side / 2) {
  const [cy, cx] = centreOfMass(patch, width, height);
  const top = Math.min(Math.max(Math.floor(centre - cy + 0.5), 0), side - height);
  const left = Math.min(Math.max(Math.floor(centre - cx + 0.5), 0), side - width);
  const pixels = new Float32Array(side * side);
  for (let y = 0; y < height; y++) pixels.set(patch.subarray(y * width, (y + 1) * width), (top + y) * side + left);
  return { pixels, top, left };
}

// The drawing → {pixels: Float32Array(side * side) in [0, 1] row-major, or null when blank;
// blank; message: the hint when blank, else null; bbox: [left, top, right, bottom) of the ink
// in canvas pixels, null for an empty canvas}. `pixels` as inkFromCanvas takes them; `recipe`
// is drawing_recipe's dict.
export function preprocess(pixels, width, height, recipe) {
  const filter = FILTERS[recipe.filter];
  if (!filter) throw new Error(`unknown resampling filter ${recipe.filter}`);
  const ink = inkFromCanvas(pixels, width, height);
  const bbox = inkBbox(ink, width, height, recipe.inkThreshold);
  if (!bbox) return { pixels: null, blank: true, message: recipe.emptyMessage, bbox: null };
  const [left, top, right, bottom] = bbox;
  const tooFew = countInk(ink, recipe.inkThreshold) < recipe.minInkPixels;
  const tooSmall = Math.max(right - left, bottom - top) < recipe.minSize * Math.min(width, height);
  if (tooFew || tooSmall) return { pixels: null, blank: true, message: recipe.dotMessage, bbox };
  const fitted = fitBox(crop(ink, width, bbox), right - left, bottom - top, recipe.inkBox, filter);
  const placed = placeCentred(fitted.patch, fitted.width, fitted.height, recipe.side);
  return { pixels: placed.pixels, blank: false, message: null, bbox };
}

// The page's models: each model's browser data is decoded once per page and shared by every
// view. The views are separate modules (one per component), so the cache lives on globalThis.
//
// It is bounded: it keeps every model a mounted view shows, plus the SPARE_MODELS most
// recently released ones (a tab switch unmounts one view and mounts another on the same
// model). Anything older is evicted; a view that needs it again tells Python, which sends it
// again (the "have" handshake in __init__.py).

const SPARE_MODELS = 1;
const MODELS = (globalThis.__vaeLatentModels ??= new Map()); // key → model, least recently used first
const USERS = (globalThis.__vaeLatentModelUsers ??= new Map()); // view → the key of the model it shows

function touch(key) {
  const model = MODELS.get(key);
  if (model) { MODELS.delete(key); MODELS.set(key, model); }
  return model ?? null;
}

function evict() {
  const inUse = new Set(USERS.values());
  let spare = [...MODELS.keys()].filter((key) => !inUse.has(key)).length;
  for (const key of MODELS.keys()) {
    if (spare <= SPARE_MODELS) break;
    if (!inUse.has(key)) { MODELS.delete(key); spare--; }
  }
}

// `view` shows the model `key` (or nothing, with null) from now on.
export function useModel(view, key) {
  if (key === null) USERS.delete(view);
  else USERS.set(view, key);
  evict();
}

// The model a view's data names, for `view`: decoded from the payload when it came along
// (and Python told that the page holds it), else from the cache. When the page does not
// hold it (never sent, or evicted), Python is asked to send it again and `model` is null;
// a payload the runtime refuses gives `error`, and is not asked for again.
export function receiveModel(view, data, setStateValue) {
  let error = null;
  if (data.payload) {
    try {
      MODELS.set(data.payload.key, modelFromPayload(data.payload));
      setStateValue("have", data.payload.key);
    } catch (err) {
      error = err.message;
    }
  }
  const model = error ? null : touch(data.model);
  useModel(view, model ? model.key : null);
  if (!model && !error) setStateValue("have", null);
  return { model, error };
}

// What a view shows instead of a model it does not hold (see receiveModel).
export function missingModelText(key, error) {
  const name = String(key).split("@")[0];
  return error ? `“${name}” cannot run in this browser: ${error}` : `Loading the decoder of “${name}”…`;
}

"""What one decode costs in the browser, for every shipped model, in one page. Prints JSON.

The live pad's work per pointer move is the runtime's `decode` plus the 10-nearest-code
"looks like" label (vae/ui/latent_view/runtime.js, the first module of every view's page).
This loads runtime.js (as it ships) into headless Chromium, hands it each model's browser
payload (what a real page receives, through the runtime's modelFromPayload), and times batches of --batch
decodes at points across the model's extent, then the same with the label. Per model:
the median ms per decode (and per decode + label), the decoder's multiply-adds
(vae.ml.macs), the GFLOP/s that makes, and the ratio to `reference` measured in the same page.
The pointer handler, drawing and Chromium's input queue are not in it: bench/live_pad.py
measures the whole hover. Rounds are interleaved over the models.

Usage: python bench/decode_in_browser.py [--rounds 2] [--batch 50] [--batches 40]
"""
import argparse
import json
import os
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness.browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

RUNTIME_JS = REPO / "vae" / "ui" / "latent_view" / "runtime.js"  # decode, looksLike, modelFromPayload
LOAD_MODULE = """async (source) => {
    const url = URL.createObjectURL(new Blob([source], {type: 'text/javascript'}));
    window.vaeRuntime = await import(url);
}"""
# Times `batches` batches of `batch` decodes (optionally with the label) at the given points.
TIME_DECODES = """([key, points, batch, batches, withLabel]) => {
    const m = window.vaeRuntime, model = window.models[key];
    let sink = 0, i = 0;
    const one = () => {
        const z = points[i++ % points.length];
        sink += m.decode(model.decoder, z)[0];
        if (withLabel) sink += m.looksLike(model.codes, model.labels, model.classNames.length, z, model.k).label.length;
    };
    for (let w = 0; w < batch * 4; w++) one();  // warm-up: the JIT compiles the loops
    const perDecode = [];
    for (let b = 0; b < batches; b++) {
        const t0 = performance.now();
        for (let j = 0; j < batch; j++) one();
        perDecode.push((performance.now() - t0) / batch);
    }
    return {perDecode, sink};
}"""


def payloads():
    from vae.ml.config import recorded_arch
    from vae.explorer import open_explorer
    from vae.store.disk import list_model_dirs
    found = {}
    for model_dir in list_model_dirs(REPO / "models"):
        explorer = open_explorer(model_dir)
        (x0, x1), (y0, y1) = explorer.extent()
        points = [[x0 + (x1 - x0) * (i + 0.5) / 16, y0 + (y1 - y0) * (j + 0.5) / 16] for i in range(16) for j in range(16)]
        found[model_dir.name] = (explorer.browser_payload(), points, recorded_arch(explorer.metadata))
    return found


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch", type=int, default=50,
                        help="decodes per timed batch (the page's clock ticks 0.1 ms: a batch must last longer)")
    parser.add_argument("--batches", type=int, default=40)
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from playwright.sync_api import sync_playwright
    from vae.ml.macs import architecture_macs
    models = payloads()
    macs = {arch: architecture_macs(arch)["decode"] for _, _, arch in models.values()}
    results = {name: {"arch": arch, "decode_macs": macs[arch], "rounds": []} for name, (_, _, arch) in models.items()}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.set_content("<!doctype html><title>decode timing</title><body></body>")
        page.evaluate(LOAD_MODULE, RUNTIME_JS.read_text())
        page.evaluate("() => { window.models = {}; }")
        for name, (payload, _, _) in models.items():
            page.evaluate("([key, payload]) => { window.models[key] = window.vaeRuntime.modelFromPayload(payload); }",
                          [name, payload])
        for _ in range(args.rounds):
            for name, (_, points, _) in models.items():
                measured = {}
                for with_label in (False, True):
                    times = page.evaluate(TIME_DECODES, [name, points, args.batch, args.batches, with_label])["perDecode"]
                    measured["decode_and_label_ms" if with_label else "decode_ms"] = round(statistics.median(times), 4)
                measured["decode_gflops"] = round(2 * results[name]["decode_macs"] / measured["decode_ms"] / 1e6, 2)
                results[name]["rounds"].append(measured)
        browser.close()
    for name, result in results.items():
        for i, measured in enumerate(result["rounds"]):
            measured["vs_reference"] = round(measured["decode_ms"] / results["reference"]["rounds"][i]["decode_ms"], 3)
        for key in ("decode_ms", "decode_and_label_ms", "decode_gflops", "vs_reference"):
            values = [r[key] for r in result["rounds"]]
            result[key + "_range"] = [min(values), max(values)]
    print(json.dumps({"load_average": [round(v, 2) for v in os.getloadavg()], "models": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

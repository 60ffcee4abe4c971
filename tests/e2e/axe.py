"""The accessibility audit: axe-core, the engine behind Lighthouse's accessibility score, run in
the page. The version is pinned in tests/a11y/package.json (installed by the README's test
command with `npm ci --prefix tests/a11y`); every rule of WCAG 2.0, 2.1 and 2.2 at A and AA, and
axe's best practices, must find nothing."""
import json
from pathlib import Path

import pytest

AXE_DIR = Path(__file__).resolve().parents[1] / "a11y"
AXE_JS = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
AXE_VERSION = json.loads((AXE_DIR / "package.json").read_text())["dependencies"]["axe-core"]
RULE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]

RUN = """async (tags) => {
    const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
    return {version: axe.version, violations: result.violations.map(v => ({
        id: v.id, impact: v.impact, help: v.help,
        nodes: v.nodes.map(n => ({target: n.target.flat().join(' >> '), summary: n.failureSummary}))}))};
}"""


def _engine():
    if not AXE_JS.is_file():
        pytest.fail(f"axe-core is not installed: run `npm ci --prefix {AXE_DIR.relative_to(AXE_DIR.parents[1])}` "
                    "(the README's test command does)")
    return AXE_JS.read_text()


def violations(page):
    """axe-core's violations on the page as it stands, shadow roots included."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(_engine())
    result = page.evaluate(RUN, RULE_TAGS)
    assert result["version"] == AXE_VERSION, f"axe-core {result['version']} ran, {AXE_VERSION} is pinned"
    return result["violations"]


def assert_accessible(page, state):
    """No violation at all in `state` (a description for the failure message)."""
    found = violations(page)
    assert not found, f"axe-core {AXE_VERSION}, {state}: " + "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']}\n" + "\n".join(
            f"    {n['target']}: {n['summary']}" for n in v["nodes"][:5]) for v in found)

"""The documentation holds: README.md and docs/*.md link only to files and headings that exist,
every `python -m …` and `python bench/….py` command they show exists and accepts the flags shown
(checked against its --help), and the README stays a five-minute read."""
import importlib.util
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

import pytest

from conftest import REPO_ROOT

PAGES = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
README_MAX_LINES = 250

# Flags a command really takes that its --help does not list, each with the reason; the test
# then finds the flag in the command's source instead. A new entry is a finding to report.
NOT_IN_HELP = {
    ("vae.settings", "--update"): "no argparse: `python -m vae.settings --update FILE` reads sys.argv",
    ("bench/time_to_quality.py", "--one"): "argparse.SUPPRESS: hidden as a child's job, yet shown to users",
}

FENCE = re.compile(r"^(```|~~~)")
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
COMMAND = re.compile(r"(?:^|(?<=[\s(`]))(?:\S*/)?python3?\s+(-m\s+[\w.]+|[\w./-]+\.py)(.*)")
FLAG = re.compile(r"(?<![\w-])--[a-zA-Z][\w-]*")


def page_id(path):
    return str(path.relative_to(REPO_ROOT))


def split_fences(text):
    """(prose lines, code-block lines) of a markdown page; code blocks as lists of lines."""
    prose, blocks, block = [], [], None
    for line in text.splitlines():
        if FENCE.match(line.strip()):
            if block is None:
                block = []
            else:
                blocks.append(block)
                block = None
            continue
        (prose if block is None else block).append(line)
    return prose, blocks


def slug(heading):
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


@lru_cache(maxsize=None)
def anchors(path):
    prose, _ = split_fences(path.read_text())
    seen, found = {}, set()
    for line in prose:
        match = HEADING.match(line)
        if match:
            base = slug(match.group(2))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(path):
    prose, _ = split_fences(path.read_text())
    text = re.sub(r"`[^`\n]*`", "", "\n".join(prose))  # code spans are not links
    return [target for target in LINK.findall(text) if not re.match(r"[a-z][a-z0-9+.-]*:", target)]


def test_there_are_pages_and_links():
    assert len(PAGES) >= 7 and sum(len(links(page)) for page in PAGES) > 30


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_relative_link_resolves(page):
    broken = []
    for target in links(page):
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            broken.append(f"{target}: no file {resolved}")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target}: no heading #{anchor} in {page_id(resolved)}")
    assert not broken, broken


def logical_lines(page):
    """The page's lines where a command may be shown: code-block lines (a trailing backslash,
    or an indented line after a command, continues it) and the page's inline code spans."""
    prose, blocks = split_fences(page.read_text())
    for block in blocks:
        current = None
        for line in block:
            if current is not None and (current.endswith("\\") or (line[:1].isspace() and line.strip())):
                current = current.rstrip("\\") + " " + line.strip()
                continue
            if current is not None:
                yield current
            current = line
        if current is not None:
            yield current
    spans = re.findall(r"`((?:[^`\n]|\n(?!\n))+)`", "\n".join(prose))  # a span may wrap, not a paragraph
    yield from (" ".join(span.split()) for span in spans)


def shown_commands():
    """{(target, kind): {flags}} for every python command shown: kind "module" or "script"."""
    commands = {}
    for page in PAGES:
        for line in logical_lines(page):
            for match in COMMAND.finditer(line):
                what, rest = match.group(1), match.group(2)
                rest = re.split(r"\s(?:#|&&|\|\|?|;|>)", rest, maxsplit=1)[0]
                target = what.split()[-1]
                key = (target, "module" if what.startswith("-m") else "script")
                commands.setdefault(key, set()).update(FLAG.findall(rest))
    return commands


COMMANDS = shown_commands()


def help_text(target, kind):
    argv = [sys.executable, *(["-m", target] if kind == "module" else [target]), "--help"]
    done = subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    return done.returncode, done.stdout + done.stderr


@pytest.fixture(scope="module")
def helps():
    """Every shown command that shows flags, run once with --help, in parallel."""
    asked = [key for key, flags in COMMANDS.items() if flags]
    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(asked, pool.map(lambda key: help_text(*key), asked)))


def test_the_commands_found_include_the_main_ones():
    assert {("vae.train", "module"), ("vae.evaluate", "module"), ("bench/live_pad.py", "script"),
            ("bench/physical_limit.py", "script"), ("pytest", "module")} <= set(COMMANDS)
    assert "--recipe" in COMMANDS[("vae.train", "module")]


def source_of(target, kind):
    if kind == "script":
        return (REPO_ROOT / target).read_text()
    return Path(importlib.util.find_spec(target).origin).read_text()


@pytest.mark.parametrize("target,kind", sorted(COMMANDS), ids=lambda v: v)
def test_every_shown_command_exists_and_takes_its_flags(target, kind, helps):
    if kind == "script":
        assert (REPO_ROOT / target).is_file(), f"python {target}: no such script"
    else:
        assert importlib.util.find_spec(target) is not None, f"python -m {target}: no such module"
    flags = COMMANDS[(target, kind)]
    if not flags:
        return
    returncode, text = helps[(target, kind)]
    assert returncode == 0, f"{target} --help failed:\n{text[-2000:]}"
    missing = []
    for flag in sorted(flags):
        if re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text):
            continue
        if (target, flag) in NOT_IN_HELP and f'"{flag}"' in source_of(target, kind):
            continue
        missing.append(flag)
    assert not missing, f"{target}: flags shown in the docs that its --help does not list: {missing}"


def test_the_readme_is_a_five_minute_read():
    lines = (REPO_ROOT / "README.md").read_text().count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move detail into docs/"

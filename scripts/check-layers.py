#!/usr/bin/env python3
"""Checks that the crate's top-level modules depend on each other in one direction only.

Every `crate::MODULE` path in src/ (also inside `use crate::{a, b::c}` groups) is an
arrow from the module it is written in to MODULE. The layers below run from the top
(what runs first) to the bottom (what everything stands on); an arrow may only point to
a lower layer, never up or sideways, so there can be no cycle either. Exits 1 naming
every offending arrow (file:line), 0 otherwise.

    scripts/check-layers.py                # the crate's src/
    scripts/check-layers.py --src DIR      # another tree (the check's own test uses this)
    scripts/check-layers.py --edges        # also print every module edge with its count
"""

import argparse
import collections
import pathlib
import re
import sys

# Top to bottom. See ARCHITECTURE.md ("The dependency rule").
LAYERS = [
    ["lib"],
    ["commands"],
    ["errors"],
    ["workflow"],
    ["settings"],
    ["printer"],
    # The stages, the ones that use others above those they use.
    ["watch", "up"],
    ["deploy"],
    ["diff"],
    ["render", "images", "params", "userdata"],
    ["sources", "openstack"],
    # The foundations.
    ["secrets", "net"],
    ["state", "report", "rt", "scratch"],
    # Clap only: it may import nothing from the crate.
    ["cli"],
]

LINE_COMMENT = re.compile(r"//.*$", re.MULTILINE)
BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
STRING = re.compile(r'"(?:\\.|[^"\\])*"')
PATH = re.compile(r"\bcrate\s*::\s*(\{|[a-z_][a-z0-9_]*)")
NAME = re.compile(r"[a-z_][a-z0-9_]*")


def blank(match: re.Match) -> str:
    """The match with every character but line breaks made a space, so lines keep their numbers."""
    return re.sub(r"[^\n]", " ", match.group(0))


def code_of(text: str) -> str:
    """The text without comments and string literals (a `crate::x` in either is no arrow)."""
    text = BLOCK_COMMENT.sub(blank, text)
    text = STRING.sub(blank, text)
    return LINE_COMMENT.sub(blank, text)


def group_heads(code: str, start: int) -> list:
    """The first name of each path in the `{...}` group opening at `start`, with its offset."""
    heads, depth, expect_head = [], 0, True
    i = start
    while i < len(code):
        c = code[i]
        if c == "{":
            depth += 1
            expect_head = depth == 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                break
        elif c == "," and depth == 1:
            expect_head = True
        elif expect_head and depth == 1:
            name = NAME.match(code, i)
            if name:
                heads.append((name.group(0), i))
                expect_head = False
                i = name.end()
                continue
        i += 1
    return heads


def arrows(code: str):
    """(target module, offset) for every `crate::` path in the code."""
    for m in PATH.finditer(code):
        if m.group(1) == "{":
            yield from group_heads(code, m.start(1))
        else:
            yield m.group(1), m.start(1)


def top_level(src: pathlib.Path, file: pathlib.Path) -> str:
    first = file.relative_to(src).parts[0]
    return first[: -len(".rs")] if first.endswith(".rs") else first


def main() -> int:
    here = pathlib.Path(__file__).resolve()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=pathlib.Path, default=here.parent.parent / "src")
    parser.add_argument("--edges", action="store_true", help="print every module edge")
    args = parser.parse_args()
    src = args.src.resolve()
    me = "scripts/check-layers.py"
    rank = {m: i for i, layer in enumerate(LAYERS) for m in layer}
    problems, modules, edges = [], set(), collections.Counter()
    for file in sorted(src.rglob("*.rs")):
        module = top_level(src, file)
        if module == "main":
            continue  # the binary: it only calls `run`
        modules.add(module)
        where = file.relative_to(src.parent)
        if module not in rank:
            problems.append(f"{where}: module `{module}` is in no layer of {me}")
            continue
        code = code_of(file.read_text())
        for target, offset in arrows(code):
            if target == module or target not in rank:
                continue  # itself, or `crate::SomeType` re-exported by lib.rs
            edges[(module, target)] += 1
            if rank[target] <= rank[module]:
                way = "sideways" if rank[target] == rank[module] else "up"
                line = code.count("\n", 0, offset) + 1
                problems.append(f"{where}:{line}: `{module}` -> `{target}` points {way}")
    for gone in sorted(set(rank) - modules):
        problems.append(f"{me}: layer module `{gone}` is not in {src.name}/")
    if args.edges:
        for (a, b), n in sorted(edges.items()):
            print(f"{a} -> {b} ({n})")
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(f"check-layers: {len(problems)} problems with the dependency rule", file=sys.stderr)
        return 1
    print(
        f"check-layers: {len(modules)} top-level modules, {len(edges)} edges, every one points down",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Checks the crate's structure: dependencies in one direction, files and functions small.

1. Every `crate::MODULE` path in src/ (also inside `use crate::{a, b::c}` groups), and
   every `super::` chain that climbs to the crate root (`super::MODULE` in src/deploy/mod.rs,
   `super::super::MODULE` in src/deploy/plan.rs), is an arrow from the module it is
   written in to MODULE. The layers below run from the top (what runs first) to the
   bottom (what everything stands on); an arrow may only point to a lower layer, never up
   or sideways, so there can be no cycle either. A few modules may be reached only from
   some (ONLY_FROM: the command line from the commands and the settings), and a few
   crates named only in some modules (CRATES_ONLY_IN: clap in the command line,
   indicatif in the printer): the stages know nothing of clap or the terminal.
2. No file in src/commands/ is longer than 150 lines (a command is flags -> settings ->
   one workflow call -> printer).
3. No function is longer than 80 lines unless a comment right above it (doc or line
   comment, attributes may sit between) says why, starting with "Long because".

Exits 1 naming every problem (file:line), 0 otherwise.

    scripts/check-layers.py                 # the crate's src/
    scripts/check-layers.py --src DIR       # another tree (the check's own tests use this)
    scripts/check-layers.py --figures       # measure only: module edges and cycles, file
                                            # sizes, longest functions (any tree, any age)
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
    ["watch", "up", "verify"],
    ["deploy"],
    ["diff"],
    ["render", "images", "params", "userdata"],
    ["sources", "openstack"],
    # The foundations.
    ["secrets", "net"],
    ["state", "report", "rt", "scratch", "files"],
    ["redact", "yaml"],
    # Clap only: it may import nothing from the crate.
    ["cli"],
]
# Modules that only these may import (besides lib.rs, which declares them).
ONLY_FROM = {"cli": {"commands", "settings"}}
# Crates that only these modules may name.
CRATES_ONLY_IN = {
    "clap": {"cli"},
    "clap_complete": {"cli"},
    "clap_mangen": {"cli"},
    "indicatif": {"printer"},
    "console": {"printer"},
}
COMMAND_FILE_LINES = 150
FUNCTION_LINES = 80
WHY_LONG = re.compile(r"long because", re.IGNORECASE)

BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
# Strings (raw ones first), then char literals (not lifetimes), then line comments.
LITERAL = re.compile(
    r'r(#*)".*?"\1|b?"(?:\\.|[^"\\])*"|b?\'(?:\\.|[^\\\'\n])\'|//[^\n]*', re.DOTALL
)
PATH = re.compile(r"\bcrate\s*::\s*(\{|[a-z_][a-z0-9_]*)")
SUPERS = re.compile(r"(?<![\w:])((?:super\s*::\s*)+)(\{|[a-z_][a-z0-9_]*)")
CRATE = re.compile(r"(?<![\w:])(" + "|".join(CRATES_ONLY_IN) + r")\s*::")
NAME = re.compile(r"[a-z_][a-z0-9_]*")
FN = re.compile(r"\bfn\s+([A-Za-z_][A-Za-z0-9_]*)")


def blank(match: re.Match) -> str:
    """The match with every character but line breaks made a space, so lines keep their numbers."""
    return re.sub(r"[^\n]", " ", match.group(0))


def code_of(text: str) -> str:
    """The text without comments and literals (a `crate::x` or a brace in either is no code)."""
    return LITERAL.sub(blank, BLOCK_COMMENT.sub(blank, text))


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


def arrows(code: str, depth: int):
    """(target module, offset) for every path in the code that starts at the crate root:
    `crate::`, or `super::` repeated `depth` times or more from a file `depth` modules
    deep (a test module inside the file counts one more `super`: it may show an arrow
    that is not, which the check would name, never hide one)."""
    for m in PATH.finditer(code):
        if m.group(1) == "{":
            yield from group_heads(code, m.start(1))
        else:
            yield m.group(1), m.start(1)
    for m in SUPERS.finditer(code):
        if m.group(1).count("super") < depth:
            continue
        if m.group(2) == "{":
            yield from group_heads(code, m.start(2))
        else:
            yield m.group(2), m.start(2)


def functions(code: str):
    """(name, first line, line count) of every function with a body."""
    for m in FN.finditer(code):
        i, parens = m.end(), 0
        while i < len(code):  # to the body's `{`, past parameters (patterns may hold braces)
            c = code[i]
            if c in "([":
                parens += 1
            elif c in ")]":
                parens -= 1
            elif parens == 0 and c in "{;":
                break
            i += 1
        if i >= len(code) or code[i] == ";":
            continue  # a declaration without a body
        depth, j = 0, i
        while j < len(code):
            if code[j] == "{":
                depth += 1
            elif code[j] == "}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        first = code.count("\n", 0, m.start()) + 1
        yield m.group(1), first, code.count("\n", m.start(), j) + 1


def says_why_long(lines: list, first: int) -> bool:
    """Whether the comments right above line `first` (1-based) say why the function is long."""
    i = first - 2
    while i >= 0 and lines[i].strip().startswith("#["):
        i -= 1
    comment = []
    while i >= 0 and lines[i].strip().startswith("//"):
        comment.append(lines[i])
        i -= 1
    return bool(WHY_LONG.search(" ".join(reversed(comment))))


def depth(src: pathlib.Path, file: pathlib.Path) -> int:
    """How many modules deep the file is: 1 for src/deploy.rs and src/deploy/mod.rs."""
    parts = file.relative_to(src).parts
    return len(parts) - (1 if parts[-1] in ("mod.rs", "lib.rs", "main.rs") else 0)


def top_level(src: pathlib.Path, file: pathlib.Path) -> str:
    first = file.relative_to(src).parts[0]
    return first[: -len(".rs")] if first.endswith(".rs") else first


def strongly_connected(nodes, edges) -> list:
    """The cycles among modules: components of more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]
    succ = collections.defaultdict(set)
    for a, b in edges:
        succ[a].add(b)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in succ[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def main() -> int:
    here = pathlib.Path(__file__).resolve()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=pathlib.Path, default=here.parent.parent / "src")
    parser.add_argument("--figures", action="store_true", help="measure, check nothing")
    args = parser.parse_args()
    src = args.src.resolve()
    me = "scripts/check-layers.py"
    rank = {m: i for i, layer in enumerate(LAYERS) for m in layer}
    problems, modules, edges, sizes, fns = [], set(), collections.Counter(), {}, []
    for file in sorted(src.rglob("*.rs")):
        module = top_level(src, file)
        if module == "main":
            continue  # the binary: it only calls `run`
        modules.add(module)
        where = str(file.relative_to(src.parent))
        text = file.read_text()
        lines = text.splitlines()
        sizes[where] = len(lines)
        code = code_of(text)
        if module not in rank:
            problems.append(f"{where}: module `{module}` is in no layer of {me}")
        for target, offset in arrows(code, depth(src, file)):
            if target == module:
                continue
            if not (src / f"{target}.rs").is_file() and not (src / target).is_dir():
                continue  # `crate::item` that lib.rs defines or re-exports, no module
            edges[(module, target)] += 1
            line = code.count("\n", 0, offset) + 1
            if module in rank and target in rank and rank[target] <= rank[module]:
                way = "sideways" if rank[target] == rank[module] else "up"
                problems.append(f"{where}:{line}: `{module}` -> `{target}` points {way}")
            allowed = ONLY_FROM.get(target)
            if allowed is not None and module not in allowed | {"lib"}:
                problems.append(
                    f"{where}:{line}: `{module}` -> `{target}`: only {', '.join(sorted(allowed))} may use `{target}`"
                )
        for m in CRATE.finditer(code):
            if module not in CRATES_ONLY_IN[m.group(1)]:
                line = code.count("\n", 0, m.start()) + 1
                problems.append(
                    f"{where}:{line}: `{module}` names the crate `{m.group(1)}`, which only "
                    + ", ".join(sorted(CRATES_ONLY_IN[m.group(1)]))
                    + " may"
                )
        if (src / "commands") in file.parents and len(lines) > COMMAND_FILE_LINES:
            problems.append(f"{where}: {len(lines)} lines, more than {COMMAND_FILE_LINES} for a command")
        for name, first, count in functions(code):
            fns.append((count, f"{where}:{first}", name))
            if count > FUNCTION_LINES and not says_why_long(lines, first):
                problems.append(
                    f"{where}:{first}: fn `{name}` has {count} lines, more than {FUNCTION_LINES}"
                    " with no comment above it saying why (`// Long because ...`)"
                )
    if args.figures:
        return figures(modules, edges, sizes, fns, rank)
    for gone in sorted(set(rank) - modules):
        problems.append(f"{me}: layer module `{gone}` is not in {src.name}/")
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(f"check-layers: {len(problems)} problems with the structure rules", file=sys.stderr)
        return 1
    print(
        f"check-layers: {len(modules)} top-level modules, {len(edges)} edges, every one points down;"
        f" command files <= {COMMAND_FILE_LINES} lines; functions <= {FUNCTION_LINES} lines or say why",
        file=sys.stderr,
    )
    return 0


def figures(modules, edges, sizes, fns, rank) -> int:
    against = [(a, b) for a, b in edges if a in rank and b in rank and rank[b] <= rank[a]]
    cycles = strongly_connected(modules, edges)
    commands = {f: n for f, n in sizes.items() if f.startswith("src/commands/")}
    print(f"top-level modules: {len(modules)}")
    print(f"module edges: {len(edges)} ({sum(edges.values())} paths)")
    print(f"edges against the layers: {len(against)}")
    print(f"import cycles: {len(cycles)}" + "".join(f"\n  {{{', '.join(c)}}}" for c in cycles))
    print(f"source files: {len(sizes)}, lines: {sum(sizes.values())}")
    print(
        f"src/commands/: {len(commands)} files, {sum(commands.values())} lines,"
        f" largest {max(commands.values(), default=0)}, over {COMMAND_FILE_LINES}: "
        + str(sum(n > COMMAND_FILE_LINES for n in commands.values()))
    )
    print("largest files:")
    for f, n in sorted(sizes.items(), key=lambda x: -x[1])[:8]:
        print(f"  {n:5} {f}")
    long = [f for f in fns if f[0] > FUNCTION_LINES]
    print(f"functions: {len(fns)}, over {FUNCTION_LINES} lines: {len(long)}")
    for count, where, name in sorted(fns, reverse=True)[:10]:
        print(f"  {count:5} {name} ({where})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

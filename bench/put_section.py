#!/usr/bin/env python3
"""put_section.py RESULTS.md SECTION_FILE -- put a benchmark's section into
RESULTS.md: the section's first line is its "## Title" heading; a section
with that heading is replaced (up to the next "## " heading), otherwise the
section is appended.  The one way every bench/*.sh writes its results."""
import sys


def put_section(text, section):
    section = section.rstrip("\n") + "\n"
    title = section.splitlines()[0]
    lines = text.splitlines(True)
    out, i, replaced = [], 0, False
    while i < len(lines):
        if lines[i].rstrip("\n") == title and not replaced:
            out.append(section + "\n")
            replaced = True
            i += 1
            while i < len(lines) and not lines[i].startswith("## "):
                i += 1
            continue
        out.append(lines[i])
        i += 1
    if not replaced:
        out = ["".join(out).rstrip("\n") + "\n\n", section]
    return "".join(out).rstrip("\n") + "\n"


def main():
    path, section_file = sys.argv[1], sys.argv[2]
    with open(section_file) as f:
        section = f.read()
    if not section.startswith("## "):
        sys.exit("put_section: the section must start with a '## ' heading")
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        text = "# Benchmark results\n"
    with open(path, "w") as f:
        f.write(put_section(text, section))


if __name__ == "__main__":
    main()

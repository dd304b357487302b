"""Holds nncc's --help and --list-passes against the tables in docs/language.md.

    docs_tables.py LANGUAGE_MD HELP_TEXT LIST_PASSES_TEXT

The options table (section 9, "Command-line summary") must have a row for
every option --help lists and no other: its first column names the flags.
The passes table ("The passes") must match --list-passes row by row: the
same passes in the same order, each with the same summary.  Each difference
is one line saying which row to add, remove or change; exit 1 if any.
"""
import re
import sys

FLAG = re.compile(r"(?<![\w-])(--?[A-Za-z0-9][\w-]*)")


def table_after(lines, heading):
    """The rows (lists of cells) of the first table after a line starting with heading."""
    start = next((i for i, l in enumerate(lines) if l.startswith(heading)), None)
    if start is None:
        sys.exit("docs/language.md: no line starting %r (the table's heading)" % heading)
    rows, seen = [], False
    for line in lines[start + 1:]:
        if line.startswith("|"):
            seen = True
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            if not all(set(c) <= set("-: ") for c in cells):  # not the |---| line
                rows.append([c.replace("\\|", "|") for c in cells])
        elif seen:
            break
    return rows[1:]  # without the header row


def help_flags(text):
    """The flags of --help's option lines (the words before the description),
    each with the row the docs would give it."""
    flags = {}
    for line in text.split("\n"):
        m = re.match(r"  (-\S.*?)(?:  +(.*)|$)", line)
        if m:
            row = "| `%s` | %s |" % (m.group(1), m.group(2) or "...")
            for f in FLAG.findall(m.group(1)):
                flags.setdefault(f, row)
    return flags


def main():
    docs, help_text, passes_text = (open(p, encoding="utf-8").read() for p in sys.argv[1:4])
    lines = docs.split("\n")
    problems = []

    documented = {}
    for row in table_after(lines, "Command-line summary"):
        if row[0].startswith("`-") and len(row[0]) > 3:  # an option, not "-" or "nncc ..."
            for f in FLAG.findall(row[0]):
                documented.setdefault(f, row[0])
    listed = help_flags(help_text)
    for f, row in listed.items():
        if f not in documented:
            problems.append("docs/language.md: the options table has no row for `%s`, which "
                            "nncc --help lists: add %s" % (f, row))
    for f, cell in documented.items():
        if f not in listed:
            problems.append("docs/language.md: the options table's row %s names `%s`, which "
                            "nncc --help does not list" % (cell, f))

    want = [l.split(None, 1) for l in passes_text.split("\n") if l.strip()]
    want = [(w[0], w[1].strip() if len(w) > 1 else "") for w in want]
    have = [(r[0].strip("`"), r[1]) for r in table_after(lines, "The passes")]
    names = [n for n, _ in have]
    for i, (name, summary) in enumerate(want):
        row = "| `%s` | %s |" % (name, summary)
        if name not in names:
            problems.append("docs/language.md: the passes table has no row for `%s`: add %s "
                            "(after `%s`)" % (name, row, want[i - 1][0] if i else "the header"))
        elif dict(have)[name] != summary:
            problems.append("docs/language.md: the passes table's row for `%s` says %r; "
                            "--list-passes says %r" % (name, dict(have)[name], summary))
    for name in names:
        if name not in [n for n, _ in want]:
            problems.append("docs/language.md: the passes table has a row for `%s`, which "
                            "nncc --list-passes does not list" % name)
    common = [n for n, _ in want if n in names]
    if not problems and common != names:
        problems.append("docs/language.md: the passes table is not in pipeline order: "
                        "--list-passes has %s" % ", ".join(common))

    for p in problems:
        print(p)
    if not problems:
        print("docs match: %d options, %d passes" % (len(listed), len(want)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

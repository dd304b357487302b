#!/usr/bin/env python3
"""Model names: every name that would break the generated C is refused, and
names just beside them work.

1. The names nncc must refuse (`model WORD` exits 1 with
   "FILE:1:7: error: 'WORD' cannot name a model, ..."):
   - every word of compiler/c_names.def;
   - every name the C headers declare or define, as the compilers (gcc and
     clang, with their own and the system's headers) show them: all of
     C99's headers under -std=c99, and the headers the generated C includes
     under the compilers' defaults (POSIX and GNU names), and the macros
     the compilers predefine;
   - every file-scope name the generated C writes (its .c and .h, every
     model of models/, tests/ref/ops and tests/emit/models, at -O0 and -O2,
     f64, --main) but the model's own (NAME, NAME_...), and each start of
     one up to a '_' (a model called `model` makes model_create).
   A name with a rule (a leading '_', a trailing '_t') is refused by it.
2. Names just outside the list (expff, model2, head, ...): a model of each
   name compiles with gcc and clang under -std=c99 -Wall -Wextra -pedantic
   -Werror, and inside its functions the .c never spells the model's type
   by its bare name (a local of that name would hide it, as `size_t head =
   sizeof(head)` did): always `struct NAME`.
3. A model file whose name holds '"', '\\', '?' and non-ASCII bytes: the
   generated C compiles and names the file byte for byte.

Usage: names.py NNCC SOURCE_DIR WORKDIR
"""
import glob
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

nncc, src, work = (os.path.abspath(a) for a in sys.argv[1:4])
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
failures = []

C99_HEADERS = ("assert complex ctype errno fenv float inttypes iso646 limits locale math "
               "setjmp signal stdarg stdbool stddef stdint stdio stdlib string tgmath time "
               "wchar wctype").split()
GENERATED_INCLUDES = "math stddef stdint stdio stdlib string".split()
KEYWORDS = set("""auto break case char const continue default do double else enum extern
float for goto if inline int long register restrict return short signed sizeof static struct
switch typedef union unsigned void volatile while""".split())


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, **kw)


def header_names(cc, header, std):
    """What `#include <header>` declares or defines, in `std` mode: its
    macros, and the names at file scope (typedefs, functions, objects,
    struct tags, enum constants); the _-names are the implementation's."""
    mode = [std] if std else []
    predefined = set(re.findall(r"#define (\w+)", run([cc, *mode, "-E", "-dM", "-x", "c",
                                                        os.devnull]).stdout))
    text = "#include <%s.h>\n" % header
    macros = set(re.findall(r"#define (\w+)", run([cc, *mode, "-E", "-dM", "-x", "c", "-"],
                                                  input=text).stdout)) - predefined
    code = run([cc, *mode, "-E", "-P", "-x", "c", "-"], input=text).stdout
    code = re.sub(r'"(\\.|[^"\\])*"', '""', code)
    tokens = re.findall(r"[A-Za-z_]\w*|[{}(),;=]", code)
    names, blocks = set(), []  # blocks: is each open brace an enum's?
    for i, t in enumerate(tokens):
        if t == "{":
            blocks.append("enum" in tokens[max(0, i - 3):i])
        elif t == "}":
            blocks.pop()
        elif t[0].isalpha() or t[0] == "_":
            in_enum = blocks and blocks[-1] and tokens[i - 1] in ("{", ",")
            if not blocks or in_enum:  # members of structs are not names
                names.add(t)
    return {n for n in names | macros if not n.startswith("_") and n not in KEYWORDS}


def predefined_macros(cc):
    return {n for n in re.findall(r"#define (\w+)", run([cc, "-E", "-dM", "-x", "c",
                                                        os.devnull]).stdout)
            if not n.startswith("_")}


# --------------------------------------------------- 1. what must be refused
must = {}  # name -> where it comes from


def add(names, where):
    for n in names:
        must.setdefault(n, where)


with open(os.path.join(src, "compiler", "c_names.def")) as f:
    words = re.findall(r'"([^"]*)"', re.sub(r"/\*.*?\*/", "", f.read(), flags=re.S))
    add((w for w in words if not w.startswith("@")), "c_names.def")
for cc in ("gcc", "clang"):
    for h in C99_HEADERS:
        add(header_names(cc, h, "-std=c99"), "<%s.h> (%s -std=c99)" % (h, cc))
    for h in GENERATED_INCLUDES:
        add(header_names(cc, h, None), "<%s.h> (%s)" % (h, cc))
    add(predefined_macros(cc), "predefined by %s" % cc)

models = sorted(glob.glob(os.path.join(src, "models", "*.nn")) +
                glob.glob(os.path.join(src, "tests", "ref", "ops", "*.nn")) +
                glob.glob(os.path.join(src, "tests", "emit", "models", "*.nn")))
FILE_SCOPE = [re.compile(p) for p in (
    r"^#define (\w+)",
    r"^struct (\w+) \{",
    r"^typedef [^;]*?(\w+);",
    r"^[A-Za-z][^=(;]*?(\w+)\(",          # functions
    r"^[A-Za-z][^=(;]*?(\w+)(?:\[\d*\])? =",  # objects
)]


def file_scope_names(path):
    names = set()
    with open(path) as f:
        for line in f:
            if line.startswith(("extern", "typedef struct")) and "{" in line:
                continue
            for p in FILE_SCOPE:
                m = p.match(line)
                if m:
                    names.add(m.group(1))
                    break
    return names


def generated_names(job):
    i, model, flags = job
    out = os.path.join(work, "gen", str(i))
    os.makedirs(out)
    r = run([nncc, *flags, model, "-o", os.path.join(out, "m.c")])
    if r.returncode:
        failures.append("nncc %s %s: %s" % (" ".join(flags), model, r.stderr.strip()))
        return set(), None
    with open(os.path.join(out, "m.h")) as f:
        name = re.search(r"^#define (\w+)_INPUT_SIZE", f.read(), re.M).group(1)
    names = file_scope_names(os.path.join(out, "m.c")) | file_scope_names(os.path.join(out, "m.h"))
    guard = "NNCC_%s_H" % name.upper()
    return {n for n in names if n != name and not n.startswith(name + "_") and n != guard}, name


jobs = [(i * 4 + k, m, flags) for i, m in enumerate(models)
        for k, flags in enumerate((["-O0"], ["-O2"], ["--dtype", "f64"], ["--main"]))]
with ThreadPoolExecutor(os.cpu_count() or 2) as pool:
    results = list(pool.map(generated_names, jobs))
own = set().union(*(r[0] for r in results))
add(own, "the generated C")
for n in own:  # the starts of its own names
    parts = n.split("_")
    add(("_".join(parts[:k]) for k in range(1, len(parts))), "the start of %s" % n)

# A model's names (NAME_create, ...): none may be one of the names above for
# a name nncc accepts; a name ending in one of their suffixes is refused
# with its start.
suffixes = set()
for i, (_, name) in enumerate(results):
    if name:
        for p in ("m.c", "m.h"):
            for n in file_scope_names(os.path.join(work, "gen", str(i), p)):
                if n.startswith(name + "_"):
                    suffixes.add(n[len(name):])
for n in list(must):
    for s in suffixes:
        if n.endswith(s) and len(n) > len(s):
            add([n[:-len(s)]], "%s is its start + %s" % (n, s))

# Exactly those beyond the rules are c_names.def's or follow from them; each
# one is refused with the diagnostic.
def refused(name):
    d = os.path.join(work, "refuse", name)
    os.makedirs(d)
    path = os.path.join(d, "m.nn")
    with open(path, "w") as f:
        f.write("model %s\ninput x : f32[2]\ny = x |> relu\noutput y\n" % name)
    r = run([nncc, path, "-o", os.path.join(d, "m.c")])
    want = "%s:1:7: error: '%s' cannot name a model, which the generated C uses as a type and " \
           "a prefix: " % (path, name)
    first = r.stderr.split("\n")[0]
    if r.returncode != 1 or not first.startswith(want) or os.path.exists(os.path.join(d, "m.c")):
        return "not refused: %s (from %s): exit %d, %s" % (name, must[name], r.returncode, first)
    return None


with ThreadPoolExecutor(os.cpu_count() or 2) as pool:
    failures += [r for r in pool.map(refused, sorted(must)) if r]
print("names: %d names refused (%d the generated C's own, from %d models)" %
      (len(must), len(own), len(models)))

# ------------------------------------------------ 2. names just outside the list
OUTSIDE = """expff sqrtff logll model2 models Model structures train_configs run2 runs
NNC NNCX SIZE_MAX2 INT32 uint8 int32 k kx k3x k_3 head mem m batch values arena mb v x y
errno2 I2 tm2 nnr nc expf_ exp_f nan2 inf NULL2 main2 printf_ uint2 complex2 y2 m_create""".split()
MODEL = """model %s
input x : f32[4]
input z : f32[2]
label t : f32[3]
y = x |> linear(3) |> batchnorm |> relu |> dropout(0.5)
w = z |> linear(3)
s = y |> add(w)
loss mse(s, t)
output s
"""
strict = ["-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror", "-Wtrigraphs",
          "-I" + os.path.join(src, "runtime", "include"), "-c"]


def outside(name):
    d = os.path.join(work, "outside", name)
    os.makedirs(d)
    path = os.path.join(d, "%s.nn" % name)
    with open(path, "w") as f:
        f.write(MODEL % name)
    errs = []
    for flags in ([], ["--main"], ["--dtype", "f64"]):
        r = run([nncc, *flags, path, "-o", os.path.join(d, "m.c")])
        if r.returncode:
            return ["%s refused: %s" % (name, r.stderr.strip())]
        for cc in ("gcc", "clang"):
            c = run([cc, *strict, os.path.join(d, "m.c"), "-o", os.path.join(d, "m.o")])
            if c.returncode:
                errs.append("%s %s: %s" % (name, cc, c.stderr.strip()[:300]))
        as_type = re.compile(r"sizeof\(\s*{0}\s*\)|\(\s*(const\s+)?{0}\s*\*+\s*\)|"
                             r"^\s+(const\s+)?{0}\s*\*+\s*\w+\s*[=;,)]".format(name))
        with open(os.path.join(d, "m.c")) as f:
            for line in f:
                if line[0] == " " and as_type.search(line):
                    errs.append("%s: the bare type name inside a function: %s" %
                                (name, line.strip()))
    return errs


with ThreadPoolExecutor(os.cpu_count() or 2) as pool:
    for errs in pool.map(outside, OUTSIDE):
        failures += errs
print("names: %d names beside the list compile (gcc, clang; f32, f64, --main)" % len(OUTSIDE))

# ------------------------------------------------------- 3. the file's name
d = os.path.join(work, "file-name")
os.makedirs(d)
odd = 'a"b\\c??= d\xe9.nn'
path = os.path.join(d, odd)
with open(os.path.join(src, "tests", "emit", "models", "outin.nn")) as f:
    text = f.read()
with open(path, "w") as f:
    f.write(text)
r = run([nncc, odd, "-o", "outin.c"], cwd=d)
if r.returncode:
    failures.append("file name %r: %s" % (odd, r.stderr.strip()))
else:
    for cc in ("gcc", "clang"):
        c = run([cc, *strict, "outin.c", "-o", "outin.o"], cwd=d)
        if c.returncode:
            failures.append("file name %r: %s: %s" % (odd, cc, c.stderr.strip()[:300]))
    with open(os.path.join(d, "outin.c")) as f:
        literal = re.search(r'\.source = "((?:\\.|[^"\\])*)"', f.read()).group(1)
    got = re.sub(rb"\\([0-7]{3}|.)", lambda m: bytes([int(m.group(1), 8)])
                 if len(m.group(1)) == 3 else m.group(1), literal.encode())
    if got != os.fsencode(odd):
        failures.append("file name %r: the C names it %r" % (odd, got))
print("names: the file name %r compiles and is named byte for byte" % odd)

for f in failures:
    print("FAIL", f)
sys.exit(1 if failures else 0)

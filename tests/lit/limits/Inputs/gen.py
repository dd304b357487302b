"""Writes a model that is deep or long in one way, for the tests of nncc's
limits (tests/lit/limits).  Usage: gen.py KIND N

  parens N     y = (((img |> relu)))       N levels of '('
  brackets N   leaky_relu(slope=[[0.1]])   N levels: the call's '(' and N-1 '['
  calls N      relu(relu(img))             N nested calls
  pipe N       one pipe of N relus
  lines N      N lines `x = x |> relu`
  layers N     N ops in lines `x = x |> linear(8) |> relu`
  norms N      N ops in lines `x = x |> linear(8) |> batchnorm |> relu`
  names N      N lines, each a new name
  losses N     N loss lines
  inputs N     N inputs, added up
  undefined N  N lines, each using a name never defined
"""
import sys

kind, n = sys.argv[1], int(sys.argv[2])
out = ["model deep", "input img : f32[8]", "label t : class[8]"]
result = "x"
if kind == "parens":
    out.append("x = " + "(" * n + "img |> relu" + ")" * n)
elif kind == "brackets":
    out.append("x = img |> leaky_relu(slope=" + "[" * (n - 1) + "0.1" + "]" * (n - 1) + ")")
elif kind == "calls":
    out.append("x = " + "relu(" * n + "img" + ")" * n)
elif kind == "pipe":
    out.append("x = img |> linear(8)" + " |> relu" * n)
elif kind == "lines":
    out += ["x = img |> linear(8)"] + ["x = x |> relu"] * n
elif kind == "layers":
    out += ["x = img |> linear(8)"] + ["x = x |> linear(8) |> relu"] * (n // 2)
elif kind == "norms":
    out += ["x = img |> linear(8)"] + ["x = x |> linear(8) |> batchnorm |> relu"] * (n // 3)
elif kind == "names":
    out += ["a0 = img |> linear(8)"] + ["a%d = a%d |> relu" % (i + 1, i) for i in range(n)]
    result = "a%d" % n
elif kind == "losses":
    out += ["x = img |> linear(8)", "output x"]
    out += ["loss softmax_cross_entropy(x, t)"] * n
    result = None
elif kind == "inputs":
    out = ["model deep", "label t : class[8]"]
    out += ["input i%d : f32[8]" % i for i in range(n)]
    out += ["x = i0 |> linear(8)"] + ["x = add(x, i%d)" % i for i in range(1, n)]
elif kind == "undefined":
    out += ["a%d = b%d |> relu" % (i, i) for i in range(n)]
    result = "a0"
else:
    sys.exit("gen.py: unknown kind " + kind)
if result:
    out += ["output " + result, "loss softmax_cross_entropy(%s, t)" % result]
sys.stdout.write("\n".join(out) + "\n")

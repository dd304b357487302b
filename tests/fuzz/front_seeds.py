"""Write seeds of the shapes that stress the front end's depth and length,
which libFuzzer's small mutations would take long to build from the models
alone: nested parentheses, calls and lists, and long op chains, inline and
over many statements.  Each is a valid model, a few hundred levels deep or
long, so the fuzzer can copy and splice its parts deeper and longer.

usage: front_seeds.py DIR"""
import os
import sys

HEAD = "model deep\ninput x : f32[4]\n"
N = 300


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    seeds = {
        "deep-parens": HEAD + "y = " + "(" * N + "x" + ")" * N + "\noutput y\n",
        "deep-calls": HEAD + "y = " + "relu(" * N + "x" + ")" * N + "\noutput y\n",
        "deep-adds": HEAD + "y = " + "add(" * N + "x" + ", x)" * N + "\noutput y\n",
        "deep-list": HEAD + "y = x |> linear(4, init=" + "[" * N + "1" + "]" * N + ")\noutput y\n",
        "long-pipe": HEAD + "y = x" + " |> relu" * N + "\noutput y\n",
        "long-lines": HEAD + "h0 = x\n"
        + "".join(f"h{i + 1} = h{i} |> linear(4) |> tanh\n" for i in range(N))
        + f"output h{N}\n",
    }
    for name, text in seeds.items():
        with open(os.path.join(out, name + ".nn"), "w") as f:
            f.write(text)


main()

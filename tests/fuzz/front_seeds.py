"""Write seeds of the shapes that stress the front end's depth and length,
which libFuzzer's small mutations would take long to build from the models
alone: nested parentheses, calls and lists, and long op chains, inline and
over many statements.  The fuzzer copies and splices their parts deeper and
longer.  Parentheses and lists cost nothing to compile and are 2,000 deep;
nested calls and chains are ops, whose compilation is slow under the
sanitizers (a 300-op chain takes a second), so they are 300 long.

usage: front_seeds.py DIR"""
import os
import sys

HEAD = "model deep\ninput x : f32[4]\n"
DEEP = 2000
N = 300


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    seeds = {
        "deep-parens": HEAD + "y = " + "(" * DEEP + "x" + ")" * DEEP + "\noutput y\n",
        "deep-calls": HEAD + "y = " + "relu(" * N + "x" + ")" * N + "\noutput y\n",
        "deep-adds": HEAD + "y = " + "add(" * N + "x" + ", x)" * N + "\noutput y\n",
        "deep-list": HEAD + "y = x |> linear(4, init=" + "[" * DEEP + "1" + "]" * DEEP + ")\noutput y\n",
        "long-pipe": HEAD + "y = x" + " |> relu" * N + "\noutput y\n",
        "long-lines": HEAD + "h0 = x\n"
        + "".join(f"h{i + 1} = h{i} |> linear(4) |> tanh\n" for i in range(N))
        + f"output h{N}\n",
    }
    for name, text in seeds.items():
        with open(os.path.join(out, name + ".nn"), "w") as f:
            f.write(text)


main()

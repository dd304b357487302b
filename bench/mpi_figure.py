"""bench/mpi_figure.py RESULTS.md OUT.svg: the figure of docs/distributed.md
from bench/mpi.sh's table: training throughput per run (bars, samples/s,
with the speed-up over one process on one thread), and for the data-
parallel run the step split into computing and the gradients' allreduce."""
import sys
from xml.sax.saxutils import escape


def rows(path):
    out = []
    for line in open(path):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[1].isdigit():
            out.append(cells)
    return out


def main():
    table = rows(sys.argv[1])
    title = open(sys.argv[1]).readline().lstrip("# ").strip()
    w, h, left, top, bar_h, gap = 840, 120 + 46 * len(table), 250, 56, 30, 16
    top_rate = max(float(r[1]) for r in table)
    span = w - left - 120
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
           f'viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="13">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{w / 2}" y="24" text-anchor="middle" font-size="15">{escape(title)}</text>',
           f'<text x="{left}" y="44" fill="#555">training throughput, samples/s '
           f'(longer is better)</text>']
    y = top
    for name, rate, speedup, reduce_ms, share, step_ms in table:
        length = span * float(rate) / top_rate
        svg.append(f'<text x="{left - 8}" y="{y + bar_h / 2 + 4}" text-anchor="end">'
                   f'{escape(name)}</text>')
        if share not in ("-", ""):
            compute = length * (1 - float(share) / 100)
            svg.append(f'<rect x="{left}" y="{y}" width="{compute:.1f}" height="{bar_h}" '
                       f'fill="#4c78a8"/>')
            svg.append(f'<rect x="{left + compute:.1f}" y="{y}" width="{length - compute:.1f}" '
                       f'height="{bar_h}" fill="#f58518"/>')
        else:
            svg.append(f'<rect x="{left}" y="{y}" width="{length:.1f}" height="{bar_h}" '
                       f'fill="#4c78a8"/>')
        svg.append(f'<text x="{left + length + 6:.1f}" y="{y + bar_h / 2 + 4}">{rate} '
                   f'({escape(speedup)})</text>')
        y += bar_h + gap
    ranks = [r for r in table if r[4] not in ("-", "")]
    legend_y = y + 10
    svg.append(f'<rect x="{left}" y="{legend_y}" width="14" height="14" fill="#4c78a8"/>')
    svg.append(f'<text x="{left + 20}" y="{legend_y + 12}">computing the step</text>')
    svg.append(f'<rect x="{left + 170}" y="{legend_y}" width="14" height="14" fill="#f58518"/>')
    svg.append(f'<text x="{left + 190}" y="{legend_y + 12}">the gradients\' allreduce '
               f'(share of the step)</text>')
    for r in ranks:
        legend_y += 24
        svg.append(f'<text x="{left}" y="{legend_y + 12}" fill="#555">{escape(r[0])}: '
                   f'allreduce {r[3]} ms of a {r[5]} ms step ({r[4]}%)</text>')
    svg.append("</svg>")
    open(sys.argv[2], "w").write("\n".join(svg) + "\n")


main()

"""Two runs of bench/run.py side by side: does any cost grow with the size of the data?

    .venv/bin/python bench/compare.py /tmp/bench1.json /tmp/bench4.json

For each endpoint in both runs: CPU time per request (web + database, the medians of the
rounds) and p95 in each, and their ratio (second / first). The issue's bound is 1.2; CPU time
is the figure to trust on a shared machine, p95 moves with the machine's load, which is
printed for both runs.
"""

import argparse
import json
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("first")
    parser.add_argument("second")
    parser.add_argument("--labels", default="1×,4×")
    args = parser.parse_args()
    a, b = (json.loads(Path(f).read_text()) for f in (args.first, args.second))
    la, lb = args.labels.split(",")
    for label, run in ((la, a), (lb, b)):
        facts, data = run["facts"], run["data"]
        print(f"{label}: {facts['commit']} at {facts['when']}; {facts['load']}, others kept "
              f"{facts['others']:.2f} cores busy; {data['attendance records']:,} attendance "
              f"records, {data['audit events']:,} audit events")  # fmt: skip
    print()
    print(f"| endpoint | CPU ms/req {la} | CPU ms/req {lb} | {lb} / {la} | p95 ms {la} "
          f"| p95 ms {lb} | {lb} / {la} | API / floor by CPU {la} | {lb} |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    second = {_key(ep["name"]): ep for ep in b["endpoints"]}
    for ep in a["endpoints"]:
        other = second.get(_key(ep["name"]))
        if other is None:
            continue
        cpu_a, cpu_b = ep["result"]["cpu_ms"], other["result"]["cpu_ms"]
        p95_a, p95_b = ep["result"]["p95"], other["result"]["p95"]
        ratio = [f"{r['ratios']['cpu']:.2f}" if "ratios" in r else "—" for r in (ep, other)]
        print(f"| {ep['name']} | {cpu_a:.1f} | {cpu_b:.1f} | {cpu_b / cpu_a:.2f} | {p95_a:.0f} "
              f"| {p95_b:.0f} | {p95_b / p95_a:.2f} | {ratio[0]} | {ratio[1]} |")  # fmt: skip


def _key(name: str) -> str:
    # "audit log, 100 at 50,000 events back": the same endpoint at either size.
    return name.split(" at ")[0]


if __name__ == "__main__":
    main()

"""Device authentication's cost alone: interleaved pairs of the worker bench's ``plain``
(``--device-auth off``, unsigned events) and ``signed`` (``enforce``, every event signed)
runs, each on a fresh broker, alternating which goes first; prints the ratios per pair
and their medians (records nothing). Run alone:
``.venv/bin/python -m tests.bench.auth_pairs --pairs 5``.
"""

from __future__ import annotations

import argparse

from tests.bench.streams import Config, _mid, measure, without_rules


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args(argv)
    plain = Config("plain", without_rules)
    signed = Config("signed", without_rules, signed=True)
    runs: dict[str, list[dict[str, float]]] = {"plain": [], "signed": []}
    for i in range(args.pairs):
        for config in (plain, signed) if i % 2 == 0 else (signed, plain):
            run = measure(args.events, config)
            runs[config.name].append(run)
            print(f"pair {i} {config.name}: {run['events_per_s']:,} events/s, "
                  f"{run['cpu_us_per_event']} us CPU per event", flush=True)
    out = {}
    for metric in ("cpu_us_per_event", "events_per_s"):
        ratios = [s[metric] / p[metric] for s, p in zip(runs["signed"], runs["plain"],
                                                          strict=True)]
        out[metric] = _mid(ratios)
        print(f"on over off, {metric}: {', '.join(f'{x:.3f}' for x in ratios)} "
              f"(median {out[metric]:.3f})")
    return out


if __name__ == "__main__":
    main()

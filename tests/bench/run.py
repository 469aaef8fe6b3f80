"""``make bench``: run every benchmark, print the numbers, record them in BENCHMARKS.md."""

from __future__ import annotations

import argparse

from tests.bench import collector, e2e, kafka, package, peers, scaling, sink, store, streams

BENCHES = {
    "collector": lambda quick: collector.main(["--seconds", "30" if quick else "180"]),
    "streams": lambda quick: streams.main(["--events", "20000", "--repeat", "1"] if quick
                                          else ["--events", "200000"]),
    "peers": lambda quick: peers.main(["--events", "20000", "--rounds", "1"] if quick
                                      else ["--events", "200000", "--rounds", "3"]),
    "sink": lambda quick: sink.main(["--spans", "50000" if quick else "400000"]),
    "scaling": lambda quick: scaling.main(["--events", "20000", "--spans", "20000"] if quick
                                          else ["--events", "200000", "--spans", "200000"]),
    "package": lambda quick: package.main(["--seconds", "20" if quick else "120",
                                           "--starts", "3" if quick else "5"]),
    "store": lambda quick: store.record(store.main(["--people", "20", "--days", "5"] if quick
                                                 else ["--people", "400", "--days", "20"])),
    "e2e": lambda quick: e2e.main(["--seconds", "10", "--events", "20000"] if quick
                                  else ["--seconds", "60", "--events", "200000"]),
    "kafka": lambda quick: kafka.main(["--events", "20000", "--repeat", "1", "--seconds", "10"]
                                      if quick else ["--events", "200000", "--seconds", "30"]),
}


def main() -> None:
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("--only", choices=sorted(BENCHES), action="append")
    parser.add_argument("--quick", action="store_true", help="shorter runs (smoke test)")
    args = parser.parse_args()
    for name in args.only or list(BENCHES):
        print(f"== {name}", flush=True)
        BENCHES[name](args.quick)


if __name__ == "__main__":
    main()

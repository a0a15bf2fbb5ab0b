"""`exams` — the command line of the platform (transform environment).

exams ingest|transform|check|publish|extracts   one stage of the nightly run (the DAG's tasks)
exams run [--force]                             every stage in order, without Airflow
exams generate --out DIR [...]                  synthetic exports (seeded)
exams check-export FILE...                      what a rectorat runs before delivering a file
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from exams import settings


def _generate(args: argparse.Namespace) -> int:
    from exams.generator import GeneratorConfig, academies_for, generate

    if args.sample:
        cfg = GeneratorConfig()
    else:
        sessions = [int(x) for x in args.sessions.split(",")]
        academies = (
            academies_for(max(sessions)) if args.academies == "all" else args.academies.split(",")
        )
        cfg = GeneratorConfig(
            sessions=sessions,
            academies=academies,
            candidates_per_file=args.candidates,
            seed=args.seed,
            correction=not args.no_extras,
            duplicate=not args.no_extras,
            misnamed=not args.no_extras,
            jury_mismatch_share=args.mismatch,
        )
    paths = generate(Path(args.out), cfg)
    print(f"wrote {len(paths)} export(s) into {args.out}")
    return 0


def _check_export(args: argparse.Namespace) -> int:
    from exams.ingest.check_export import check_files

    return check_files([Path(f) for f in args.files])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="exams", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    sub = parser.add_subparsers(dest="command", required=True)
    for stage in ("ingest", "transform", "check", "publish", "extracts"):
        sub.add_parser(stage, help=f"the {stage} stage of the nightly run")
    run = sub.add_parser("run", help="every stage in order (no Airflow)")
    run.add_argument("--force", action="store_true", help="rebuild even if nothing changed")
    gen = sub.add_parser("generate", help="write synthetic exports")
    gen.add_argument("--out", required=True)
    gen.add_argument("--sample", action="store_true", help="the committed sample's settings")
    gen.add_argument("--sessions", default="2021,2023,2025")
    gen.add_argument("--academies", default="10,24,70", help="comma list, or 'all'")
    gen.add_argument("--candidates", type=int, default=190, help="candidates per file (±20 %%)")
    gen.add_argument("--seed", type=int, default=20250704)
    gen.add_argument("--mismatch", type=float, default=0.0, help="share of wrong jury decisions")
    gen.add_argument("--no-extras", action="store_true", help="no correction, no duplicate")
    chk = sub.add_parser("check-export", help="check export files before delivery")
    chk.add_argument("files", nargs="+")
    args = parser.parse_args(argv)

    if args.command == "generate":
        return _generate(args)
    if args.command == "check-export":
        return _check_export(args)

    from exams import pipeline

    s = settings.load()
    if args.command == "run":
        pipeline.run_all(s, force=args.force)
        return 0
    result = pipeline.STAGES[args.command](s)
    if args.command == "ingest":
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

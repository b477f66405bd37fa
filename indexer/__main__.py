"""`python -m indexer reindex`: rebuild the search index from the records, with progress."""
from __future__ import annotations

import argparse
import sys
import time


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m indexer", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("reindex", help="rebuild every evidence document (idempotent)")
    parser.parse_args(argv)

    from tqdm import tqdm

    from chalicelib.bootstrap import bootstrap
    from chalicelib.config import Settings, SettingsError

    try:
        settings = Settings.from_env(index_on_write=False)
    except SettingsError as error:
        print(f"reindex: {error}", file=sys.stderr)
        return 2
    relais = bootstrap(settings)
    started = time.time()
    total = relais.indexer.count_documents()
    with tqdm(total=total, unit="doc", desc="reindex") as bar:
        result = relais.indexer.reindex(progress=bar.update)
    seconds = time.time() - started
    print(f"{result['documents']} documents indexed, {result['removed']} removed, "
          f"in {seconds:.1f} s ({result['documents'] / max(seconds, 1e-9):.0f} documents/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

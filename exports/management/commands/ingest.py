import json
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from exports.data.ingestion import ORIGIN_FIELDS, checked_records, origin_problems, store_records
from exports.data.senml import NormalisedRecord, SenMLError, iter_json_lines, parse_pack

LINES_SUFFIXES = {".jsonl", ".ndjson", ".jsonlines"}


class Command(BaseCommand):
    help = (
        "Store the SenML records of FILE as messages of one channel, subtopic and publisher. "
        "FILE is a SenML JSON pack (RFC 8428: an array of records; base fields and relative "
        "times are resolved) or JSON lines (one record or pack per line, read as one stream). "
        "The file is stored in one transaction: a malformed record rejects it with the record "
        "index (and line) and the reason, and nothing is stored. Usage: manage.py "
        "ingest FILE --channel C --subtopic S --publisher P [--protocol senml] "
        "[--format auto|pack|lines] [--batch-size 5000]"
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="Path to the SenML JSON pack or JSON-lines file.")
        parser.add_argument("--channel", required=True, help="Channel id of the messages.")
        parser.add_argument("--subtopic", required=True, help="Subtopic, e.g. events.data.")
        parser.add_argument("--publisher", required=True, help="Publisher (thing) id.")
        parser.add_argument("--protocol", default="senml", help="Protocol to record (senml).")
        parser.add_argument(
            "--format",
            dest="input_format",
            choices=("auto", "pack", "lines"),
            default="auto",
            help="auto (default): JSON lines for .jsonl/.ndjson/.jsonlines files, else a pack.",
        )
        parser.add_argument(
            "--batch-size", type=int, default=5000, help="Rows per INSERT (default 5000)."
        )

    def handle(self, *args, file: str, input_format: str, batch_size: int, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        origin = {key: options[key] for key in ORIGIN_FIELDS}
        for key, problem in origin_problems(origin).items():
            raise CommandError(f"--{key} {problem}")

        path = Path(file)
        if input_format == "auto":
            input_format = "lines" if path.suffix.lower() in LINES_SUFFIXES else "pack"
        now = time.time()  # one "now" for every relative time in the file
        reader = _pack_reader if input_format == "pack" else _lines_reader
        records = reader(path, now)

        # One pass in one transaction: a bad record (reported with its index and line) rolls
        # back everything stored before it, so a malformed file stores nothing. store_records
        # also keeps the series catalog right, batch by batch.
        def report(stored: int) -> None:
            if options["verbosity"] >= 2:
                self.stdout.write(f"  {stored} records")

        stored = store_records(_checked(records()), origin, batch_size=batch_size, on_batch=report)
        self.stdout.write(self.style.SUCCESS(f"Stored {stored} records"))


def _pack_reader(path: Path, now: float) -> Callable[[], Iterator[NormalisedRecord]]:
    """Read and resolve the whole pack now; replay the resolved records on each call."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CommandError(f"Cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise CommandError(f"{path} is not UTF-8 text.") from None
    except json.JSONDecodeError as exc:
        hint = " (one JSON value per line? use --format lines)" if exc.msg == "Extra data" else ""
        raise CommandError(
            f"{path} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}{hint}."
        ) from None
    except RecursionError:
        raise CommandError(f"{path} is not a SenML pack: arrays are nested too deeply.") from None
    except ValueError:  # Python reads integers of at most 4300 digits
        raise CommandError(f"{path} is not valid JSON: a number has too many digits.") from None
    try:
        resolved = parse_pack(data, now=now)
    except SenMLError as exc:
        raise CommandError(f"Malformed SenML pack, nothing stored: {exc}") from None
    return lambda: iter(resolved)


def _lines_reader(path: Path, now: float) -> Callable[[], Iterator[NormalisedRecord]]:
    """Stream the file on each call, so a large file is never held in memory."""

    def records() -> Iterator[NormalisedRecord]:
        try:
            with path.open(encoding="utf-8") as stream:
                yield from iter_json_lines(stream, now=now)
        except SenMLError as exc:
            raise CommandError(f"Malformed SenML JSON lines, nothing stored: {exc}") from None
        except UnicodeDecodeError:
            raise CommandError(f"{path} is not UTF-8 text; nothing stored.") from None
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror or exc}") from None

    return records


def _checked(records: Iterable[NormalisedRecord]) -> Iterator[NormalisedRecord]:
    """The records, refusing any that the message table cannot hold as they are."""
    try:
        yield from checked_records(records)
    except SenMLError as exc:
        raise CommandError(f"Malformed SenML, nothing stored: {exc}") from None

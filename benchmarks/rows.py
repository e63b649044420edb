"""The rows of run.py's table: settings, timing, one attempt per implementation, and the table."""
from __future__ import annotations

import time
import timeit
from dataclasses import dataclass

from bench_core import per_call


@dataclass
class Settings:
    repeats: int = 3
    budget: float = 0.2          # seconds of calls per run
    quick: bool = False
    workdir: str = ""


SETTINGS = Settings()


# --- rows and the timing helper -------------------------------------------------------------

@dataclass
class Row:
    workload: str
    impl: str
    value: float | None = None   # seconds, or bytes when unit == "B"
    unit: str = "s"
    floor: bool = False
    target: tuple | None = None  # ("x", 1.5): ratio to the floor; ("s", 0.15) or ("B", n): absolute
    note: str = ""


def measure(fn):
    """Median seconds per call of fn over SETTINGS.repeats runs, each of as many calls as fill
    SETTINGS.budget (timeit's autorange calibrates and warms up)."""
    number, seconds = timeit.Timer(fn).autorange()
    return per_call(fn, max(1, round(number * SETTINGS.budget / seconds)), repeat=SETTINGS.repeats)


def attempt(rows, workload, impl, make, check=None, **row):
    """Append the row of one implementation: fn = make() is called once (the first call: set-up
    and compile, shown in the note), checked with check(result) and timed. An implementation
    whose module is missing is skipped; one that raises is reported as failed."""
    try:
        start = time.perf_counter()
        fn = make()
        result = fn()
        first = time.perf_counter() - start
        if check is not None:
            check(result)
        seconds = measure(fn)
    except ImportError as exc:
        rows.append(Row(workload, impl, note=f"skipped: {exc.name or exc} not installed"))
        return
    except Exception as exc:  # noqa: BLE001 - one broken peer must not stop the run
        rows.append(Row(workload, impl, note=failed(exc)))
        return
    note = row.pop("note", "") or (f"first call {first:.2f} s" if first >= 0.005 and not row.get("floor") else "")
    rows.append(Row(workload, impl, seconds, note=note, **row))


def failed(exc):
    return f"failed: {type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:100]}"


def just(fn, *args):
    """make() for an implementation with nothing to set up: the call is fn(*args)."""
    return lambda: lambda: fn(*args)


def skipped_in_quick(rows, workload, impl):
    rows.append(Row(workload, impl, note="skipped: --quick"))


# --- the table -------------------------------------------------------------------------------------

_later = []


def print_later(*lines):
    _later.extend(lines)


def later() -> list:
    """The lines print_later() held back for after the table."""
    return list(_later)


def shown(value, unit, digits=".2f"):
    if value is None:
        return "-"
    if unit == "B":
        return f"{value / 1e6:{digits}} MB" if value >= 1e5 else f"{value / 1e3:{digits}} kB"
    for scale, name in ((1, "s"), (1e-3, "ms"), (1e-6, "us")):
        if value >= scale or name == "us":
            return f"{value / scale:{digits}} {name}"


def status(row, ratio):
    if row.value is None or row.target is None:
        return row.note
    kind, limit = row.target
    got = ratio if kind == "x" else row.value
    goal = f"<= {limit:g}x" if kind == "x" else f"<= {shown(limit, kind, 'g')}"
    verdict = "n/a" if got is None else ("met" if got <= limit else "MISSED")
    return f"target {goal}: {verdict}" + (f"; {row.note}" if row.note else "")


def table(rows):
    floors = {}
    for row in rows:
        if row.floor and row.value and row.workload not in floors:
            floors[row.workload] = row.value
    wide = max([len("implementation")] + [len(row.impl) for row in rows])
    lines = [f"{'workload':<12} {'implementation':<{wide}} {'time':>10} {'vs floor':>9}  target/status"]
    previous = None
    for row in rows:
        floor = floors.get(row.workload)
        ratio = row.value / floor if row.value is not None and floor else None
        label = row.workload if row.workload != previous else ""
        previous = row.workload
        lines.append(f"{label:<12} {row.impl:<{wide}} {shown(row.value, row.unit):>10} "
                     f"{'-' if ratio is None else f'{ratio:.2f}x':>9}  {'floor' if row.floor else status(row, ratio)}".rstrip())
    return "\n".join(lines)

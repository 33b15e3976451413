#!/usr/bin/env python3
"""Writes expected/<scenario>.log: each asyncio scenario's output on CPython 3.13.

    python3 tests/conformance/regenerate_expected.py              # every scenario
    python3 tests/conformance/regenerate_expected.py timer_ties   # only these

The logs are the reference the simloop twins are compared with, so they come
from one CPython version whatever the machine's python3 is: this script runs
on any Python 3 but runs the scenarios on 3.13 only. The interpreter is
$SIMLOOP_PYTHON if set, else pyenv's 3.13.* (under $PYENV_ROOT or
~/.pyenv), else python3.13 on the PATH, else python3 if it is 3.13; the
conformance tests' CPython.* checks find it the same way. A log is exactly
the script's stdout; a script that fails or writes to stderr writes no log.
"""
import os
import pathlib
import re
import shutil
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
SCENARIOS = HERE / "scenarios"
EXPECTED = HERE / "expected"
REQUIRED = (3, 13)
PROBE = "import sys; print(sys.implementation.name, *sys.version_info[:3])"


def probe(executable):
    """(implementation, major, minor, micro) of an interpreter, or None."""
    try:
        out = subprocess.run([executable, "-c", PROBE], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    fields = out.stdout.split()
    if out.returncode != 0 or len(fields) != 4:
        return None
    return (fields[0], int(fields[1]), int(fields[2]), int(fields[3]))


def is_required(info):
    return info is not None and info[0] == "cpython" and info[1:3] == REQUIRED


def describe(info):
    return "not runnable" if info is None else f"{info[0]} {info[1]}.{info[2]}.{info[3]}"


def find_python():
    """Returns (executable, version info); exits with a message if there is no CPython 3.13."""
    wanted = f"CPython {REQUIRED[0]}.{REQUIRED[1]}"
    env = os.environ.get("SIMLOOP_PYTHON")
    if env:
        info = probe(env)
        if not is_required(info):
            sys.exit(f"regenerate_expected: SIMLOOP_PYTHON={env} is {describe(info)}, not {wanted}; "
                     "the expected logs come from that version only")
        return env, info
    roots = []
    if os.environ.get("PYENV_ROOT"):
        roots.append(pathlib.Path(os.environ["PYENV_ROOT"]))
    if os.environ.get("HOME"):
        roots.append(pathlib.Path(os.environ["HOME"]) / ".pyenv")
    for root in roots:
        found = []
        versions = root / "versions"
        if versions.is_dir():
            for entry in versions.iterdir():
                if entry.name.startswith(f"{REQUIRED[0]}.{REQUIRED[1]}"):
                    executable = entry / "bin" / "python3"
                    info = probe(str(executable))
                    if is_required(info):
                        found.append((info[3], str(executable), info))
        if found:
            _, executable, info = max(found)
            return executable, info
    for name in (f"python{REQUIRED[0]}.{REQUIRED[1]}", "python3"):
        executable = shutil.which(name)
        if executable:
            info = probe(executable)
            if is_required(info):
                return executable, info
    sys.exit(f"regenerate_expected: no {wanted} found (set SIMLOOP_PYTHON, or install it, e.g. with "
             f"'pyenv install {REQUIRED[0]}.{REQUIRED[1]}'); the expected logs come from that version only")


def main(argv):
    names = argv or sorted(p.stem for p in SCENARIOS.glob("*.py"))
    for name in names:
        if not re.fullmatch(r"\w+", name) or not (SCENARIOS / f"{name}.py").is_file():
            sys.exit(f"regenerate_expected: no scenario {name!r} (expected {SCENARIOS / name}.py)")
    executable, info = find_python()
    print(f"regenerate_expected: running {len(names)} scenario(s) on {describe(info)} ({executable})")
    env = dict(os.environ, PYTHONPATH=str(HERE))
    failed = []
    EXPECTED.mkdir(exist_ok=True)
    for name in names:
        try:
            run = subprocess.run([executable, str(SCENARIOS / f"{name}.py")], env=env, capture_output=True,
                                 timeout=120)
        except subprocess.TimeoutExpired:
            failed.append(name)
            print(f"regenerate_expected: {name}: still running after 120 s", file=sys.stderr)
            continue
        if run.returncode != 0 or run.stderr or not run.stdout:
            failed.append(name)
            print(f"regenerate_expected: {name}: exit status {run.returncode}, {len(run.stdout)} bytes of stdout, "
                  f"stderr:\n{run.stderr.decode(errors='replace')}", file=sys.stderr)
            continue
        (EXPECTED / f"{name}.log").write_bytes(run.stdout)
    stale = sorted(p.name for p in EXPECTED.glob("*.log") if not (SCENARIOS / f"{p.stem}.py").is_file())
    if stale:
        print(f"regenerate_expected: logs without a scenario (delete them): {' '.join(stale)}", file=sys.stderr)
    if failed:
        sys.exit(f"regenerate_expected: {len(failed)} scenario(s) failed, their logs left as they were: "
                 f"{' '.join(failed)}")
    if stale:
        sys.exit(1)
    print(f"regenerate_expected: wrote {len(names)} log(s) to {EXPECTED}")


if __name__ == "__main__":
    main(sys.argv[1:])

"""The frozen bundle vs running from source: size on disk, start-up of --version and --self-test.

Sizes: the PyInstaller bundle (build/dist/coachdesk, built first if missing, and the build
timed) against the virtualenv a source run needs; the packages in build/dist/release when `make
dist` has made them; the bundle's largest parts. Start-up: each command run as a fresh process
from an empty home, frozen and source taking turns in every round; "warm" with the files in the
page cache, "cold" after dropping it (only as root: /proc/sys/vm/drop_caches), which is what the
first start after boot or install sees. Prints medians and frozen/source ratios.
Rounds: COACHDESK_BENCH_ROUNDS (default 5 for --version, at most 3 for --self-test).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "build" / "dist" / "coachdesk"
EXECUTABLE = BUNDLE / "coachdesk"
RELEASE = ROOT / "build" / "dist" / "release"
DROP_CACHES = Path("/proc/sys/vm/drop_caches")
MIB = 2**20


def tree_size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def ensure_bundle() -> float | None:
    """Build the bundle if there is none; the build's seconds, or None if it was there."""
    if EXECUTABLE.is_file():
        return None
    started = time.perf_counter()
    subprocess.run([sys.executable, str(ROOT / "build" / "dist.py"), "bundle"], check=True)
    return time.perf_counter() - started


def can_drop_caches() -> bool:
    return os.geteuid() == 0 and os.access(DROP_CACHES, os.W_OK)


def drop_caches() -> None:
    os.sync()
    DROP_CACHES.write_text("3\n")


def timed_run(command: list[str], home: Path, extra_env: dict[str, str]) -> float:
    env = {
        "HOME": str(home),
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "COACHDESK_CONFIG": str(home / "none.toml"),
        **extra_env,
    }
    started = time.perf_counter()
    result = subprocess.run(command, env=env, cwd=home, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}")
    return seconds


def start_times(argument: str, rounds: int, *, cold: bool) -> dict[str, float]:
    """Median seconds of `coachdesk ARGUMENT`, frozen and from source, sides alternating."""
    # The source side runs this checkout's code, whichever checkout the virtualenv installed.
    sides = {
        "frozen": ([str(EXECUTABLE)], {}),
        "source": ([sys.executable, "-m", "app"], {"PYTHONPATH": str(ROOT)}),
    }
    times: dict[str, list[float]] = {side: [] for side in sides}
    with tempfile.TemporaryDirectory(prefix="bench-bundle-") as folder:
        for round_number in range(rounds):
            # Alternate who goes first, so neither always inherits the other's warm CPU caches.
            order = list(sides) if round_number % 2 == 0 else list(reversed(sides))
            for side in order:
                if cold:
                    drop_caches()
                command, extra_env = sides[side]
                times[side].append(timed_run([*command, argument], Path(folder), extra_env))
    return {side: statistics.median(values) for side, values in times.items()}


def print_sizes(build_seconds: float | None) -> None:
    bundle = tree_size(BUNDLE)
    venv = tree_size(Path(sysconfig.get_paths()["purelib"]))
    print("\nSize on disk")
    print(f"  bundle (build/dist/coachdesk)       {bundle / MIB:7.0f} MiB")
    print(f"  virtualenv site-packages (source)   {venv / MIB:7.0f} MiB")
    print(f"  ratio bundle / virtualenv           {bundle / venv:7.2f}")
    for package in sorted(RELEASE.glob("*")) if RELEASE.is_dir() else []:
        if package.name.endswith((".tar.gz", ".deb")):
            print(f"  {package.name:<36}{package.stat().st_size / MIB:6.0f} MiB")
    # Symlinked libraries (PyInstaller links duplicates) are counted once, where they live.
    parts = sorted(
        (tree_size(p) if p.is_dir() else p.stat().st_size, p.name)
        for p in BUNDLE.glob("_internal/*")
        if not p.is_symlink()
    )[::-1]
    print("  largest parts: " + ", ".join(f"{name} {size / MIB:.0f}" for size, name in parts[:8]))
    if build_seconds is not None:
        print(f"  bundle build took {build_seconds:.0f} s")


def print_starts(argument: str, rounds: int) -> None:
    modes = [("warm", False)] + ([("cold", True)] if can_drop_caches() else [])
    for mode, cold in modes:
        medians = start_times(argument, rounds, cold=cold)
        ratio = medians["frozen"] / medians["source"]
        print(
            f"  {argument:<12} {mode}: frozen {medians['frozen']:6.2f} s, "
            f"source {medians['source']:6.2f} s, frozen/source {ratio:5.2f}  ({rounds} rounds)"
        )
    if not can_drop_caches():
        print("  (cold starts need root to drop the page cache; only warm starts measured)")


def main() -> None:
    build_seconds = ensure_bundle()
    print_sizes(build_seconds)
    rounds = int(os.environ.get("COACHDESK_BENCH_ROUNDS", "5"))
    print("\nStart-up, median wall time of a fresh process")
    print_starts("--version", rounds)
    print_starts("--self-test", min(rounds, 3))


if __name__ == "__main__":
    main()

"""The pure core imports no Django (DESIGN §1): reusable from a notebook."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PURE = ("domain", "ingest", "graphs", "patterns", "render")


def test_the_pure_core_imports_no_django():
    modules = [
        f"tracegraph.{package}.{info.name}"
        for package in PURE
        for info in pkgutil.iter_modules([str(ROOT / "tracegraph" / package)])
    ] + [f"tracegraph.{package}" for package in PURE]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.'))\n"
        "print(','.join(bad))\n"
    )
    env = {"PATH": "", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"Django imported by the pure core: {done.stdout}"
    assert len(modules) > len(PURE)  # the check saw the modules, not just empty packages


def test_a_worker_imports_the_views_as_it_boots_not_in_its_first_request(tmp_path):
    code = (
        "import sys, tracegraph.wsgi\n"
        "print('tracegraph.web.views' in sys.modules, 'networkx' in sys.modules)\n"
    )
    env = {"PATH": "", "PYTHONPATH": str(ROOT), "TRACEGRAPH_VAR_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True"]

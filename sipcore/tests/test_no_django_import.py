"""The SIP stack imports no Django (team rule 1): only named edge modules may.

Every module under ``sipcore`` is imported in a fresh interpreter, found with
``pkgutil`` so new modules are covered without editing this file; test
packages and ``__main__`` entry points are skipped. If ``django`` appears in
``sys.modules`` the test fails and names the first module that pulled it in.
"""

import json
import subprocess
import sys
from pathlib import Path

# Modules allowed to import Django (adapters at the edge of the stack). None yet.
DJANGO_EDGE_MODULES: frozenset[str] = frozenset()

REPO_ROOT = Path(__file__).resolve().parents[2]

CHECKER = """
import importlib, json, pkgutil, sys

allowed = set(json.loads(sys.argv[1]))
preload = json.loads(sys.argv[2])


def django_loaded():
    return sorted(m for m in sys.modules if m == "django" or m.startswith("django."))


def excluded(name):
    last = name.rsplit(".", 1)[-1]
    return last in ("tests", "__main__") or any(
        name == edge or name.startswith(edge + ".") for edge in allowed
    )


def walk(path, prefix):
    for info in pkgutil.iter_modules(path, prefix):
        if excluded(info.name):
            continue
        module = importlib.import_module(info.name)
        yield info.name
        if info.ispkg:
            yield from walk(module.__path__, info.name + ".")


for name in preload:
    importlib.import_module(name)
import sipcore

imported, culprit = [], None
for name in walk(sipcore.__path__, "sipcore."):
    imported.append(name)
    if culprit is None and django_loaded():
        culprit = name
print(json.dumps({"imported": imported, "culprit": culprit, "django": django_loaded()}))
"""


def run_checker(*, allowed: frozenset[str], preload: list[str]) -> dict:
    completed = subprocess.run(
        [sys.executable, "-c", CHECKER, json.dumps(sorted(allowed)), json.dumps(preload)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, f"importing sipcore failed:\n{completed.stderr}"
    return json.loads(completed.stdout.splitlines()[-1])


def test_sipcore_imports_no_django() -> None:
    result = run_checker(allowed=DJANGO_EDGE_MODULES, preload=[])
    assert "sipcore.auth" in result["imported"]
    assert not result["django"], (
        f"{result['culprit'] or 'importing sipcore'} loaded {result['django'][:5]}; "
        f"move the Django use to an edge module and list it in DJANGO_EDGE_MODULES"
    )


def test_checker_notices_django() -> None:
    """Guards the guard: a Django import before the walk must be reported."""
    result = run_checker(allowed=DJANGO_EDGE_MODULES, preload=["django.conf"])
    assert "django.conf" in result["django"]


def test_message_auth_and_registrar_import_no_asyncio_or_socket() -> None:
    """Team rule 1's other half: only the transport adapters and the endpoint do I/O. The
    message and auth layers (and the registrar, which only awaits the Directory) must not load
    asyncio; the transaction and dialog layers are checked in ``test_transaction_tables.py``."""
    code = (
        "import sys, sipcore.message, sipcore.auth, sipcore.registrar\n"
        "print(sorted({'asyncio', 'socket', 'selectors', 'django'} & set(sys.modules)))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert completed.stdout.strip() == "[]"

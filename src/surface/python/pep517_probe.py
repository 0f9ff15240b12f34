"""kiln's backend probe: which of the named distributions the interpreter can
import, at which version, and the sha256 of each of their files.

    python3 -s -B kiln-probe.py NAME...

Prints one JSON list, one object per name: {"name", "missing": true} or
{"name", "dist", "version", "files": [[path, sha256], ...]} (paths as the
distribution's RECORD names them, sorted; compiled bytecode and the files
an installer writes are left out, so the same release installed on two
machines has one identity).
"""
import hashlib
import json
import sys
from importlib import metadata

INSTALLER_FILES = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}

out = []
for name in sys.argv[1:]:
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        out.append({"name": name, "missing": True})
        continue
    files = []
    for f in dist.files or []:
        parts = f.parts
        if "__pycache__" in parts or f.suffix in (".pyc", ".pyo"):
            continue
        if len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] in INSTALLER_FILES:
            continue
        try:
            with open(f.locate(), "rb") as fh:
                digest = hashlib.sha256(fh.read()).hexdigest()
        except OSError:
            continue
        files.append([str(f), digest])
    files.sort()
    out.append(
        {"name": name, "dist": dist.metadata["Name"], "version": dist.version, "files": files}
    )
sys.stdout.write(json.dumps(out))

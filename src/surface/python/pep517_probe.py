"""kiln's backend probe: which of the named distributions the interpreter can
import, at which version, and the sha256 of each of their files.

    python3 -s -B kiln-probe.py NAME...

Prints one JSON list, one object per name: {"name", "missing": true} or
{"name", "dist", "version", "files": [[path, sha256], ...]} (paths as the
distribution's RECORD names them, sorted; compiled bytecode and the files
an installer writes are left out, so the same release installed on two
machines has one identity; a distribution imported from a wheel of
$KILN_BACKEND_WHEELS is identified by that wheel's name and sha256).
"""
import hashlib
import json
import os
import sys
from importlib import metadata

INSTALLER_FILES = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}

def sha256(path):
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


# A declared directory of wheels comes first, as for the build.
wheels = []
if os.environ.get("KILN_BACKEND_WHEELS"):
    d = os.environ["KILN_BACKEND_WHEELS"]
    wheels = [os.path.join(d, w) for w in sorted(os.listdir(d)) if w.endswith(".whl")]
    sys.path[0:0] = wheels

out = []
for name in sys.argv[1:]:
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        out.append({"name": name, "missing": True})
        continue
    root = str(getattr(dist, "_path", ""))
    wheel = next((w for w in wheels if root.startswith(w + "/")), None)
    if wheel:
        # Imported from the wheel itself: its identity is the wheel's.
        out.append(
            {"name": name, "dist": dist.metadata["Name"], "version": dist.version,
             "files": [[os.path.basename(wheel), sha256(wheel)]]}
        )
        continue
    files = []
    for f in dist.files or []:
        parts = f.parts
        if "__pycache__" in parts or f.suffix in (".pyc", ".pyo"):
            continue
        if len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] in INSTALLER_FILES:
            continue
        try:
            digest = sha256(f.locate())
        except OSError:
            continue
        files.append([str(f), digest])
    files.sort()
    out.append(
        {"name": name, "dist": dist.metadata["Name"], "version": dist.version, "files": files}
    )
sys.stdout.write(json.dumps(out))

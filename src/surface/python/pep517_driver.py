"""kiln's PEP 517 front end: runs one hook of the project's build backend in
the current directory (the stamped project) and writes the returned file
name to OUT/.kiln-result.

    python3 -s -B /build/kiln-pep517.py sdist|wheel OUT BACKEND [BACKEND_PATH...]

Neither the current directory nor the script's is importable (as with
`python -m build`); BACKEND_PATH entries (pyproject's
`build-system.backend-path`, relative to the project) come first on
sys.path, then the wheels of $KILN_BACKEND_WHEELS (a declared directory of
wheels, by name).
"""
import importlib
import os
import sys

hook, out, backend = sys.argv[1:4]
cwd = os.getcwd()
here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if p not in ("", ".", cwd, here)]
wheels = os.environ.get("KILN_BACKEND_WHEELS")
if wheels:
    for w in sorted((w for w in os.listdir(wheels) if w.endswith(".whl")), reverse=True):
        sys.path.insert(0, os.path.join(wheels, w))
for p in reversed(sys.argv[4:]):
    sys.path.insert(0, os.path.join(cwd, p))
module, _, attrs = backend.partition(":")
obj = importlib.import_module(module)
for attr in attrs.split(".") if attrs else []:
    obj = getattr(obj, attr)
os.makedirs(out, exist_ok=True)
if hook == "sdist":
    name = obj.build_sdist(out, {})
else:
    name = obj.build_wheel(out, {}, None)
with open(os.path.join(out, ".kiln-result"), "w", encoding="utf-8") as f:
    f.write(name)

"""kiln's PEP 517 front end: runs one hook of the project's build backend in
the current directory (the stamped project) and writes the returned file
name to OUT/.kiln-result (for `requires-sdist`/`requires-wheel`, the list
`get_requires_for_build_*` returns, as JSON, to OUT/.kiln-requires).

    python3 [-S] -s -B /build/kiln-pep517.py HOOK OUT BACKEND [BACKEND_PATH...]

Neither the current directory nor the script's is importable (as with
`python -m build`); BACKEND_PATH entries (pyproject's
`build-system.backend-path`, relative to the project) come first on
sys.path. With $KILN_BACKEND_PREFIX (a backend environment kiln installed
from wheels; the interpreter runs with -S), its site-packages follows the
standard library, `.pth` files processed, and its bin/ (the wheels'
scripts) comes first on PATH, as in a front end's isolated environment
(uv_build finds its binary there); without it, the interpreter's own
site-packages, and the interpreter's own scripts directory first on PATH
(as in the environment `python -m build --no-isolation` runs in: uv_build
runs the `uv-build` binary its distribution installs there).

For the wheel hook, a C compiler the backend runs (setuptools' build_ext)
gets the environment that keeps this host out of the extension module, as
distutils reads it: CFLAGS adds `-ffile-prefix-map=PREFIX=/kiln/python`
(the interpreter's install prefix, where its headers are, leaves the debug
information), and LDSHARED is the interpreter's own without the
`-Wl,-rpath,DIR` entries below that prefix (a pyenv or source build links
its modules with a RUNPATH to its own lib/, a host path the module does
not need: the interpreter that imports it has libpython loaded already).
"""
import importlib
import json
import os
import site
import sys

hook, out, backend = sys.argv[1:4]
cwd = os.getcwd()
here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if p not in ("", ".", cwd, here)]
prefix = os.environ.get("KILN_BACKEND_PREFIX")
if prefix:
    site.addsitedir(os.path.join(prefix, "site-packages"))
    scripts = os.path.join(prefix, "bin")
else:
    import sysconfig

    scripts = sysconfig.get_path("scripts")
os.environ["PATH"] = os.pathsep.join(
    [scripts] + [p for p in [os.environ.get("PATH")] if p]
)
for p in reversed(sys.argv[4:]):
    sys.path.insert(0, os.path.join(cwd, p))


def portable_extensions():
    import sysconfig

    prefix = sysconfig.get_config_var("prefix")
    if not prefix or prefix == "/":
        return
    flags = os.environ.get("CFLAGS", "")
    os.environ["CFLAGS"] = (flags + " -ffile-prefix-map=%s=/kiln/python" % prefix).strip()
    ldshared = sysconfig.get_config_var("LDSHARED")
    if ldshared and "LDSHARED" not in os.environ:
        kept = [
            w
            for w in ldshared.split()
            if not (w.startswith("-Wl,-rpath,") and w[len("-Wl,-rpath,"):].startswith(prefix))
        ]
        os.environ["LDSHARED"] = " ".join(kept)


if hook == "wheel":
    portable_extensions()
module, _, attrs = backend.partition(":")
obj = importlib.import_module(module)
for attr in attrs.split(".") if attrs else []:
    obj = getattr(obj, attr)
os.makedirs(out, exist_ok=True)
if hook.startswith("requires-"):
    fn = getattr(obj, "get_requires_for_build_" + hook[len("requires-"):], None)
    requires = list(fn({})) if fn else []
    with open(os.path.join(out, ".kiln-requires"), "w", encoding="utf-8") as f:
        json.dump([str(r) for r in requires], f)
    sys.exit(0)
if hook == "sdist":
    name = obj.build_sdist(out, {})
else:
    name = obj.build_wheel(out, {}, None)
with open(os.path.join(out, ".kiln-result"), "w", encoding="utf-8") as f:
    f.write(name)

"""kiln's backend probe: what the interpreter is (its PEP 508 marker
environment and the wheel tags it installs, best first, as
`packaging.tags.sys_tags` orders them), and which of the named
distributions it can import, at which version, with the sha256 of each of
their files.

    python3 -s -B kiln-probe.py NAME...

Prints one JSON object: {"env": {...markers, "tags": [...]}, "dists": [...]}
with one object per name: {"name", "missing": true} or {"name", "dist",
"version", "files": [[path, sha256], ...]} (paths as the distribution's
RECORD names them, sorted; compiled bytecode and the files an installer
writes are left out, so the same release installed on two machines has one
identity).
"""
import hashlib
import json
import os
import platform
import sys
import sysconfig

INSTALLER_FILES = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}


def sha256(path):
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def platforms():
    plat = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    if not plat.startswith("linux_"):
        return [plat]
    arch = plat[len("linux_"):]
    if arch == "x86_64" and sys.maxsize <= 2**32:
        arch = "i686"
    out = []
    libc = (os.confstr("CS_GNU_LIBC_VERSION") or "") if hasattr(os, "confstr") else ""
    if libc.startswith("glibc "):
        major, minor = (int(x) for x in libc.split()[1].split(".")[:2])
        legacy = {(2, 17): "manylinux2014", (2, 12): "manylinux2010", (2, 5): "manylinux1"}
        lowest = 17 if arch not in ("x86_64", "i686") else 5
        for m in range(minor, lowest - 1, -1):
            out.append(f"manylinux_{major}_{m}_{arch}")
            if (major, m) in legacy:
                out.append(f"{legacy[(major, m)]}_{arch}")
    out.append(plat)
    return out


def tags():
    v = sys.version_info
    impl = sys.implementation.name
    short = {"cpython": "cp", "pypy": "pp"}.get(impl, impl)
    interp = f"{short}{v[0]}{v[1]}"
    plats = platforms()
    out = []
    if impl == "cpython":
        threaded = "t" if sysconfig.get_config_var("Py_GIL_DISABLED") else ""
        debug = "d" if hasattr(sys, "gettotalrefcount") else ""
        abis = [f"cp{v[0]}{v[1]}{threaded}{debug}"]
        if not threaded:
            abis.append("abi3")
        abis.append("none")
        for abi in abis:
            out += [f"{interp}-{abi}-{p}" for p in plats]
        if not threaded:
            for minor in range(v[1] - 1, 1, -1):
                out += [f"cp{v[0]}{minor}-abi3-{p}" for p in plats]
    else:
        soabi = (sysconfig.get_config_var("SOABI") or "").split("-")[0].replace(".", "_")
        for abi in [a for a in (soabi, "none") if a]:
            out += [f"{interp}-{abi}-{p}" for p in plats]
    versions = [f"py{v[0]}{m}" for m in range(v[1], -1, -1)]
    for i, py in enumerate(versions):
        out += [f"{py}-none-{p}" for p in plats]
        if i == 0:
            out += [f"py{v[0]}-none-{p}" for p in plats]
    out.append(f"{interp}-none-any")
    for i, py in enumerate(versions):
        out.append(f"{py}-none-any")
        if i == 0:
            out.append(f"py{v[0]}-none-any")
    return out


def markers():
    iv = sys.implementation.version
    impl_version = f"{iv.major}.{iv.minor}.{iv.micro}"
    if iv.releaselevel != "final":
        impl_version += iv.releaselevel[0] + str(iv.serial)
    return {
        "implementation_name": sys.implementation.name,
        "implementation_version": impl_version,
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_python_implementation": platform.python_implementation(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_full_version": platform.python_version(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
        "tags": tags(),
    }


def dists(names):
    from importlib import metadata

    out = []
    for name in names:
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
                digest = sha256(f.locate())
            except OSError:
                continue
            files.append([str(f), digest])
        files.sort()
        out.append(
            {"name": name, "dist": dist.metadata["Name"], "version": dist.version, "files": files}
        )
    return out


sys.stdout.write(json.dumps({"env": markers(), "dists": dists(sys.argv[1:])}))

#!/usr/bin/env python3
"""Check tfprobe's hand-written .proto files against the official TensorFlow /
TF Serving descriptors.

tfprobe writes its own .proto files under proto/ (only what it needs). The
wire format only stays compatible if every message, field, enum value and
service method agrees with upstream. This script proves that agreement:

1. It compiles everything under proto/ into a FileDescriptorSet with the
   protoc that ships in the PyPI package ``grpcio-tools``.
2. It loads the official descriptors from the generated ``*_pb2.py`` modules
   of the PyPI packages ``tensorflow-serving-api`` and ``tensorflow`` (or
   ``tensorflow-cpu``). Only the ``*_pb2.py`` files are used: they are copied
   into a scratch package tree, so TensorFlow itself is never imported.
3. For every message we define it looks up the official message with the same
   full name and compares each field by number: name, type, label, referenced
   type name, oneof membership and proto3 ``optional``. It does the same for
   enums (value names and numbers) and services (methods, request/response
   types, streaming).

Any difference is an error. A field that exists upstream but not here is an
error too, unless it is listed in ``DELIBERATE_OMISSIONS`` below, in which
case it is printed as info. Differences in the file a type lives in (e.g. the
error code enum, kept upstream in a separate file) are printed as info only.

Setup (any Python 3.9+; nothing from TensorFlow is imported)::

    python3 -m venv VENV
    VENV/bin/pip install grpcio-tools protobuf
    VENV/bin/pip install --no-deps tensorflow-serving-api==2.21.0
    # TensorFlow's core *_pb2 modules: either install the wheel without deps
    VENV/bin/pip install --no-deps tensorflow-cpu==2.21.0
    # ... or download it and point --official at the unzipped wheel:
    #   pip download --no-deps --only-binary=:all: tensorflow-cpu==2.21.0 -d WHEELS
    #   unzip WHEELS/tensorflow_cpu-*.whl 'tensorflow/*_pb2.py' -d TFTREE

Usage::

    VENV/bin/python tools/check_protos.py [--proto-root proto]
                                          [--official DIR ...] [--verbose]

``--official DIR`` (repeatable) names a directory that contains a
``tensorflow/`` and/or ``tensorflow_serving/`` package tree (a site-packages
directory, or an unzipped wheel). Without it, the packages are found on this
Python's import path. Exit status: 0 when everything matches, 1 on any
mismatch, 2 when the inputs could not be prepared.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path

# Fields present upstream that tfprobe leaves out on purpose, as
# {message full name: {field name, ...}}. Keep this empty unless a field
# really cannot be expressed; the messages of design.md section 4 must never
# appear here.
DELIBERATE_OMISSIONS: dict[str, set[str]] = {
    # SessionRunRequest/Response pull in tensorflow/core/protobuf/config.proto;
    # warmup only has to recognise a session_run_log to refuse it.
    "tensorflow.serving.SessionRunLog": {"request", "response"},
}

# Messages that neither wheel ships a *_pb2 module for, so there is no descriptor to
# compare with. Their fields, as {number: (name, type)}, were read from TF Serving's
# own .proto source and are checked against ours here instead.
NOT_IN_WHEELS: dict[str, dict[int, tuple[str, str]]] = {
    # tensorflow_serving/config/ssl_config.proto (--ssl_config_file)
    "tensorflow.serving.SSLConfig": {
        1: ("server_key", "TYPE_STRING"),
        2: ("server_cert", "TYPE_STRING"),
        3: ("custom_ca", "TYPE_STRING"),
        4: ("client_verify", "TYPE_BOOL"),
    },
}

# Messages whose completeness matters for the TF Serving wire protocol and
# the SavedModel inspector (design.md section 4). Checked like every other
# message; listed so the summary can say they were found.
MUST_BE_COMPLETE = [
    "tensorflow.serving.ModelSpec",
    "tensorflow.serving.PredictRequest",
    "tensorflow.serving.PredictResponse",
    "tensorflow.serving.GetModelMetadataRequest",
    "tensorflow.serving.GetModelMetadataResponse",
    "tensorflow.serving.SignatureDefMap",
    "tensorflow.serving.GetModelStatusRequest",
    "tensorflow.serving.GetModelStatusResponse",
    "tensorflow.serving.ModelVersionStatus",
    "tensorflow.serving.StatusProto",
    "tensorflow.TensorProto",
    "tensorflow.TensorShapeProto",
    "tensorflow.TensorShapeProto.Dim",
    "tensorflow.SignatureDef",
    "tensorflow.TensorInfo",
    "tensorflow.SavedConcreteFunction",
    "tensorflow.SavedFunction",
    "tensorflow.StructuredValue",
    "tensorflow.TensorSpecProto",
    "tensorflow.BundleHeaderProto",
    "tensorflow.BundleEntryProto",
    "tensorflow.MetaGraphDef",
    "tensorflow.MetaGraphDef.MetaInfoDef",
    "tensorflow.SavedModel",
]

OFFICIAL_PACKAGES = ("tensorflow", "tensorflow_serving")


def compile_ours(proto_root: Path, out: Path) -> bytes:
    """Compile every .proto under proto_root with grpcio-tools' protoc."""
    try:
        from grpc_tools import protoc
    except ImportError:
        sys.exit("error: grpcio-tools is not installed (pip install grpcio-tools)")
    import grpc_tools

    wkt = Path(grpc_tools.__file__).parent / "_proto"
    files = sorted(str(p.relative_to(proto_root)) for p in proto_root.rglob("*.proto"))
    if not files:
        sys.exit(f"error: no .proto files under {proto_root}")
    args = [
        "protoc",
        f"-I{proto_root}",
        f"-I{wkt}",
        f"--descriptor_set_out={out}",
        "--include_imports",
        *files,
    ]
    rc = protoc.main(args)
    if rc != 0:
        print(f"error: protoc failed with status {rc}", file=sys.stderr)
        sys.exit(2)
    return out.read_bytes()


def find_official_roots(extra: list[str]) -> dict[str, Path]:
    """Map each official package name to the directory that holds it."""
    roots: dict[str, Path] = {}
    for d in extra:
        for pkg in OFFICIAL_PACKAGES:
            if pkg not in roots and (Path(d) / pkg).is_dir():
                roots[pkg] = Path(d) / pkg
    for pkg in OFFICIAL_PACKAGES:
        if pkg in roots:
            continue
        # find_spec on a top-level package does not run its __init__.
        spec = importlib.util.find_spec(pkg)
        if spec and spec.submodule_search_locations:
            roots[pkg] = Path(list(spec.submodule_search_locations)[0])
    return roots


def stage_pb2(roots: dict[str, Path], stage: Path) -> list[str]:
    """Copy every *_pb2.py into a bare package tree; return module names."""
    modules = []
    for pkg, root in roots.items():
        for src in root.rglob("*_pb2.py"):
            rel = Path(pkg) / src.relative_to(root)
            dst = stage / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
            modules.append(".".join(rel.with_suffix("").parts))
    for dirpath, _dirs, _files in os.walk(stage):
        init = Path(dirpath) / "__init__.py"
        if Path(dirpath) != stage and not init.exists():
            init.write_text("")
    return sorted(modules)


def load_official(modules: list[str], stage: Path, verbose: bool):
    """Import the staged modules; return their FileDescriptorProtos."""
    from google.protobuf import descriptor_pb2

    for pkg in OFFICIAL_PACKAGES:
        if pkg in sys.modules:
            sys.exit(f"error: {pkg} was imported before staging; run this script directly")
    sys.path.insert(0, str(stage))
    files = {}
    failed = []
    for name in modules:
        try:
            mod = importlib.import_module(name)
        except Exception as e:  # an unrelated module with odd deps: not needed
            failed.append((name, e))
            continue
        fd = getattr(mod, "DESCRIPTOR", None)
        if fd is None:
            continue
        stack = [fd]
        while stack:  # include (public) dependencies, e.g. the tsl error codes
            f = stack.pop()
            if f.name in files:
                continue
            proto = descriptor_pb2.FileDescriptorProto()
            f.CopyToProto(proto)
            files[f.name] = proto
            stack.extend(f.dependencies)
    if verbose:
        for name, e in failed:
            print(f"info: could not import {name}: {e}")
    return files, len(failed)


def index(files):
    """Full name -> (kind, proto, file name) for messages, enums, services."""
    out = {}

    def add_msg(prefix, m, fname):
        full = f"{prefix}.{m.name}" if prefix else m.name
        out[full] = ("message", m, fname)
        for n in m.nested_type:
            add_msg(full, n, fname)
        for e in m.enum_type:
            out[f"{full}.{e.name}"] = ("enum", e, fname)

    for f in files:
        pkg = f.package
        for m in f.message_type:
            add_msg(pkg, m, f.name)
        for e in f.enum_type:
            out[f"{pkg}.{e.name}" if pkg else e.name] = ("enum", e, f.name)
        for s in f.service:
            out[f"{pkg}.{s.name}" if pkg else s.name] = ("service", s, f.name)
    return out


def field_sig(m, f):
    from google.protobuf import descriptor_pb2 as d

    oneof = None
    if f.HasField("oneof_index") and not f.proto3_optional:
        oneof = m.oneof_decl[f.oneof_index].name
    return {
        "name": f.name,
        "type": d.FieldDescriptorProto.Type.Name(f.type),
        "label": d.FieldDescriptorProto.Label.Name(f.label),
        "type_name": f.type_name,
        "oneof": oneof,
        "proto3_optional": f.proto3_optional,
    }


def compare(ours, official):
    errors, infos = [], []
    for full, (kind, mine, fname) in sorted(ours.items()):
        if full.startswith("google.protobuf."):
            continue  # well-known types come from the protobuf distribution
        theirs = official.get(full)
        if theirs is None and full in NOT_IN_WHEELS:
            expected = NOT_IN_WHEELS[full]
            got = {f.number: (f.name, field_sig(mine, f)["type"]) for f in mine.field}
            if got != expected:
                errors.append(f"message {full}: fields {got}, TF Serving's source has {expected}")
            else:
                infos.append(f"message {full}: not in the wheels; matches TF Serving's source table")
            continue
        if theirs is None:
            errors.append(f"{kind} {full}: not found in the official descriptors")
            continue
        okind, off, ofname = theirs
        if okind != kind:
            errors.append(f"{full}: ours is a {kind}, official is a {okind}")
            continue
        if fname != ofname:
            infos.append(f"{full}: defined in {fname} here, in {ofname} upstream")
        if kind == "message":
            if mine.options.map_entry != off.options.map_entry:
                errors.append(f"message {full}: map-entry flag differs")
            our_fields = {f.number: field_sig(mine, f) for f in mine.field}
            off_fields = {f.number: field_sig(off, f) for f in off.field}
            for num, sig in sorted(our_fields.items()):
                osig = off_fields.get(num)
                if osig is None:
                    errors.append(f"message {full}: field {sig['name']} = {num} does not exist upstream")
                    continue
                for key in sig:
                    if sig[key] != osig[key]:
                        errors.append(
                            f"message {full}: field {num} {key}: ours {sig[key]!r}, official {osig[key]!r}"
                        )
            for num, osig in sorted(off_fields.items()):
                if num in our_fields:
                    continue
                if osig["name"] in DELIBERATE_OMISSIONS.get(full, set()):
                    infos.append(f"message {full}: omits field {osig['name']} = {num} (deliberate)")
                else:
                    errors.append(f"message {full}: missing field {osig['name']} = {num}")
        elif kind == "enum":
            our_vals = {v.name: v.number for v in mine.value}
            off_vals = {v.name: v.number for v in off.value}
            for name, num in our_vals.items():
                if name not in off_vals:
                    errors.append(f"enum {full}: value {name} = {num} does not exist upstream")
                elif off_vals[name] != num:
                    errors.append(f"enum {full}: {name} is {num} here, {off_vals[name]} upstream")
            for name, num in off_vals.items():
                if name not in our_vals:
                    errors.append(f"enum {full}: missing value {name} = {num}")
        else:
            our_m = {m.name: m for m in mine.method}
            off_m = {m.name: m for m in off.method}
            for name, m in our_m.items():
                o = off_m.get(name)
                if o is None:
                    errors.append(f"service {full}: method {name} does not exist upstream")
                    continue
                for attr in ("input_type", "output_type", "client_streaming", "server_streaming"):
                    if getattr(m, attr) != getattr(o, attr):
                        errors.append(
                            f"service {full}.{name}: {attr} ours {getattr(m, attr)!r}, "
                            f"official {getattr(o, attr)!r}"
                        )
            for name in off_m:
                if name not in our_m:
                    errors.append(f"service {full}: missing method {name}")
    return errors, infos


def main() -> int:
    here = Path(__file__).resolve().parent.parent
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--proto-root", default=str(here / "proto"), help="root of our .proto tree")
    ap.add_argument(
        "--official",
        action="append",
        default=[],
        metavar="DIR",
        help="directory holding tensorflow/ and/or tensorflow_serving/ (*_pb2.py); repeatable",
    )
    ap.add_argument("--verbose", "-v", action="store_true", help="also print info lines")
    args = ap.parse_args()

    from google.protobuf import descriptor_pb2

    proto_root = Path(args.proto_root).resolve()
    roots = find_official_roots(args.official)
    missing = [p for p in OFFICIAL_PACKAGES if p not in roots]
    if missing:
        print(
            "error: official package(s) not found: " + ", ".join(missing)
            + " (install them or pass --official DIR)",
            file=sys.stderr,
        )
        return 2

    with tempfile.TemporaryDirectory(prefix="check_protos_") as tmp:
        tmp = Path(tmp)
        raw = compile_ours(proto_root, tmp / "ours.pb")
        fds = descriptor_pb2.FileDescriptorSet.FromString(raw)
        stage = tmp / "stage"
        stage.mkdir()
        modules = stage_pb2(roots, stage)
        official_files, n_failed = load_official(modules, stage, args.verbose)

    ours = index(f for f in fds.file if not f.name.startswith("google/protobuf/"))
    official = index(official_files.values())
    errors, infos = compare(ours, official)

    for full in MUST_BE_COMPLETE:
        if full not in ours:
            errors.append(f"message {full}: required by design.md section 4 but not defined")

    for line in infos:
        print("info:", line)
    for line in errors:
        print("MISMATCH:", line)

    kinds = [k for k, _, _ in ours.values()]
    print(
        f"summary: {sum(1 for f in fds.file if not f.name.startswith('google/'))} proto files, "
        f"{kinds.count('message')} messages, {kinds.count('enum')} enums, "
        f"{kinds.count('service')} services checked against {len(official_files)} official files "
        f"({len(modules)} pb2 modules, {n_failed} not importable); "
        f"{len(errors)} mismatches, {len(infos)} info"
    )
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

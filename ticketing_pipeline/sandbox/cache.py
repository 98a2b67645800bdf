"""Optional on-disk cache of generated data sets, for benchmarks that reuse a big one.

The file name carries the spec's key and a hash of the sandbox's own source, so a changed
generator never serves a stale data set. Writes go to a temp file renamed into place.
"""

from __future__ import annotations

import gc
import hashlib
import os
import pickle
import tempfile
from pathlib import Path

from ticketing_pipeline.sandbox.dataset import SandboxDataset
from ticketing_pipeline.sandbox.generator import SandboxSpec, generate

# The modules whose code decides the data set's bytes (the generation package whole).
_SOURCES = (
    "model.py",
    "dataset.py",
    "formats.py",
    "generator.py",
    "money.py",
    "mutate.py",
    "humanitix_records.py",
    "eventbrite_records.py",
    *sorted(f"generation/{p.name}" for p in (Path(__file__).parent / "generation").glob("*.py")),
)


def _code_hash() -> str:
    here = Path(__file__).parent
    digest = hashlib.sha256()
    for name in _SOURCES:
        digest.update((here / name).read_bytes())
    return digest.hexdigest()[:12]


def cache_path(spec: SandboxSpec, cache_dir: str | os.PathLike[str]) -> Path:
    return Path(cache_dir) / f"sandbox-{spec.cache_key()}-{_code_hash()}.pickle"


def load_or_generate(
    spec: SandboxSpec | None = None, cache_dir: str | os.PathLike[str] | None = None
) -> SandboxDataset:
    """``generate(spec)``, reusing ``cache_dir`` when given (freshly generated, never mutated)."""
    spec = spec or SandboxSpec()
    if cache_dir is None:
        return generate(spec)
    path = cache_path(spec, cache_dir)
    if path.exists():
        was_enabled = gc.isenabled()
        gc.disable()  # millions of objects: see generate()
        try:
            with path.open("rb") as handle:
                dataset = pickle.load(handle)
        finally:
            gc.freeze()
            if was_enabled:
                gc.enable()
        if isinstance(dataset, SandboxDataset) and dataset.spec == spec:
            return dataset
    dataset = generate(spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            pickle.dump(dataset, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return dataset

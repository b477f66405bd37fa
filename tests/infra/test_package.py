"""The API Lambda's deployment.zip (from `chalice package`): Lambda's 250 MB unzipped limit, the
runtime's binaries, every requirement present, nothing kept importing what was trimmed."""
from __future__ import annotations

import ast
import zipfile
from pathlib import Path

import pytest

from infra.synth import LAMBDA_UNZIPPED_LIMIT, MODEL_PREFIX, PRUNED_MODULES
from tests.infra.conftest import ROOT

MB = 1_000_000


def test_deployment_zip_unzips_under_the_lambda_limit(plan):
    """As synthesized: with chalicelib/model/ (the ONNX model) when it is there."""
    package = plan.report["package"]
    assert package["model_included"] == (ROOT / "chalicelib" / "model" / "model.onnx").exists()
    assert package["unzipped_bytes"] < LAMBDA_UNZIPPED_LIMIT, (
        f"{package['unzipped_bytes'] / MB:.1f} MB unzipped ("
        f"{package['model_bytes'] / MB:.1f} MB model), limit {LAMBDA_UNZIPPED_LIMIT / MB:.1f} MB")


@pytest.fixture(scope="module")
def model_bytes(plan, tmp_path_factory) -> int:
    """The size of the ONNX export the API needs, exported here if chalicelib/model/ is empty."""
    package = plan.report["package"]
    if package["model_included"]:
        return package["model_bytes"]
    pytest.importorskip("torch")
    from indexer.export_onnx import export
    folder = export(tmp_path_factory.mktemp("onnx"))
    return sum(f.stat().st_size for f in Path(folder).iterdir() if f.is_file())


@pytest.mark.slow
def test_deployment_zip_with_the_onnx_model_fits(plan, model_bytes):
    package = plan.report["package"]
    total = package["unzipped_without_model_bytes"] + model_bytes
    assert total < LAMBDA_UNZIPPED_LIMIT, (
        f"{total / MB:.1f} MB with the model ({model_bytes / MB:.1f} MB), "
        f"limit {LAMBDA_UNZIPPED_LIMIT / MB:.1f} MB")


def test_every_requirement_is_in_the_zip(plan):
    assert plan.report["package"]["missing_requirements"] == []


def test_binaries_are_built_for_the_lambda_runtime(plan):
    """python3.12 (Amazon Linux 2023): cp312 extension modules, none for another Python."""
    with zipfile.ZipFile(plan.zip_path) as archive:
        extensions = [n for n in archive.namelist() if ".cpython-3" in n and n.endswith(".so")]
    assert extensions
    assert all(".cpython-312-x86_64-linux-gnu.so" in n for n in extensions), \
        [n for n in extensions if ".cpython-312-" not in n][:5]
    assert any(n.startswith("numpy/") for n in extensions)
    assert any(n.startswith("onnxruntime/") for n in
               zipfile.ZipFile(plan.zip_path).namelist())


def _imported_modules(source: str) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules.add(node.module)
    return modules


# Optional parts of kept packages that do import protobuf; Relais never imports them.
UNUSED_OPTIONAL = ("onnxruntime/transformers/", "onnxruntime/tools/",
                   "onnxruntime/quantization/", "aws_lambda_powertools/utilities/kafka/")


def test_nothing_kept_imports_what_was_pruned(plan):
    offenders = []
    with zipfile.ZipFile(plan.zip_path) as archive:
        for name in archive.namelist():
            if (not name.endswith(".py") or name.startswith(MODEL_PREFIX)
                    or name.startswith(UNUSED_OPTIONAL)):
                continue
            try:
                modules = _imported_modules(archive.read(name).decode("utf-8", "replace"))
            except SyntaxError:
                continue
            for module in modules:
                if any(module == p or module.startswith(p + ".") for p in PRUNED_MODULES):
                    offenders.append(f"{name}: {module}")
    assert not offenders, offenders[:20]
    pruned = plan.report["package"]["pruned_bytes"]
    assert {"botocore", "grpcio", "huggingface-hub"} <= set(pruned)

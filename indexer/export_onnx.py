"""Export the embedding model to ONNX for the API Lambda (which cannot carry torch).

    python -m indexer.export_onnx [DIR]   (default: chalicelib/model, packaged by Chalice)
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "chalicelib" / "model"


def export(target: Path, model_name: str = "all-MiniLM-L6-v2") -> Path:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModel

    from chalicelib.adapters.embedders import model_dir

    source = Path(model_dir(model_name))
    base = AutoModel.from_pretrained(str(source)).eval()

    class Encoder(torch.nn.Module):
        """Names the three inputs, so the graph's signature is stable across versions."""

        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids).last_hidden_state

    target.mkdir(parents=True, exist_ok=True)
    sample = torch.ones(1, 8, dtype=torch.long)
    axes = {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
            "token_type_ids": {0: "batch", 1: "tokens"},
            "last_hidden_state": {0: "batch", 1: "tokens"}}
    partial = target / "model.onnx.partial"
    torch.onnx.export(Encoder(base).eval(), (sample, sample, torch.zeros_like(sample)),
                      str(partial), input_names=["input_ids", "attention_mask", "token_type_ids"],
                      output_names=["last_hidden_state"], dynamic_axes=axes, opset_version=17,
                      dynamo=False)
    # Half precision halves the file (90 -> 45 MB) so the API package stays under Lambda's
    # 250 MB; inputs and outputs stay float32, and vectors still match (cosine > 0.999).
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    onnx.save(convert_float_to_float16(onnx.load(str(partial)), keep_io_types=True),
              str(partial))
    partial.replace(target / "model.onnx")
    shutil.copy(source / "tokenizer.json", target / "tokenizer.json")
    return target


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    target = export(Path(argv[0]) if argv else DEFAULT_DIR)
    print(f"exported to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

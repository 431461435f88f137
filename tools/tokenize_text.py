#!/usr/bin/env python3
"""Tokenise text files into the token file format of `zplan --run --data` (docs/runtime.md,
"Training data"), with the model's own tokenizer.

    python3 tools/tokenize_text.py --tokenizer Qwen/Qwen3-0.6B --out train.bin corpus.txt
    python3 tools/tokenize_text.py --tokenizer ./my-model --split blank-line \\
        --eval-fraction 0.05 --eval-out eval.bin --out train.bin book1.txt book2.txt

Writes OUT (little-endian uint16 ids when the vocabulary fits in 65536, else uint32) and the
sidecar OUT.json: {"dtype", "eos", "vocab", "tokenizer", "documents"}. Each document is followed
by the tokenizer's end-of-sequence id, which marks the boundary. Documents are whole input files
(--split file, default), paragraphs separated by blank lines (--split blank-line) or lines
(--split line). --eval-fraction F puts the last F of the documents in --eval-out (held-out data for
--eval-data), with its own sidecar.

--tokenizer takes what transformers.AutoTokenizer.from_pretrained takes (a hub name or a local
directory) and needs the transformers package. --byte-level needs nothing: ids are the UTF-8
bytes (vocab 256, no end-of-sequence id), for tests and byte-level models.
"""
import argparse
import json
import os
import sys
from array import array


def split_documents(text, how):
    if how == "file":
        return [text] if text.strip() else []
    if how == "line":
        return [line for line in text.splitlines() if line.strip()]
    paragraphs, current = [], []
    for line in text.splitlines():
        if line.strip():
            current.append(line)
        elif current:
            paragraphs.append("\n".join(current))
            current = []
    if current:
        paragraphs.append("\n".join(current))
    return paragraphs


def write_tokens(path, documents, eos, vocab, tokenizer_name):
    """documents: lists of ids. Writes path (to path.tmp, then renamed) and path.json."""
    dtype = "uint16" if vocab <= 65536 else "uint32"
    width = 2 if dtype == "uint16" else 4
    ids = array(next(c for c in "HIL" if array(c).itemsize == width))
    for doc in documents:
        ids.extend(doc)
        if eos is not None:
            ids.append(eos)
    if sys.byteorder == "big":
        ids.byteswap()
    with open(path + ".tmp", "wb") as f:
        ids.tofile(f)
    os.replace(path + ".tmp", path)
    sidecar = {"dtype": dtype, "eos": eos, "vocab": vocab, "tokenizer": tokenizer_name,
               "documents": len(documents)}
    with open(path + ".json", "w") as f:
        json.dump(sidecar, f, indent=1)
        f.write("\n")
    print(f"tokenize_text: wrote {path}: {len(ids)} tokens of {dtype}, {len(documents)} documents"
          f" (sidecar {path}.json)", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("inputs", nargs="+", help="UTF-8 text files")
    ap.add_argument("--out", required=True, help="token file to write (and OUT.json)")
    source = ap.add_mutually_exclusive_group(required=True)
    source.add_argument("--tokenizer", help="AutoTokenizer name or directory (the model's own)")
    source.add_argument("--byte-level", action="store_true", help="ids = UTF-8 bytes, vocab 256")
    ap.add_argument("--split", choices=["file", "blank-line", "line"], default="file",
                    help="what one document is (default: one input file)")
    ap.add_argument("--eval-fraction", type=float, default=0.0,
                    help="fraction of the documents (the last ones) written to --eval-out")
    ap.add_argument("--eval-out", help="held-out token file for --eval-data")
    args = ap.parse_args()
    if not 0.0 <= args.eval_fraction < 1.0:
        ap.error("--eval-fraction must be in [0, 1)")
    if (args.eval_fraction > 0) != bool(args.eval_out):
        ap.error("--eval-fraction and --eval-out go together")

    texts = []
    for name in args.inputs:
        try:
            with open(name, encoding="utf-8") as f:
                texts.append(f.read())
        except (OSError, UnicodeDecodeError) as e:
            print(f"tokenize_text: {name}: {e}", file=sys.stderr)
            return 2
    documents = [d for text in texts for d in split_documents(text, args.split)]
    if not documents:
        print("tokenize_text: the inputs hold no text", file=sys.stderr)
        return 2

    if args.byte_level:
        # No id is free to mark a boundary, so documents keep the newlines that separated them.
        tail = {"file": "", "blank-line": "\n\n", "line": "\n"}[args.split]
        encode, eos, vocab, name = (lambda s: list((s + tail).encode("utf-8"))), None, 256, "byte-level"
    else:
        try:
            from transformers import AutoTokenizer
        except ImportError:
            print("tokenize_text: --tokenizer needs the transformers package (pip install transformers)",
                  file=sys.stderr)
            return 2
        tok = AutoTokenizer.from_pretrained(args.tokenizer)
        eos, vocab, name = tok.eos_token_id, len(tok), args.tokenizer
        if eos is None:
            print(f"tokenize_text: {args.tokenizer} has no eos_token_id to mark document ends",
                  file=sys.stderr)
            return 2
        encode = lambda s: tok(s, add_special_tokens=False)["input_ids"]

    held = int(len(documents) * args.eval_fraction)
    if args.eval_fraction > 0 and held == 0:
        print(f"tokenize_text: {len(documents)} documents leave none for --eval-fraction "
              f"{args.eval_fraction}; use --split blank-line or line, or more text", file=sys.stderr)
        return 2
    ids = [encode(d) for d in documents]
    train, evaluation = ids[:len(ids) - held], ids[len(ids) - held:]
    write_tokens(args.out, train, eos, vocab, name)
    if held:
        write_tokens(args.eval_out, evaluation, eos, vocab, name)
    return 0


if __name__ == "__main__":
    sys.exit(main())

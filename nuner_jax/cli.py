"""The one entry point: `nuner-jax <command> ...`. It only parses arguments and calls library functions."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence


def _convert_hf_to_flax(args: argparse.Namespace) -> None:
    from nuner_jax.convert.flax_checkpoint import save_flax_encoder
    from nuner_jax.convert.hf import load_encoder
    from nuner_jax.models.offline import resolve_model_name

    model, report = load_encoder(resolve_model_name(args.src), strict=not args.allow_missing)
    print(report.summary())
    print(f"wrote {save_flax_encoder(model, args.dst)}")


def _convert_flax_to_hf(args: argparse.Namespace) -> None:
    from nuner_jax.convert.flax_checkpoint import load_flax_encoder
    from nuner_jax.convert.hf import export_encoder
    from nuner_jax.models.offline import resolve_model_name

    model = load_flax_encoder(args.src)
    tok = resolve_model_name(args.tokenizer_from) if args.tokenizer_from else None
    print(f"wrote {export_encoder(model, args.dst, tokenizer_from=tok)}")


def _add_convert(sub: argparse._SubParsersAction) -> None:
    conv = sub.add_parser("convert", help="Hugging Face <-> Flax encoder checkpoints")
    csub = conv.add_subparsers(dest="direction", required=True)
    a = csub.add_parser("hf-to-flax", help="HF directory or hub id (or 'minilm') -> Flax/Orbax directory")
    a.add_argument("src")
    a.add_argument("dst")
    a.add_argument("--allow-missing", action="store_true", help="keep random init for missing tensors")
    a.set_defaults(func=_convert_hf_to_flax)
    b = csub.add_parser("flax-to-hf", help="Flax/Orbax directory -> HF directory for transformers.AutoModel")
    b.add_argument("src")
    b.add_argument("dst")
    b.add_argument("--tokenizer-from", help="HF directory whose tokenizer files are copied along")
    b.set_defaults(func=_convert_flax_to_hf)


_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [_add_convert]


def _register_late_commands() -> None:
    """Commands in other modules register themselves here (keeps this file a thin dispatcher)."""
    from nuner_jax import commands

    _COMMANDS.extend(add for add in commands.REGISTRY if add not in _COMMANDS)  # main() may run twice


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nuner-jax", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for add in _COMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    _register_late_commands()
    argv = list(sys.argv[1:] if argv is None else argv)
    args, rest = build_parser().parse_known_args(argv)
    rest = [a for a in rest if a != "--"]
    if rest and not getattr(args, "accepts_config_flags", False):
        build_parser().error(f"unrecognised arguments: {' '.join(rest)}")
    args.rest = rest
    try:
        args.func(args)
    except (FileNotFoundError, ValueError, ImportError) as e:
        print(f"nuner-jax {args.command}: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

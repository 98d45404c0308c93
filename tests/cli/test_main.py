"""The CLI's shared contract: global options anywhere, one-line errors, no tracebacks, exit codes."""

from __future__ import annotations

import logging

import pytest

from cxr_miliary.cli.main import COMMANDS, build_parser, main


@pytest.mark.parametrize("argv", [["--quiet", "info", "x"], ["info", "x", "--quiet"], ["info", "--quiet", "x"]])
def test_global_options_before_or_after_the_command(argv):
    args = build_parser().parse_args(argv)
    assert args.quiet is True and args.debug is False and args.image == "x"


def test_every_command_takes_the_global_options():
    parser = build_parser()
    for name in COMMANDS:
        if name in ("train", "train-lungs", "manifest"):
            continue  # train forwards everything to LightningCLI; manifest takes them per source (below)
        extra = {
            "predict": ["img"],
            "info": ["img"],
            "score": ["img", "--out", "o.csv"],
            "evaluate": ["--manifest", "m", "--out", "o"],
            "phantom": ["--n", "1", "--out", "o"],
            "prepare": ["--manifest", "m", "--size", "8", "--out", "o"],
            "export-bundle": ["c", "--out", "o"],
            "export": ["--weights", "w", "--onnx", "o.onnx"],
            "reference": ["--weights", "w", "--manifest", "m"],
            "insert": ["img", "--out", "o"],
            "serve": ["--port", "11112"],
            "cv": ["--config", "c.yaml", "--out", "o"],
            "audit": ["--manifest", "m"],
            "review": ["r.csv", "--out", "r.html"],
            "train-refiner": ["fit", "--data", "d.npz", "--lungs", "l"],
        }.get(name, [])
        assert parser.parse_args([name, *extra, "--debug"]).debug is True, name
    assert parser.parse_args(["manifest", "csv", "--table", "t", "--path-col", "p", "--label-col", "l", "--out", "o", "--quiet"]).quiet


def test_unexpected_failures_are_one_line_exit_3(monkeypatch, capsys):
    import cxr_miliary.cli.info as info

    def boom(args):
        raise RuntimeError("something broke")

    monkeypatch.setattr(info, "run", boom)  # register() binds the module's run when the parser is built
    assert main(["info", "x"]) == 3
    err = capsys.readouterr().err
    assert err.startswith("error: unexpected failure (RuntimeError: something broke)") and "Traceback" not in err
    with pytest.raises(RuntimeError):
        main(["info", "x", "--debug"])  # --debug shows the real traceback
    logging.getLogger().handlers.clear()


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["score"])
    assert exc.value.code == 2 and capsys.readouterr().err.startswith("error: ")
    assert main([]) == 2


def test_weights_named_by_the_environment_must_exist(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CXR_MILIARY_WEIGHTS", str(tmp_path / "typo"))
    assert main(["--quiet", "predict", str(tmp_path / "x.png")]) == 2  # the bundle is looked for before the image
    assert f"no bundle at {tmp_path / 'typo'}" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("CXR_MILIARY_WEIGHTS", str(tmp_path / "empty"))
    assert main(["--quiet", "score", str(tmp_path), "--out", str(tmp_path / "s.csv")]) == 2
    assert "no bundle at" in capsys.readouterr().err


def test_a_lung_bundle_named_by_the_environment_must_exist(tiny_bundle, tmp_path, monkeypatch, capsys):
    from cxr_miliary.explain.lungs import default_segmenter

    monkeypatch.setenv("CXR_MILIARY_LUNGS", str(tmp_path / "typo"))
    default_segmenter.cache_clear()
    try:
        assert main(["--quiet", "score", str(tmp_path), "--out", str(tmp_path / "s.csv"), "--weights", str(tiny_bundle)]) == 2
        assert "no lung bundle at" in capsys.readouterr().err
    finally:
        monkeypatch.delenv("CXR_MILIARY_LUNGS")
        default_segmenter.cache_clear()


def test_unexpected_failures_keep_program_names_and_lose_values(monkeypatch, capsys):
    import cxr_miliary.cli.info as info

    def boom(args):
        raise AttributeError("'NoneType' object has no attribute 'shape' (value 'O'LEARY^JOHN')")

    monkeypatch.setattr(info, "run", boom)
    parser_run = main(["info", "x.png"])
    err = capsys.readouterr().err
    assert parser_run == 3 and "'NoneType' object has no attribute 'shape'" in err and "LEARY" not in err

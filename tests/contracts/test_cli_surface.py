"""The CLI answers --help for every verb (a broken import or signature shows up here first)."""

from typer.testing import CliRunner

from casegraph.cli import app

runner = CliRunner()


def test_every_verb_has_help():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for verb in ("init", "ingest", "status", "schema", "rejects", "export", "synth", "demo", "eval"):
        assert verb in result.output
        assert runner.invoke(app, [verb, "--help"]).exit_code == 0, verb

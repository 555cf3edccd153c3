"""The engine is one setting for every stage: [engine] name, CASEGRAPH_ENGINE or --engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from casegraph.errors import EngineError, SettingsError
from casegraph.settings import load_settings
from casegraph.store import open_store, require_engine


@pytest.mark.parametrize("old", ["[store]\nengine = 'spark'\n", "[resolve]\nengine = 'spark'\n"])
def test_a_second_engine_setting_is_refused_with_the_one_to_use(tmp_path: Path, old: str) -> None:
    toml = tmp_path / "casegraph.toml"
    toml.write_text(old)
    with pytest.raises(SettingsError, match=r"\[engine\] name"):
        load_settings(toml)


def test_the_environment_and_the_file_choose_the_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    toml = tmp_path / "casegraph.toml"
    toml.write_text("[engine]\nname = 'spark'\n")
    assert load_settings(toml).engine.name == "spark"
    monkeypatch.setenv("CASEGRAPH_ENGINE", "duckdb")
    assert load_settings(toml).engine.name == "duckdb"
    monkeypatch.setenv("CASEGRAPH_ENGINE", "oracle")
    with pytest.raises(SettingsError, match="engine"):
        load_settings(toml)


def test_a_stage_refuses_an_engine_it_does_not_run_on(settings) -> None:
    store = open_store(settings)
    try:
        require_engine(store, "resolve", ("duckdb", "spark"))
        with pytest.raises(EngineError, match="linkage does not run on the duckdb engine yet"):
            require_engine(store, "linkage", ("spark",))
    finally:
        store.close()


def test_a_server_store_is_not_combined_with_the_spark_engine(settings) -> None:
    settings.engine.name = "spark"
    with pytest.raises(EngineError, match="server store computes its stage runs in DuckDB"):
        open_store(settings, "postgresql://localhost:1/none")


def test_a_file_verb_refuses_the_spark_engine_rather_than_run_in_process(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from casegraph.cli import app

    points = tmp_path / "points.csv"
    points.write_text("x,y,date\n0,0,2024-01-01\n10,0,2024-01-02\n500,0,2024-01-09\n")
    ran = CliRunner().invoke(app, ["--engine", "spark", "--json", "trends", "knox", str(points)])
    assert ran.exit_code == 2
    assert "no spark version" in ran.output
    ran = CliRunner().invoke(app, ["--json", "trends", "knox", str(points), "--perms", "9"])
    assert ran.exit_code == 0, ran.output
    assert '"engine": "in-process"' in ran.output

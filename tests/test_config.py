"""The settings file (TOML) and --theme: errors are one line with the file and line, a remapped key works and
the help screen shows the keys in force, the high-contrast theme applies."""

from pathlib import Path

import pytest

from kvmtui.cli import main
from kvmtui.config import load_config
from kvmtui.scenario import ScenarioError
from kvmtui.tui.app import KvmApp, settings_problem
from kvmtui.tui.screens.help import HelpScreen

ROM = str(Path(__file__).parent.parent / "samples" / "rom.yaml")


def test_no_file_means_defaults(tmp_path, monkeypatch):
    monkeypatch.delenv("KVMTUI_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    c = load_config()
    assert c.path is None and c.theme is None and c.keymap == {} and c.plain_words


def test_the_file_under_the_platform_config_dir_is_read(tmp_path, monkeypatch):
    monkeypatch.delenv("KVMTUI_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    (tmp_path / "kvmtui").mkdir()
    (tmp_path / "kvmtui" / "config.toml").write_text('theme = "high-contrast"\nplain_words = false\n[keymap]\nstep = "n, j"\n')
    c = load_config()
    assert c.theme == "high-contrast" and not c.plain_words and c.keymap == {"step": "n,j"}


@pytest.mark.parametrize(("text", "where", "what"), [
    ('theme = "x\n', ":1:", "not valid TOML"),
    ('colour = "red"\n', ":1:", "unknown setting 'colour'"),
    ('\nplain_words = "yes"\n', ":2:", "plain_words must be true or false"),
    ('[keymap]\nstep = 3\n', ":1:", "keymap must be a table"),
])
def test_bad_settings_are_one_line_with_file_and_line(tmp_path, text, where, what):
    f = tmp_path / "c.toml"
    f.write_text(text)
    with pytest.raises(ScenarioError) as e:
        load_config(str(f))
    assert str(f) + where in str(e.value) and what in str(e.value)


def test_unknown_theme_or_binding_id_is_refused_before_the_app_starts(tmp_path, capsys):
    f = tmp_path / "c.toml"
    f.write_text('[keymap]\nstepp = "j"\n')
    assert main([ROM, "--config", str(f)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown binding id 'stepp'" in err and str(f) in err
    assert main([ROM, "--theme", "neon", "--config", str(tmp_path / "missing.toml")]) == 2
    assert "config file not found" in capsys.readouterr().err
    f.write_text("")
    assert main([ROM, "--theme", "neon", "--config", str(f)]) == 2
    assert "unknown theme 'neon'" in capsys.readouterr().err
    assert settings_problem("high-contrast", {"step": "j"}) is None


@pytest.mark.asyncio
async def test_a_remapped_key_steps_and_the_help_shows_the_keys_in_force():
    app = KvmApp(ROM, theme="high-contrast", keymap={"step": "j", "plain_words": "W"})
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.theme == "high-contrast"
        assert app.current_theme.background.upper() in ("#000000", "#000")
        await pilot.press("j")
        assert app.index == 1
        await pilot.press("n")  # n is no longer bound to step
        assert app.index == 1
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        body = str(app.screen.query_one("Markdown").source)
        assert "| `j` | Step (remapped)" in body and "| `W` | Plain words (remapped)" in body
        assert "Theme: `high-contrast`" in body

"""The app's actions live by job in tui/actions/: every action any of them defines is bound to a key (in the
one BINDINGS list the footer, help and palette read), and the palette offers each one."""

import inspect
from pathlib import Path

import pytest

from kvmtui.tui.actions import eras, files, lesson, navigate, stepping, views
from kvmtui.tui.actions.base import AppCore
from kvmtui.tui.app import KvmApp

ROM = Path(__file__).parent.parent / "samples" / "rom.yaml"
GROUPS = (stepping, navigate, eras, files, lesson, views)


def defined_actions() -> set[str]:
    """The actions written in kvmtui (the mixins and the app), not Textual's own."""
    names = set()
    for cls in KvmApp.__mro__:
        if cls.__module__.startswith("kvmtui."):
            names |= {n[len("action_"):] for n, _ in inspect.getmembers(cls, inspect.isfunction)
                      if n.startswith("action_") and n in cls.__dict__}
    return names


def test_every_action_of_every_group_has_a_key_and_an_id():
    bound = {b.action.split("(")[0] for b in KvmApp.BINDINGS}
    missing = defined_actions() - bound
    assert not missing, f"actions without a key: {sorted(missing)}"
    assert all(b.id and b.description and b.tooltip for b in KvmApp.BINDINGS)
    ids = [b.id for b in KvmApp.BINDINGS]
    assert len(ids) == len(set(ids))


def test_each_group_brings_its_own_keys_and_the_app_lists_them_all():
    for group in GROUPS:
        assert group.BINDINGS, group.__name__
        assert all(b in KvmApp.BINDINGS for b in group.BINDINGS)
        mixin = next(c for c in KvmApp.__mro__ if c.__module__ == group.__name__)
        assert issubclass(mixin, AppCore)
        for b in group.BINDINGS:  # the group's keys run the group's own actions (tab() is parametrised)
            assert f"action_{b.action.split('(')[0]}" in mixin.__dict__, (group.__name__, b.action)


def test_the_footer_keeps_its_order():
    shown = [b.action for b in KvmApp.BINDINGS if b.show]
    assert shown == ["step", "step_back", "run", "goto", "probe", "help", "quit", "lesson", "address_space", "diff"]


@pytest.mark.asyncio
async def test_the_palette_offers_every_bound_action_but_quit():
    app = KvmApp(str(ROM))
    async with app.run_test(size=(120, 40)):
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {b.description for b in KvmApp.BINDINGS if b.action != "quit"} <= titles

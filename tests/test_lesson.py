"""Lesson mode, driven as a student would: asked before each step with an outcome, a number key answers, the
reveal says right or wrong and why, the status bar keeps the score, a summary ends the lesson."""

from pathlib import Path

import pytest

from kvmtui.cli import build_app_parser
from kvmtui.lesson import ACCESS_CHOICES, ask_for
from kvmtui.runner import ScenarioRun
from kvmtui.scenario import ScenarioError, load_scenario, parse_scenario
from kvmtui.tui.app import KvmApp
from kvmtui.tui.screens.lesson import QuestionScreen, SummaryScreen
from kvmtui.tui.widgets.resolution import Resolution

ROM = str(Path(__file__).parent.parent / "samples" / "rom.yaml")
RO_WRITE = 5


def choice_key(screen: QuestionScreen, outcome: str) -> str:
    return str([c for c, _ in screen.ask.choices].index(outcome) + 1)


def wrong_key(screen: QuestionScreen) -> str:
    return str(next(i for i, (c, _) in enumerate(screen.ask.choices, 1) if c != screen.ask.answer))


@pytest.mark.asyncio
async def test_the_ro_write_is_asked_before_it_is_shown_and_the_reveal_says_why():
    app = KvmApp(ROM, lesson=True)
    async with app.run_test(size=(80, 24)) as pilot:
        while app.index < RO_WRITE - 1:  # answer everything before the write correctly
            await pilot.press("n")
            if isinstance(app.screen, QuestionScreen):
                await pilot.press(choice_key(app.screen, app.screen.ask.answer))
        await pilot.press("n")
        q = app.screen
        assert isinstance(q, QuestionScreen)
        assert app.index == RO_WRITE - 1  # the result is not shown yet: the stepper has not moved
        assert "write 0xfffe0000 /1 = 0x5a" in q.ask.prompt
        assert [c for c, _ in q.ask.choices] == [c for c, _ in ACCESS_CHOICES]  # the engine's outcomes
        await pilot.press(choice_key(q, "mmio"))
        assert app.index == RO_WRITE and not isinstance(app.screen, QuestionScreen)
        right = app.lesson.right
        assert app.lesson.asked == right  # all right so far
        assert f"score {right}/{right}" in str(app.query_one("#status").render())
        note = app.query_one("#narration").source
        assert "✓ Right" in note and "KVM_HVA_ERR_RO_BAD" in note  # why: the step's note
        assert "✓ Right" in app.query_one(Resolution).text


@pytest.mark.asyncio
async def test_a_wrong_answer_counts_and_says_what_it_was():
    app = KvmApp(ROM, lesson=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("n")
        q = app.screen
        assert isinstance(q, QuestionScreen)
        await pilot.press(wrong_key(q))
        assert app.lesson.text() == "score 0/1"
        note = app.query_one("#narration").source
        assert "✗ Not quite" in note and "it was the ioctl succeeds" in note


@pytest.mark.asyncio
async def test_escape_leaves_the_step_unvisited_and_l_toggles_lesson_mode():
    app = KvmApp(ROM)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("l", "n")
        assert isinstance(app.screen, QuestionScreen)
        await pilot.press("escape")
        assert app.index == 0 and app.lesson.asked == 0
        await pilot.press("l", "n")  # off: steps without asking
        assert app.index == 1 and app.lesson is None
        assert "lesson" not in str(app.query_one("#status").render())


@pytest.mark.asyncio
async def test_the_summary_ends_the_lesson():
    app = KvmApp(ROM, lesson=True)
    async with app.run_test(size=(100, 30)) as pilot:
        for _ in range(40):
            if isinstance(app.screen, SummaryScreen):
                break
            if isinstance(app.screen, QuestionScreen):
                await pilot.press(choice_key(app.screen, app.screen.ask.answer) if app.index % 2 else wrong_key(app.screen))
            else:
                await pilot.press("n")
        assert isinstance(app.screen, SummaryScreen)
        text = str(app.screen.query_one("#lesson-summary-body Static").render())
        assert f"{app.lesson.right} of {app.lesson.asked} right" in str(app.screen.query_one(".dialog-title").render())
        assert text.count("step ") == app.lesson.asked and "✗" in text and "✓" in text and "(you said:" in text


SCENARIO = """kvmtui: 1
host: {rom: {size: 4K, prot: r}}
slots: [{slot: 0, gpa: 0, host: rom, flags: [readonly]}]
steps:
  - write: 0x0
    value: 1
    question:
      ask: The slot is read-only. Where does this write go?
      choices: [ok, mmio]
      why: To the VMM, as an MMIO exit.
  - read: 0x0
    question: Does a read of a read-only slot exit?
"""


def test_a_scenario_writes_its_own_question():
    run = ScenarioRun(parse_scenario(SCENARIO))
    ask = ask_for(run, 1, "write 0x0")
    assert ask.prompt == "The slot is read-only. Where does this write go?"
    assert [c for c, _ in ask.choices] == ["ok", "mmio"] and ask.answer == "mmio"
    assert ask.why == "To the VMM, as an MMIO exit."
    read = ask_for(run, 2, "read 0x0")
    assert read.prompt == "Does a read of a read-only slot exit?" and len(read.choices) == len(ACCESS_CHOICES)
    assert "completed" in read.why or "completes" in read.why  # no note: plain words from the chain


@pytest.mark.parametrize(("question", "what"), [
    ("{choices: [ok, bogus]}", "choice 'bogus' is not an outcome of a write step"),
    ("{choices: [ok]}", "at least two choices"),
    ("{asks: x}", "unknown key 'asks'"),
])
def test_a_bad_question_is_refused_with_its_line(question, what):
    text = f"kvmtui: 1\nhost: {{ram: {{size: 4K}}}}\nslots: [{{slot: 0, gpa: 0, host: ram}}]\nsteps:\n  - write: 0x0\n    value: 1\n    question: {question}\n"
    with pytest.raises(ScenarioError) as e:
        parse_scenario(text)
    assert e.value.line == 7 and what in str(e.value)


def test_lesson_flag_and_samples_still_load():
    assert build_app_parser().parse_args(["rom", "--lesson"]).lesson
    assert load_scenario(ROM).steps

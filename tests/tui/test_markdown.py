"""The streamed answer's Markdown view: text appended a few characters at a time shows the same
lines as the whole text rendered at once, a paragraph that never ends is cut into bounded blocks
(so a frame re-renders a bounded amount), and a code block cut in two stays code."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from rich.console import Console
from textual.app import App, ComposeResult

from agent_app_server.tui.markdown import CODE_LINES, SEGMENT_CHARS, MarkdownView, _Markdown, last_block_start

DOCUMENT = (
    "# Result\n\nThe fix is **small**:\n\n1. read `config.toml`\n2. change one line\n\n"
    "```python\nprint('hi')\n\nprint('there')\n```\n\nThen:\n\n- a *list*\n- of two\n\n"
    "> quoted\n> twice\n\n## Table\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nThe end.\n"
)


class Views(App[None]):
    def __init__(self, count: int) -> None:
        super().__init__()
        self.views = [MarkdownView() for _ in range(count)]

    def compose(self) -> ComposeResult:
        yield from self.views


@asynccontextmanager
async def views(count: int, width: int = 70) -> AsyncIterator[tuple[Views, Callable[[], object]]]:
    app = Views(count)
    async with app.run_test(size=(width, 200)) as pilot:
        yield app, pilot.pause


def chunks(text: str, size: int) -> list[str]:
    return [text[index : index + size] for index in range(0, len(text), size)]


async def test_appended_in_pieces_it_shows_what_the_whole_shows() -> None:
    async with views(2) as (app, pause):
        streamed, whole = app.views
        await pause()
        for piece in chunks(DOCUMENT, 3):
            streamed.append(piece)
        whole.append(DOCUMENT)
        await pause()
        assert streamed.source == whole.source == DOCUMENT
        assert streamed.text_lines() == whole.text_lines()
        shown = "\n".join(whole.text_lines())
        for words in ("Result", "The fix is small:", "print('there')", "quoted", "The end."):
            assert words in shown


async def test_blocks_are_spaced_as_rich_spaces_them() -> None:
    async with views(1, width=70) as (app, pause):
        (view,) = app.views
        await pause()
        view.append(DOCUMENT.split("## Table")[0])
        await pause()
        console = Console(width=view.size.width, record=False)
        expected = [
            "".join(segment.text for segment in line).rstrip()
            for line in console.render_lines(_Markdown(DOCUMENT.split("## Table")[0]), pad=False)
        ]
        while expected and not expected[-1]:
            expected.pop()
        assert view.text_lines() == expected


async def test_a_paragraph_that_never_ends_is_cut_into_bounded_blocks() -> None:
    words = [f"w{index} " for index in range(1500)]
    async with views(1) as (app, pause):
        (view,) = app.views
        await pause()
        for piece in chunks("".join(words), 40):
            view.append(piece)
            # What the next frame draws again stays bounded however long the paragraph grows.
            assert len(view.open_block) < SEGMENT_CHARS + 40
        await pause()
        shown = " ".join(view.text_lines()).split()
        assert shown == [word.strip() for word in words]


async def test_a_code_block_cut_in_two_stays_code() -> None:
    code = "".join(f"line_{index} = {index}\n" for index in range(200))
    async with views(1) as (app, pause):
        (view,) = app.views
        await pause()
        for piece in chunks(f"```python\n{code}```\n\nafter\n", 50):
            view.append(piece)
            assert view.open_block.count("\n") <= CODE_LINES + 2
        await pause()
        shown = [line.strip() for line in view.text_lines()]
        assert not any("```" in line for line in shown)
        # One block: its lines in order, with no gap where it was cut, framed by one margin each.
        first = shown.index("line_0 = 0")
        assert shown[first : first + 200] == code.splitlines()
        assert shown[first - 1] == "" and shown[first + 200 : first + 202] == ["", ""]
        assert shown[-1] == "after"


async def test_a_new_width_draws_again() -> None:
    async with views(1, width=80) as (app, pause):
        (view,) = app.views
        await pause()
        view.append("word " * 100)
        await pause()
        wide = len(view.text_lines())
        view.styles.width = 30
        await pause()
        assert len(view.text_lines()) > wide


def test_the_last_block_is_found_by_its_line() -> None:
    assert last_block_start("one\n\ntwo\nmore\n") == len("one\n\n")
    assert last_block_start("only one\nparagraph") == 0
    assert last_block_start("```\nopen fence\n\nstill code") == 0
    assert last_block_start("old\r\rmac\r\nwindows\r\n\r\nlast") == len("old\r\rmac\r\nwindows\r\n\r\n")

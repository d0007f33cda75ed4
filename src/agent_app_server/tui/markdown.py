"""Markdown that grows while it is shown: the agent's streamed answer as one widget of lines.

Owns: cutting a growing Markdown source into finished top-level blocks and the one still open,
rendering each finished block once (Rich's Markdown, at the widget's width) and only the open
block again when text arrives, and serving the lines through Textual's line API. An answer is
one widget however long it grows, so a frame's layout costs the same at its first delta and at
its 20,000th (a widget per paragraph made every frame re-lay out hundreds of them, and the
keystroke echo waited behind it). Layer: tui (Rich, Textual and markdown-it only).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

from markdown_it import MarkdownIt
from rich import markdown as rich_markdown
from rich.console import Console, ConsoleOptions, RenderResult
from textual.geometry import Size
from textual.strip import Strip
from textual.widget import Widget

#: Once the open block holds this many characters, it is cut at its last break and the head is
#: finished, so a frame re-renders at most this much (a 20,000-delta paragraph would otherwise be
#: re-wrapped whole on every frame).
SEGMENT_CHARS = 3000
#: An open code block is cut after this many lines (highlighting costs per line, so a frame
#: re-highlights at most this many); the pieces are drawn as one block.
CODE_LINES = 24
_FENCES = ("```", "~~~")


def split_point(source: str, start: int) -> int:
    """Where to cut ``source`` at or after ``start`` (-1: nowhere yet). A blank line is invisible
    as a cut; a line break or a space shows as a paragraph break, used only when the text has no
    blank line for that long."""
    for separator in ("\n\n", "\n", " "):
        cut = source.rfind(separator, start)
        if cut >= 0:
            return cut + len(separator)
    return start if len(source) >= 2 * SEGMENT_CHARS else -1


def open_fence(source: str) -> str | None:
    """The opening line of a code fence left open at the end of ``source`` (None: none open)."""
    opener = None
    for line in source.splitlines():
        stripped = line.lstrip()
        if stripped.startswith(_FENCES):
            opener = None if opener is not None else stripped
    return opener


class _Heading(rich_markdown.Heading):
    """Headings aligned left, as a transcript reads (Rich centres them, and boxes the first level)."""

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        self.text.justify = "left"
        yield self.text


class _Markdown(rich_markdown.Markdown):
    elements: ClassVar[dict[str, type[Any]]] = {**rich_markdown.Markdown.elements, "heading_open": _Heading}

    def __init__(self, markup: str) -> None:
        # Rich's own __init__ builds a parser per document, a third of rendering a paragraph; one
        # parser (the same rules) serves every block. The attributes are Rich's defaults.
        self.markup = markup
        self.parsed = _PARSER.parse(markup)
        self.code_theme = "monokai"
        self.justify = None
        self.style = "none"
        self.hyperlinks = True
        self.inline_code_lexer = None
        self.inline_code_theme = "monokai"


#: A line's end as markdown-it counts lines (its block map is in lines).
_LINE_END = re.compile(r"\r\n?|\n")
#: Finds top-level block boundaries (Rich parses with the same rules when it renders).
_PARSER = MarkdownIt("commonmark").enable("strikethrough").enable("table")


def last_block_start(source: str) -> int:
    """The offset in ``source`` where its last top-level block starts (0: one block or none)."""
    starts = [token.map[0] for token in _PARSER.parse(source) if token.level == 0 and token.map and token.nesting >= 0]
    if len(starts) < 2:
        return 0
    offset = 0
    for end, _ in zip(_LINE_END.finditer(source), range(starts[-1]), strict=False):
        offset = end.end()
    return offset


@dataclass
class Piece:
    """A block of the document (or part of a code block cut in two), drawn on its own."""

    source: str
    #: Continues a code block cut above it: drawn without the code block's top margin, right
    #: under the piece before (no blank line between them).
    continues_code: bool = False
    #: A code block cut below it: drawn without its bottom margin.
    cut_code: bool = False
    lines: list[Strip] = field(default_factory=list)


class MarkdownView(Widget):
    """A Markdown document drawn as lines; :meth:`append` re-renders only its open last block."""

    DEFAULT_CSS = """
    MarkdownView { height: auto; padding: 0 1; }
    """

    def __init__(self, source: str = "") -> None:
        super().__init__()
        #: The finished pieces, drawn once (again only at a new width), and their lines joined.
        self._finished: list[Piece] = []
        self._finished_lines: list[Strip] = []
        #: The piece still growing: drawn again at each append.
        self._open = Piece("")
        self._width = 0
        #: Everything appended (the pieces can differ: a cut code block is reopened below the cut).
        self.source = ""
        self.append(source)

    @property
    def open_block(self) -> str:
        """The source of the open piece: what the next :meth:`append` draws again."""
        return self._open.source

    def update(self, source: str) -> None:
        """Show ``source`` instead of everything so far."""
        self._finished.clear()
        self._finished_lines.clear()
        self._open = Piece("")
        self.source = ""
        self.append(source)

    def append(self, text: str) -> None:
        if not text:
            return
        lines_before = self._line_count()
        self.source += text
        self._open.source += text
        while (cut := self._cut(self._open.source)) > 0:
            head, tail = self._open.source[:cut], self._open.source[cut:]
            fence = open_fence(head)
            self._finish(Piece(head, self._open.continues_code, fence is not None))
            self._open = Piece(f"{fence}\n{tail}" if fence else tail, continues_code=fence is not None)
        self._draw(self._open)
        self.refresh(layout=self._line_count() != lines_before)

    @staticmethod
    def _cut(source: str) -> int:
        """Where the open piece is cut: before its last block, or, when it is one long block,
        where a frame's redraw stays cheap (0: not cut)."""
        cut = last_block_start(source)
        fence = open_fence(source)
        if cut == 0 and fence is not None and source.count("\n") > CODE_LINES:
            # Code is highlighted line by line, the costliest thing to draw: cut it often.
            cut = source.rfind("\n", 0, len(source) - 1) + 1
        elif cut == 0 and len(source) >= SEGMENT_CHARS:
            cut = split_point(source[:-1], 0)  # a break at the very end would cut nothing off
        if cut >= len(source) or (fence is not None and source[:cut].strip() == fence):
            return 0  # nothing after the cut, or only the fence's opening line before it
        return max(cut, 0)

    def _finish(self, piece: Piece) -> None:
        self._finished.append(piece)
        self._draw(piece)
        self._join(piece)

    def _join(self, piece: Piece) -> None:
        if piece.lines and self._finished_lines and not piece.continues_code:
            self._finished_lines.append(Strip.blank(0))
        self._finished_lines.extend(piece.lines)

    def _draw(self, piece: Piece) -> None:
        """Render ``piece`` at the current width, without blank lines around it."""
        if not self._width or not piece.source.strip():
            piece.lines = []
            return
        console = self.app.console
        options = console.options.update(width=self._width, height=None)
        rendered = console.render_lines(_Markdown(piece.source), options, pad=False)
        lines = [Strip(line) for line in rendered]
        while lines and not lines[-1].cell_length:
            lines.pop()
        first = next((index for index, line in enumerate(lines) if line.cell_length), len(lines))
        lines = lines[first:]
        # A code block's margins are lines of its own background: where it was cut, none.
        if piece.cut_code and lines:
            lines.pop()
        if piece.continues_code and lines:
            lines.pop(0)
        piece.lines = lines

    def _rerender(self, width: int) -> None:
        self._width = width
        self._finished_lines = []
        for piece in self._finished:
            self._draw(piece)
            self._join(piece)
        self._draw(self._open)

    def _gap(self) -> int:
        return 1 if self._finished_lines and self._open.lines and not self._open.continues_code else 0

    def _line_count(self) -> int:
        return len(self._finished_lines) + self._gap() + len(self._open.lines)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        if width != self._width:
            self._rerender(width)
        return self._line_count()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if width != self._width:
            self._rerender(width)
        finished = len(self._finished_lines)
        if y < finished:
            line = self._finished_lines[y]
        else:
            y -= finished + self._gap()
            line = self._open.lines[y] if 0 <= y < len(self._open.lines) else Strip.blank(0)
        style = self.rich_style
        return line.crop_extend(0, width, style).apply_style(style)

    def text_lines(self) -> list[str]:
        """The lines as a reader sees them, without styles (for tests and screen readers)."""
        gap = [Strip.blank(0)] if self._gap() else []
        return [line.text.rstrip() for line in (*self._finished_lines, *gap, *self._open.lines)]

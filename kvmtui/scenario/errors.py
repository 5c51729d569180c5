"""One error, one line: FILE:LINE:COL: what is wrong (what is allowed)."""

from __future__ import annotations


class ScenarioError(Exception):
    def __init__(self, file: str, line: int | None, col: int | None, message: str) -> None:
        self.file = file
        self.line = line
        self.col = col
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.col is not None:
                where += f":{self.col}"
        return f"{where}: {self.message}"

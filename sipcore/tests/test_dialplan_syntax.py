"""validate_source: the portal's save-time check, safe in-process even on hostile source."""

import pytest

from sipcore.dialplan import DialplanSyntaxError, validate_source
from sipcore.dialplan.syntax import (
    MAX_BLOCK_DEPTH,
    MAX_SOURCE_CHARS,
    MAX_STATEMENT_NESTING,
    expose_dynamic_properties,
)

SIPSORCERY_SCRIPT = """\
if sys.Out:
    sys.Dial("${dst}@provider[tr=c]")
else:
    sys.Dial("%s@local" % sys.Username)
sys.Respond(480, "Nobody home")
"""


def test_sipsorcery_style_script_is_valid():
    assert validate_source(SIPSORCERY_SCRIPT) is None


def test_top_level_for_and_def_are_valid():
    assert validate_source("def f(x):\n    return x\nfor i in [1, 2]:\n    f(i)\n") is None


def test_syntax_error_has_line_and_column():
    problem = validate_source('x = 1\nif sys.Out\n    sys.Dial("a@p")\n')
    assert isinstance(problem, DialplanSyntaxError)
    assert (problem.line, problem.column) == (2, 11)
    assert "expected" in problem.message
    assert str(problem).startswith("line 2, column 11: ")


def test_while_is_refused_at_its_position():
    problem = validate_source("x = 1\n  \nfor i in [1]:\n    while x:\n        x = 0\n")
    assert problem == DialplanSyntaxError(
        line=4, column=5, message="cannot use reserved keyword `while`"
    )


@pytest.mark.parametrize(
    ("source", "needle"),
    [
        ('load("//x.star", "y")\n', "`load` is not allowed"),
        ("import os\n", "reserved keyword `import`"),
        ("class A:\n    pass\n", "reserved keyword `class`"),
        ("x = (\n", "unexpected new line"),
    ],
)
def test_forbidden_or_broken_statements(source, needle):
    problem = validate_source(source)
    assert problem is not None and problem.line == 1
    assert needle in problem.message


def test_oversized_source_is_refused_before_parsing():
    problem = validate_source("x = 1\n" * (MAX_SOURCE_CHARS // 6 + 1))
    assert problem is not None and "at most" in problem.message


def test_nul_character_is_refused_with_its_line():
    assert validate_source("x = 1\ny = '\x00'\n") == DialplanSyntaxError(
        line=2, column=1, message="NUL character in the source"
    )


def test_non_text_is_refused():
    assert validate_source(b"x = 1") is not None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "source",
    [
        "x = " + "-" * 60000 + "1\n",
        "x = " + "[" * 30000 + "1" + "]" * 30000 + "\n",
        "x = " + "1+" * 30000 + "1\n",
        "x = " + "not " * 15000 + "1\n",
        "x = " + "lambda:" * 9000 + "1\n",
    ],
)
def test_deep_nesting_is_refused_without_crashing_the_process(source):
    problem = validate_source(source)
    assert problem is not None and "too complex" in problem.message
    assert problem.line == 1


def test_a_statement_at_the_nesting_limit_is_accepted():
    assert validate_source("x = " + "1+" * (MAX_STATEMENT_NESTING - 1) + "1\n") is None


def test_deep_blocks_are_refused():
    source = "".join("    " * depth + "if 1:\n" for depth in range(MAX_BLOCK_DEPTH + 1))
    source += "    " * (MAX_BLOCK_DEPTH + 1) + "pass\n"
    problem = validate_source(source)
    assert problem is not None and "nested deeper" in problem.message


def test_dynamic_properties_become_calls_on_the_same_lines():
    source = (
        "r = sys.Dial('a@p')\n"
        "sys.Respond(sys.LastFailureStatus, sys.LastFailureReason)\n"
        "s = sys.LastFailureStatus()\n"
        "t = 'sys.LastFailureStatus'\n"
    )
    assert expose_dynamic_properties(source) == (
        "r = sys.Dial('a@p')\n"
        "sys.Respond(sys.LastFailureStatus(), sys.LastFailureReason())\n"
        "s = sys.LastFailureStatus()\n"
        "t = 'sys.LastFailureStatus'\n"
    )


def test_dynamic_property_rewrite_leaves_untokenisable_source_alone():
    assert expose_dynamic_properties("x = '''open\n") == "x = '''open\n"


@pytest.mark.parametrize(
    ("source", "line", "column", "bracket"),
    [
        ("x = 1\ny = (\n", 2, 5, "("),
        ('x = 1\nsys.Dial("a@b",\n  ring_timeout=[1, 2]\n', 2, 9, "("),
        ("x = {\n  'a': [1,\n", 2, 8, "["),
    ],
)
def test_unclosed_bracket_at_end_of_input_is_located_where_it_opened(source, line, column, bracket):
    problem = validate_source(source)
    assert (problem.line, problem.column) == (line, column)
    assert f"'{bracket}' is never closed" in problem.message

"""docs/dialogue.md is the table both lines run, not a copy that drifts from it."""
from hotline import dialogue_doc
from hotline.conversation import TABLE


def test_the_readable_dialogue_is_the_table_the_code_runs():
    written = dialogue_doc.PAGE.read_text(encoding="utf-8")
    assert written == dialogue_doc.describe(), "docs/dialogue.md is out of date: run `flask --app app dialogue-table`"


def test_the_page_names_every_state_and_every_choice():
    page = dialogue_doc.describe()
    for name, row in TABLE.items():
        assert f"## `{name}`" in page
        for choice in row.choices:
            assert f"| {choice.key}" in page.split(f"## `{name}`")[1].split("\n## ")[0], (name, choice.key)

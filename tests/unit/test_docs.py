"""Generated documentation stays in step with the code it is generated from."""

from claims._variants import DOC_PATH, tolerance_doc


def test_the_tolerance_page_is_generated_from_the_current_table():
    assert DOC_PATH.is_file(), f"{DOC_PATH} is missing: python -m claims._variants doc"
    assert DOC_PATH.read_text() == tolerance_doc(), f"{DOC_PATH} is stale: python -m claims._variants doc"

"""The builtin catalogue. Importing this package registers every builtin tool in BUILTIN."""

from tiangong.runtime.tools.builtin import (  # noqa: F401 - imported for registration
    agents,
    code,
    data,
    encoding,
    excel,
    files,
    llm_text,
    tables,
    text,
    timeutil,
    utility,
    web,
)

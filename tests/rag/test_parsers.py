"""Text extraction keeps headings, tables and paragraphs, detects encodings, and fails clearly."""

from __future__ import annotations

import io
import json

import docx
import openpyxl
import pytest

from tiangong.runtime.rag.errors import DocumentParseFailed, EmptyDocument, UnsupportedFileType
from tiangong.runtime.rag.parsers import decode_text, parse

# --- building PDFs by hand ------------------------------------------------------------------


def _stream(data: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d %s>>\nstream\n" % (len(data), extra) + data + b"\nendstream"


def _pdf(objects: list[bytes]) -> bytes:
    """A PDF file from its numbered objects (1 is the catalog), with a correct xref table."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def _page_objects(content: bytes, font: bytes) -> list[bytes]:
    return [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        font,
        _stream(content),
    ]


def latin_pdf(lines: list[str]) -> bytes:
    ops = b"BT /F1 12 Tf 72 720 Td 16 TL "
    ops += b" ".join(b"(%s) Tj T*" % line.encode("latin-1") for line in lines) + b" ET"
    font = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
    return _pdf(_page_objects(ops, font))


def chinese_pdf(lines: list[str]) -> bytes:
    """Chinese text the way real PDFs carry it: a Type0 font with Identity-H codes and a
    ToUnicode CMap. Extraction reads only the CMap, so no font file is needed."""
    chars = sorted({ch for line in lines for ch in line})
    ops = b"BT /F1 12 Tf 72 720 Td 16 TL "
    ops += b" ".join(
        b"<" + "".join(f"{ord(ch):04X}" for ch in line).encode() + b"> Tj T*" for line in lines
    )
    ops += b" ET"
    bfchar = "".join(f"<{ord(ch):04X}> <{ord(ch):04X}>\n" for ch in chars)
    cmap = (
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
        "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
        "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
        f"{len(chars)} beginbfchar\n{bfchar}endbfchar\n"
        "endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n"
    ).encode()
    font = b"<< /Type /Font /Subtype /Type0 /BaseFont /SimSun /Encoding /Identity-H " + (
        b"/DescendantFonts [6 0 R] /ToUnicode 7 0 R >>"
    )
    objects = _page_objects(ops, font)
    objects.append(
        b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /SimSun /CIDToGIDMap /Identity "
        b"/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> "
        b"/FontDescriptor 8 0 R /DW 1000 >>"
    )
    objects.append(_stream(cmap))
    objects.append(
        b"<< /Type /FontDescriptor /FontName /SimSun /Flags 4 /FontBBox [0 -141 1000 859] "
        b"/ItalicAngle 0 /Ascent 859 /Descent -141 /CapHeight 700 /StemV 80 >>"
    )
    return _pdf(objects)


# --- PDF ------------------------------------------------------------------------------------


def test_pdf_with_latin_text_is_extracted() -> None:
    doc = parse("paper.pdf", latin_pdf(["Retrieval augmented generation.", "Second line."]))
    assert "Retrieval augmented generation." in doc.text
    assert "Second line." in doc.text
    assert doc.metadata["format"] == "pdf"
    assert doc.metadata["pages"] == 1


def test_pdf_with_chinese_text_is_extracted() -> None:
    doc = parse("报告.pdf", chinese_pdf(["信息检索系统的设计。", "第二段：中文分词。"]))
    assert "信息检索系统的设计。" in doc.text
    assert "第二段：中文分词。" in doc.text


def test_pdf_hard_wrapped_lines_are_rejoined_into_sentences() -> None:
    doc = parse("wrap.pdf", latin_pdf(["The model was trained on", "three datasets.", "Next."]))
    assert "The model was trained on three datasets." in doc.text


def test_pdf_without_text_is_an_empty_document() -> None:
    image_only = _pdf(_page_objects(b"", b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"))
    with pytest.raises(EmptyDocument) as caught:
        parse("scan.pdf", image_only)
    assert caught.value.code == "EMPTY_DOCUMENT"
    assert "OCR" in caught.value.message


def test_corrupt_pdf_fails_to_parse() -> None:
    with pytest.raises(DocumentParseFailed) as caught:
        parse("broken.pdf", b"%PDF-1.4\nthis is not really a pdf at all")
    assert caught.value.code == "DOCUMENT_PARSE_FAILED"
    assert "broken.pdf" in caught.value.message


# --- DOCX -----------------------------------------------------------------------------------


def _docx_bytes() -> bytes:
    document = docx.Document()
    document.core_properties.title = "季度报告"
    document.add_heading("概述", level=1)
    document.add_paragraph("本季度收入增长。")
    document.add_heading("Details", level=2)
    table = document.add_table(rows=2, cols=3)
    for r, row in enumerate([["产品", "数量", "价格"], ["A", "3", "9.5"]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.add_paragraph("After the table.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_docx_keeps_headings_tables_and_order() -> None:
    doc = parse("report.docx", _docx_bytes())
    assert doc.title == "季度报告"
    assert doc.text.split("\n\n") == [
        "# 概述",
        "本季度收入增长。",
        "## Details",
        "产品 | 数量 | 价格\nA | 3 | 9.5",
        "After the table.",
    ]


def test_docx_merged_cells_appear_once() -> None:
    document = docx.Document()
    table = document.add_table(rows=1, cols=3)
    merged = table.cell(0, 0).merge(table.cell(0, 1))
    merged.text = "wide"
    table.cell(0, 2).text = "narrow"
    buffer = io.BytesIO()
    document.save(buffer)
    assert parse("m.docx", buffer.getvalue()).text == "wide | narrow"


def test_corrupt_docx_fails_to_parse() -> None:
    with pytest.raises(DocumentParseFailed):
        parse("broken.docx", b"PK\x03\x04 definitely not a zip archive")


# --- spreadsheets, CSV, JSON ----------------------------------------------------------------


def test_xlsx_sheets_become_headings_and_rows_become_lines() -> None:
    workbook = openpyxl.Workbook()
    first = workbook.active
    assert first is not None
    first.title = "销售"
    first.append(["地区", "金额"])
    first.append(["华东", 1200.0])
    first.append([None, None])
    second = workbook.create_sheet("Notes")
    second.append(["ok", None, None])
    workbook.create_sheet("Empty")
    buffer = io.BytesIO()
    workbook.save(buffer)
    doc = parse("book.xlsx", buffer.getvalue())
    assert doc.text == "# 销售\n地区 | 金额\n华东 | 1200\n\n# Notes\nok"
    assert doc.metadata["sheets"] == 3


def test_csv_rows_become_lines_in_gbk() -> None:
    data = "名称,数量\n苹果,3\n\n香蕉,5\n".encode("gbk")
    assert parse("fruit.csv", data).text == "名称 | 数量\n苹果 | 3\n香蕉 | 5"


def test_csv_delimiter_is_sniffed() -> None:
    assert parse("x.csv", b"a;b;c\n1;2;3\n").text == "a | b | c\n1 | 2 | 3"


def test_json_is_flattened_to_path_value_lines() -> None:
    data = {"name": "天宫", "tags": ["rag", "agent"], "owner": {"id": 7, "active": True}}
    doc = parse("meta.json", json.dumps(data, ensure_ascii=False).encode())
    assert doc.text == (
        "name: 天宫\n\ntags[0]: rag\ntags[1]: agent\n\nowner.id: 7\nowner.active: true"
    )


def test_invalid_json_fails_to_parse() -> None:
    with pytest.raises(DocumentParseFailed):
        parse("bad.json", b'{"a": ')


# --- HTML, markdown, text -------------------------------------------------------------------


def test_html_keeps_headings_paragraphs_lists_and_tables() -> None:
    page = """<html><head><title>帮助</title><style>p {color: red}</style></head><body>
    <h1>安装</h1><p>先下载，<b>再</b>安装。</p><script>alert(1)</script>
    <ul><li>第一步</li><li>第二步</li></ul>
    <h2>Ports</h2><table><tr><th>name</th><th>port</th></tr><tr><td>api</td><td>8000</td></tr></table>
    <p>line one<br>line two</p><!-- a comment --></body></html>"""
    doc = parse("help.html", page.encode())
    assert doc.title == "帮助"
    assert doc.text.split("\n\n") == [
        "# 安装",
        "先下载，再安装。",
        "- 第一步",
        "- 第二步",
        "## Ports",
        "name | port\napi | 8000",
        "line one\nline two",
    ]


def test_html_meta_charset_is_honoured() -> None:
    page = '<html><head><meta charset="gbk"></head><body><p>中文页面</p></body></html>'
    assert parse("gbk.htm", page.encode("gbk")).text == "中文页面"


def test_markdown_is_kept_with_its_headings() -> None:
    text = "# 指南\n\n正文。\n\n## 小节\n\n- 要点\n"
    doc = parse("guide.md", text.encode())
    assert doc.text == text.strip()
    assert doc.title == "指南"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("中文文本，UTF-8。".encode(), "中文文本，UTF-8。"),
        ("\ufeff带BOM的文本".encode(), "带BOM的文本"),
        ("简体中文GBK编码".encode("gbk"), "简体中文GBK编码"),
        ("繁體與罕见字：𠀀".encode("gb18030"), "繁體與罕见字：𠀀"),
        ("utf-16 text".encode("utf-16"), "utf-16 text"),
    ],
)
def test_text_encodings_are_detected(data: bytes, expected: str) -> None:
    assert parse("notes.txt", data).text == expected


def test_undecodable_bytes_never_crash() -> None:
    assert "\ufffd" in decode_text(b"caf\xe9 \xff\xfe\x80 ok")


def test_text_newlines_and_blank_runs_are_normalized() -> None:
    assert parse("a.txt", b"one\r\ntwo\r\n\r\n\r\n\r\nthree  \n").text == "one\ntwo\n\nthree"


# --- choosing the format and failures -------------------------------------------------------


def test_content_type_is_used_when_the_extension_says_nothing() -> None:
    doc = parse("upload", b"<p>hello</p>", "text/html; charset=utf-8")
    assert doc.text == "hello"
    assert doc.metadata["format"] == "html"


def test_extension_wins_over_content_type() -> None:
    assert parse("data.csv", b"a,b\n1,2\n", "application/octet-stream").text == "a | b\n1 | 2"


@pytest.mark.parametrize(
    ("filename", "content_type"),
    [("photo.png", "image/png"), ("legacy.doc", None), ("blob", "application/octet-stream")],
)
def test_unsupported_types_are_refused(filename: str, content_type: str | None) -> None:
    with pytest.raises(UnsupportedFileType) as caught:
        parse(filename, b"\x89PNG\r\n", content_type)
    assert caught.value.code == "UNSUPPORTED_FILE_TYPE"
    assert "docx" in caught.value.message


@pytest.mark.parametrize("filename", ["empty.txt", "empty.pdf", "empty.docx", "blank.md"])
def test_empty_files_are_empty_documents(filename: str) -> None:
    with pytest.raises(EmptyDocument) as caught:
        parse(filename, b"" if filename != "blank.md" else b"  \n\n \t\n")
    assert caught.value.code == "EMPTY_DOCUMENT"


def test_html_with_only_scripts_is_an_empty_document() -> None:
    with pytest.raises(EmptyDocument):
        parse("x.html", b"<html><script>var a = 1;</script></html>")

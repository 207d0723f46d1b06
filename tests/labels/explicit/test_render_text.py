"""Adding a GB 45438 notice to text and Markdown files."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from deepguard.config import Limits
from deepguard.errors import MediaLimitExceeded, UnsupportedFormat
from deepguard.labels.explicit.phrases import find_labels
from deepguard.labels.explicit.render_image import InvalidLabelStyle
from deepguard.labels.explicit.render_text import (
    DEFAULT_NOTICE_EN,
    DEFAULT_NOTICE_ZH,
    TextNoticeStyle,
    add_notice,
    render_text_file,
)

ZH = DEFAULT_NOTICE_ZH


def _render(
    tmp_path: Path, data: bytes, name: str = "in.txt", **style: object
) -> bytes:
    src, dst = tmp_path / name, tmp_path / f"out-{name}"
    src.write_bytes(data)
    render_text_file(src, dst, style=TextNoticeStyle(**style))  # type: ignore[arg-type]
    assert src.read_bytes() == data
    return dst.read_bytes()


def test_prefix_is_a_first_line_with_both_elements(tmp_path: Path) -> None:
    out = _render(tmp_path, "第一段。\n第二段。\n".encode())
    assert out == f"{ZH}\n第一段。\n第二段。\n".encode()
    first = out.decode().splitlines()[0]
    assert [m.both_elements for m in find_labels(first)] == [True]


def test_suffix_and_both(tmp_path: Path) -> None:
    body = b"line one\nline two"  # no final newline
    assert _render(tmp_path, body, placement="suffix") == (
        b"line one\nline two\n" + ZH.encode() + b"\n"
    )
    both = _render(tmp_path, body, placement="both", notice=DEFAULT_NOTICE_EN)
    assert (
        both == b"[AI-generated content]\nline one\nline two\n[AI-generated content]\n"
    )


def test_crlf_line_endings_are_kept(tmp_path: Path) -> None:
    out = _render(tmp_path, b"a\r\nb\r\n", placement="both")
    assert out == ZH.encode() + b"\r\na\r\nb\r\n" + ZH.encode() + b"\r\n"
    assert b"\n" not in out.replace(b"\r\n", b"")


@pytest.mark.parametrize(
    ("encoding", "bom"),
    [
        ("utf-8", codecs.BOM_UTF8),
        ("utf-16-le", codecs.BOM_UTF16_LE),
        ("utf-16-be", codecs.BOM_UTF16_BE),
        ("gb18030", b""),
    ],
)
def test_encoding_and_bom_are_kept(tmp_path: Path, encoding: str, bom: bytes) -> None:
    body = "人工智能技术的发展。\n第二行。\n"
    src, dst = tmp_path / "in.txt", tmp_path / "out.txt"
    src.write_bytes(bom + body.encode(encoding))
    result = render_text_file(src, dst, style=TextNoticeStyle(placement="both"))
    raw = dst.read_bytes()
    assert raw.startswith(bom)
    assert raw[len(bom) :].decode(encoding) == f"{ZH}\n{body}{ZH}\n"
    assert result.encoding == encoding
    assert result.added == ("prefix", "suffix")


def test_markdown_notice_goes_after_front_matter(tmp_path: Path) -> None:
    text = '---\ntitle: 报告\nAIGC: {"Label": "1"}\n---\n# 标题\n\n正文。\n'
    out = _render(tmp_path, text.encode(), name="post.md", placement="both").decode()
    assert out == (
        '---\ntitle: 报告\nAIGC: {"Label": "1"}\n---\n'
        f"{ZH}\n\n# 标题\n\n正文。\n\n{ZH}\n"
    )


def test_toml_front_matter_and_forced_markdown(tmp_path: Path) -> None:
    text = '+++\ntitle = "x"\n+++\nbody\n'
    out = _render(tmp_path, text.encode(), name="page.txt", markdown=True).decode()
    assert out == f'+++\ntitle = "x"\n+++\n{ZH}\n\nbody\n'


def test_plain_text_starting_with_dashes_is_not_front_matter() -> None:
    text = "---\nnot closed\n"
    assert add_notice(text, markdown=True) == f"{ZH}\n\n---\nnot closed\n"
    assert add_notice(text) == f"{ZH}\n---\nnot closed\n"


def test_front_matter_without_final_newline_gets_one() -> None:
    assert add_notice("---\na: 1\n---", markdown=True) == f"---\na: 1\n---\n{ZH}\n\n"


def test_adding_twice_changes_nothing(tmp_path: Path) -> None:
    once = _render(tmp_path, b"hello\n", placement="both")
    src, dst = tmp_path / "again.txt", tmp_path / "again-out.txt"
    src.write_bytes(once)
    result = render_text_file(src, dst, style=TextNoticeStyle(placement="both"))
    assert dst.read_bytes() == once
    assert result.added == ()


def test_empty_file_gets_one_notice(tmp_path: Path) -> None:
    assert _render(tmp_path, b"", placement="both") == ZH.encode() + b"\n"
    assert add_notice("", TextNoticeStyle(placement="both")) == f"{ZH}\n"


def test_large_file_is_streamed_and_the_body_copied_verbatim(tmp_path: Path) -> None:
    body = ("一行文字 line of text\r\n" * 20_000).encode("utf-8")
    src, dst = tmp_path / "big.txt", tmp_path / "big-out.txt"
    src.write_bytes(body)
    limits = Limits(max_metadata_bytes=4096)  # the head read is 4 KiB only
    result = render_text_file(
        src, dst, style=TextNoticeStyle(placement="both"), limits=limits
    )
    out = dst.read_bytes()
    prefix, suffix = (ZH + "\r\n").encode(), (ZH + "\r\n").encode()
    assert out == prefix + body + suffix
    assert result.newline == "\r\n"


def test_a_multibyte_character_cut_at_the_head_boundary_is_fine(
    tmp_path: Path,
) -> None:
    body = ("x" + "汉" * 3000 + "\n").encode("utf-8")
    src, dst = tmp_path / "cut.txt", tmp_path / "cut-out.txt"
    src.write_bytes(body)
    render_text_file(src, dst, limits=Limits(max_metadata_bytes=1000))
    assert dst.read_bytes() == (ZH + "\n").encode() + body


def test_binary_and_oversized_files_are_refused(tmp_path: Path) -> None:
    binary = tmp_path / "blob.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(UnsupportedFormat, match=r"blob\.txt"):
        render_text_file(binary, tmp_path / "o1.txt")
    invalid = tmp_path / "bad.txt"
    invalid.write_bytes(b"\x80\x80\xff" * 10)  # neither UTF-8 nor GB18030
    with pytest.raises(UnsupportedFormat):
        render_text_file(invalid, tmp_path / "o2.txt")
    big = tmp_path / "big.txt"
    big.write_bytes(b"a" * 2000)
    with pytest.raises(MediaLimitExceeded):
        render_text_file(big, tmp_path / "o3.txt", limits=Limits(max_file_bytes=1000))
    assert not any(p.name.startswith("o") for p in tmp_path.iterdir())


@pytest.mark.parametrize("notice", ["【仅供参考】", "AI", "multi\nline AI生成"])
def test_notices_must_be_one_line_with_both_elements(notice: str) -> None:
    with pytest.raises(InvalidLabelStyle):
        TextNoticeStyle(notice=notice)


def test_utf32_with_bom_is_supported(tmp_path: Path) -> None:
    src, dst = tmp_path / "wide.txt", tmp_path / "wide-out.txt"
    src.write_bytes(codecs.BOM_UTF32_LE + "café\n".encode("utf-32-le"))
    result = render_text_file(src, dst)
    assert result.encoding == "utf-32-le"
    raw = dst.read_bytes()
    assert raw.startswith(codecs.BOM_UTF32_LE)
    assert raw[4:].decode("utf-32-le") == f"{ZH}\ncafé\n"

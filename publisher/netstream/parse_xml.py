"""Decode an XML response body into the neutral tree, safely.

The parser is defusedxml's: a DTD, an entity declaration or an external reference ends the parse (no
billion laughs, no file or network access). Elements are turned into :class:`XmlObj` / ``str`` /
``None`` while the parser streams, through a target object, so no ElementTree is ever built: a large
response costs about as much memory as its values. Names lose their namespace; ``xsi:nil`` becomes
``None``; other ``xsi:`` attributes (``type``, ``schemaLocation``) are dropped.
"""

from __future__ import annotations

from xml.etree.ElementTree import ParseError as XmlSyntaxError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from publisher.errors import ParseError
from publisher.netstream.parse_common import Value, XmlObj
from publisher.netstream.parse_fragment import excerpt

XSI = "http://www.w3.org/2001/XMLSchema-instance"
#: root elements a GetMeterReadings response may have (lower case): the profile itself, the
#: standard MeterReadings, or a Payload / 61968-100 ResponseMessage wrapped around one of them
ROOTS = frozenset({"meterreadings2", "meterreadings", "payload", "responsemessage"})
_TEXT_CACHE_LIMIT = 1 << 16


class _Frame:
    """One open element. Its :class:`XmlObj` is made only once it has an attribute or a child."""

    __slots__ = ("more", "name", "nil", "obj", "text")

    def __init__(self, name: str) -> None:
        self.name = name
        self.obj: XmlObj | None = None
        self.text = ""
        self.more: list[str] | None = None  # further character data chunks, joined once at the end
        self.nil = False


class _TreeTarget:
    """Parser target building the neutral tree; one frame per open element."""

    def __init__(self) -> None:
        self._stack: list[_Frame] = []
        self._texts: dict[str, str] = {}
        self._locals: dict[str, str] = {}
        self.root: Value = None
        self.root_name = ""

    def _local(self, name: str) -> str:
        local = self._locals.get(name)
        if local is None:
            local = self._locals[name] = name.rpartition("}")[2]
        return local

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        frame = _Frame(self._local(tag))
        for key, text in attrib.items():
            namespace, _, local = key[1:].partition("}") if key.startswith("{") else ("", "", key)
            if namespace == XSI or local == "nil":
                frame.nil = frame.nil or (local == "nil" and text.strip() in {"true", "1"})
            else:
                if frame.obj is None:
                    frame.obj = XmlObj(frame.name)
                frame.obj.attrs.append((local, text))
        self._stack.append(frame)

    def data(self, text: str) -> None:
        frame = self._stack[-1]
        if frame.more is not None:
            frame.more.append(text)
        elif frame.text:
            frame.more = [frame.text, text]
        else:
            frame.text = text

    def end(self, _tag: str) -> None:
        frame = self._stack.pop()
        obj = frame.obj
        text = "".join(frame.more) if frame.more is not None else frame.text
        value: Value
        if frame.nil:
            value = None
        elif obj is None:
            value = self._texts.get(text)
            if value is None:
                value = text
                if len(self._texts) < _TEXT_CACHE_LIMIT:
                    self._texts[text] = text
        else:
            obj.text = text.strip() or None
            value = obj
        if self._stack:
            parent = self._stack[-1]
            if parent.obj is None:
                parent.obj = XmlObj(parent.name)
            parent.obj.names.append(frame.name)
            parent.obj.values.append(value)
        else:
            self.root = value
            self.root_name = frame.name

    def close(self) -> None:
        """Called by the parser at the end of the document."""


def _offset(body: bytes, line: int, column: int) -> int:
    """Byte offset of a 1-based line and 0-based column reported by the XML parser."""
    position = 0
    for _ in range(line - 1):
        position = body.find(b"\n", position) + 1
        if position == 0:
            return len(body)
    return position + column


def decode_xml(body: bytes) -> XmlObj:
    """The root element of ``body``; ParseError if it is not well-formed, safe XML with a known root."""
    target = _TreeTarget()
    parser = DefusedXMLParser(target=target, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    try:
        parser.feed(body)
        parser.close()
    except DefusedXmlException as exc:
        raise ParseError(
            f"response XML declares a DTD or entities ({type(exc).__name__}), which are refused for "
            "safety; the service must send plain XML",
            fragment=excerpt(body, None),
        ) from exc
    except (LookupError, ValueError) as exc:  # expat refuses the declared encoding (unknown, multi-byte)
        raise ParseError(
            f"response XML declares an encoding the parser cannot read ({exc}); the service must send UTF-8",
            fragment=excerpt(body, None),
        ) from exc
    except XmlSyntaxError as exc:
        line, column = exc.position
        raise ParseError(
            f"response is not well-formed XML ({exc}); the body is truncated or malformed, retry the request",
            fragment=excerpt(body, _offset(body, line, column)),
        ) from exc
    name = target.root_name
    if name.lower() not in ROOTS:
        raise ParseError(
            f"response XML root is <{name[:80]}>, expected MeterReadings2 (or a Payload around it); "
            "check the endpoint and the Accept header",
            fragment=excerpt(body, None),
        )
    root = target.root
    return root if isinstance(root, XmlObj) else XmlObj(name)

"""Sanitising HTML mail bodies for display."""

from __future__ import annotations

import re

import nh3

_TAGS = (set(nh3.ALLOWED_TAGS) | {"font", "tfoot"}) - {"map", "area"}
_ATTRIBUTES: dict[str, set[str]] = {
    tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()
}
_ATTRIBUTES["*"] = {"style", "dir", "lang", "title"}
_ATTRIBUTES.setdefault("font", set()).update({"color", "face", "size"})
for _tag in ("table", "td", "th", "tr", "tbody"):
    _ATTRIBUTES.setdefault(_tag, set()).update({"width", "height", "valign", "bgcolor", "border"})
_ATTRIBUTES["table"].update({"cellpadding", "cellspacing"})
_SCHEMES = {"http", "https", "mailto", "cid", "tel"}
_DANGEROUS_STYLE = re.compile(r"url\s*\(|expression|@import|behavio(u)?r|javascript:", re.I)
_STYLE_PROPERTIES = {
    "color", "background-color", "font", "font-family", "font-size", "font-style",
    "font-weight", "text-align", "text-decoration", "line-height", "margin", "margin-top",
    "margin-bottom", "margin-left", "margin-right", "padding", "padding-top", "padding-bottom",
    "padding-left", "padding-right", "border", "border-collapse", "border-color", "border-style",
    "border-width", "width", "height", "max-width", "vertical-align", "white-space", "display",
}  # fmt: skip


def sanitize_html(html: str, allow_remote: bool = False) -> str:
    """Clean an HTML body for display.

    Scripts, styles sheets, forms, iframes and event handlers are removed; ``style``
    attributes keep only harmless properties and never a ``url(...)``. Remote ``http(s)``
    images lose their ``src`` unless ``allow_remote``; ``cid:`` references stay so the UI can
    inline the message's own parts.
    """

    def attribute_filter(tag: str, attr: str, value: str) -> str | None:
        if attr == "style" and _DANGEROUS_STYLE.search(value):
            return None
        if tag == "img" and attr == "src":
            lowered = value.strip().lower()
            if lowered.startswith("cid:"):
                return value
            if lowered.startswith(("http:", "https:", "//")):
                return value if allow_remote else None
            return None
        return value

    return nh3.clean(
        html,
        tags=_TAGS,
        clean_content_tags={"script", "style", "title", "head", "noscript", "template"},
        attributes=_ATTRIBUTES,
        attribute_filter=attribute_filter,
        url_schemes=_SCHEMES,
        filter_style_properties=_STYLE_PROPERTIES,
        strip_comments=True,
        link_rel="noopener noreferrer",
    )

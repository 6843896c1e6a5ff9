from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from PySide6.QtCore import QCoreApplication, QLocale

from omnidesk.ui.i18n import TRANSLATIONS, choose_language, install_translator


def test_language_follows_setting_then_system() -> None:
    assert choose_language("pt_BR") == "pt_BR"
    assert choose_language("", QLocale("pt_BR")) == "pt_BR"
    assert choose_language("", QLocale("pt_PT")) == "pt_BR"
    assert choose_language("", QLocale("de_DE")) == "en"
    assert choose_language("en", QLocale("pt_BR")) == "en"


def test_portuguese_is_complete_and_loads(qapp: Any) -> None:
    root = ET.parse(TRANSLATIONS / "omnidesk_pt_BR.ts").getroot()
    unfinished = [
        m.findtext("source")
        for m in root.iter("message")
        if (m.find("translation") is not None and m.find("translation").get("type") == "unfinished")  # type: ignore[union-attr]
    ]
    assert unfinished == []
    previous = QLocale()
    translator = install_translator(qapp, "pt_BR")
    try:
        assert translator is not None
        assert QCoreApplication.translate("ConversationHeader", "Take over") == "Assumir"
        assert (
            QCoreApplication.translate("Errors", "{owner} already took over this conversation.")
            == "{owner} já assumiu esta conversa."
        )
        assert QCoreApplication.translate("Texts", "Photo") == "Foto"
    finally:
        if translator is not None:
            qapp.removeTranslator(translator)
        QLocale.setDefault(previous)

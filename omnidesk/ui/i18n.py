"""Translations: English is the source language; Brazilian Portuguese ships as a .qm file."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QLocale, QTranslator

import resources

log = logging.getLogger(__name__)

TRANSLATIONS = Path(resources.__file__).resolve().parent / "translations"
SUPPORTED = ("en", "pt_BR")


def choose_language(setting: str, system: QLocale | None = None) -> str:
    """The language to use: the setting, else the system locale's, else English."""
    if setting in SUPPORTED:
        return setting
    name = (system or QLocale.system()).name()
    return "pt_BR" if name.startswith("pt") else "en"


def install_translator(app: QCoreApplication, setting: str) -> QTranslator | None:
    """Install the translator for the chosen language; dates then follow that locale too."""
    language = choose_language(setting)
    if setting:
        QLocale.setDefault(QLocale(language))
    if language == "en":
        return None
    translator = QTranslator(app)
    path = TRANSLATIONS / f"omnidesk_{language}.qm"
    if not translator.load(str(path)):
        log.warning("translation %s could not be loaded", path)
        return None
    app.installTranslator(translator)
    return translator

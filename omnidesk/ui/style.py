"""The console's look, derived from the system palette so light and dark both work."""

from __future__ import annotations

from PySide6.QtGui import QPalette

from omnidesk.ui.paint import is_dark, mix


def stylesheet(pal: QPalette) -> str:
    base = pal.color(QPalette.ColorRole.Base)
    window = pal.color(QPalette.ColorRole.Window)
    text = pal.color(QPalette.ColorRole.Text)
    dark = is_dark(pal)
    thread_bg = mix(window, text, 0.04) if dark else mix(window, base, 0.35)
    muted = mix(text, window, 0.45)
    line = mix(window, text, 0.12)
    notice_bg = "#5A4A12" if dark else "#FEF3C7"
    notice_fg = "#FDE68A" if dark else "#78350F"
    return f"""
    #leftPane, #detailsPane {{ background: {base.name()}; }}
    #conversationList, #searchResults {{ border: none; background: {base.name()}; }}
    #searchResults::item {{ padding: 8px 6px; border-bottom: 1px solid {line.name()}; }}
    #searchBox {{ padding: 6px 10px; border: 1px solid {line.name()}; border-radius: 14px; }}
    #thread {{ border: none; background: {thread_bg.name()}; }}
    #conversationHeader {{ background: {base.name()}; border-bottom: 1px solid {line.name()}; }}
    #headerName {{ font-size: 15pt; font-weight: 600; }}
    #headerSub, #headerOwner, #detailCaption, #placeholder {{ color: {muted.name()}; }}
    #composer {{ background: {base.name()}; border-top: 1px solid {line.name()}; }}
    #composerEdit {{ border: 1px solid {line.name()}; border-radius: 8px; padding: 4px; }}
    #quoteBar {{ background: {mix(base, text, 0.05).name()}; border-left: 3px solid #0EA5E9;
                 border-radius: 4px; }}
    #quoteAuthor {{ color: #0EA5E9; font-weight: 600; }}
    #quoteText {{ color: {muted.name()}; }}
    #sendButton {{ background: #128C7E; color: white; border: none; border-radius: 8px;
                   padding: 8px 18px; font-weight: 600; }}
    #takeoverButton {{ background: #7C3AED; color: white; border: none; border-radius: 8px;
                       padding: 7px 14px; font-weight: 600; }}
    #takeoverButton[mode="human"] {{ background: {mix(base, text, 0.1).name()}; color: {text.name()}; }}
    #detailsTitle {{ font-size: 11pt; font-weight: 600; color: {muted.name()}; }}
    #detailsContact {{ font-size: 14pt; font-weight: 600; }}
    #detailsPane {{ border-left: 1px solid {line.name()}; }}
    #leftPane {{ border-right: 1px solid {line.name()}; }}
    #noticeBar {{ background: {notice_bg}; color: {notice_fg}; }}
    #noticeText {{ color: {notice_fg}; }}
    QSplitter::handle {{ background: {line.name()}; }}
    """

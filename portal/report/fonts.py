"""The fonts the PDF pack embeds, all installed with the package (no system font is needed):
DejaVu Sans for Latin text (shipped inside matplotlib) and WenQuanYi Micro Hei for Chinese
(portal/fonts/, Apache-2.0; see portal/fonts/README.md)."""

from __future__ import annotations

from pathlib import Path

from portal.config import PACKAGE_DIR

CJK = PACKAGE_DIR / "fonts" / "WenQuanYiMicroHei.ttf"
CJK_FAMILY = "WenQuanYi Micro Hei"
LATIN_FAMILY = "DejaVu Sans"


def latin(style: str = "") -> Path:
    """DejaVu Sans from matplotlib's own data: regular, or bold with style 'B'."""
    import matplotlib

    name = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}[style]
    return Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name

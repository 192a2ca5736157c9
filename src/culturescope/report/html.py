"""HTML pieces of the report: embedded PNG figures and escaped tables."""

from __future__ import annotations

import base64
import io
from html import escape

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd


def png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=150)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def figure(fig, caption: str) -> str:
    return (
        f'<figure><img alt="{escape(caption)}" src="data:image/png;base64,{png(fig)}">'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


def table(df: pd.DataFrame) -> str:
    head = "".join(f"<th>{escape(str(c))}</th>" for c in df.columns)
    rows = "".join(
        "<tr>"
        + "".join(
            f'<td class="{"" if isinstance(v, (int, float, np.number)) else "t"}">{escape(cell(v))}</td>' for v in row
        )
        + "</tr>"
        for row in df.itertuples(index=False)
    )
    return f"<table><tr>{head}</tr>{rows}</table>"


def cell(v) -> str:
    if isinstance(v, (float, np.floating)):
        return "—" if np.isnan(v) else f"{v:.2f}"
    return str(v)

"""CSV text of a frame block, byte for byte what ``DataFrame.to_csv(index=False,
header=False)`` writes, made a column at a time with pyarrow instead of a cell at a time.

pandas formats each float with ``repr`` (~0.7 µs a cell: 7 s for a 100,000-run leaderboard of
~90 columns). pyarrow's cast to text gives the same shortest digits at C speed; where its
notation differs from ``repr`` (exponents, whole numbers without ``.0``, magnitudes where
``repr`` switches to an exponent) the cell is fixed or formatted by ``repr`` itself. Texts are
quoted as the ``csv`` module's minimal quoting does. A block with a column of any other dtype,
or without pyarrow, gives ``None``: the caller then lets pandas write it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["csv_block"]

#: What makes the ``csv`` module quote a cell: the delimiter, the quote, a character of the
#: line terminator (``os.linesep``, pandas' default).
_TERMINATOR = "".join(sorted(set(os.linesep))).replace("\r", "\\r").replace("\n", "\\n")
_NEEDS_QUOTES = '[,"' + _TERMINATOR + "]"


def _float_texts(values: Any) -> Any:
    """``repr`` of each float, '' (null) for NaN, as a pyarrow string array."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    texts = pc.cast(pa.array(values, from_pandas=True), pa.string())
    finite = np.isfinite(values)
    size = np.abs(np.where(finite, values, 0.0))
    with_e = pc.fill_null(pc.match_substring(texts, "e"), False).to_numpy(zero_copy_only=False)
    # repr writes an exponent below 1e-4 and from 1e16 on; pyarrow elsewhere, now and then
    by_repr = np.isinf(values) | with_e | (finite & (size != 0) & ((size < 1e-4) | (size >= 1e16)))
    no_dot = ~pc.fill_null(pc.match_substring(texts, "."), True).to_numpy(zero_copy_only=False)
    whole = no_dot & finite & ~by_repr
    if whole.any():
        texts = pc.if_else(pa.array(whole), pc.binary_join_element_wise(texts, ".0", ""), texts)
    if by_repr.any():
        fixed = pa.array([repr(v) for v in values[by_repr].tolist()], pa.string())
        texts = pc.replace_with_mask(texts, pa.array(by_repr), fixed)
    return texts


def _quoted(texts: Any) -> Any:
    """Texts with a comma, quote or line terminator quoted (inner quotes doubled), as ``csv``
    does."""
    import pyarrow.compute as pc

    needs = pc.match_substring_regex(texts, _NEEDS_QUOTES)
    if not pc.any(needs).as_py():
        return texts
    doubled = pc.replace_substring(texts, '"', '""')
    quoted = pc.binary_join_element_wise('"', doubled, '"', "")
    return pc.if_else(needs, quoted, texts)


def _object_texts(values: Any) -> Any:
    """``str`` of each cell ('' for ``None`` and NaN), as pandas writes an object column."""
    import pyarrow as pa

    return pa.array(
        [None if v is None or (isinstance(v, float) and v != v) else str(v) for v in values],
        pa.string(),
    )


def _column_texts(series: pd.Series) -> Any | None:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    dtype = series.dtype
    if dtype == "float64":
        return _float_texts(series.to_numpy())
    if dtype == "int64":
        return pc.cast(pa.array(series.to_numpy()), pa.string())
    if dtype == "bool":
        return pc.if_else(pa.array(series.to_numpy()), "True", "False")
    if isinstance(dtype, pd.StringDtype):
        texts = pa.array(series, from_pandas=True)
        return _quoted(pc.cast(texts, pa.string()))
    if dtype.kind == "O":
        return _quoted(_object_texts(series.to_numpy()))
    return None


def csv_block(block: pd.DataFrame) -> str | None:
    """The block's rows as ``to_csv(index=False, header=False)`` writes them, or ``None`` where
    this cannot tell (a dtype it does not format, a single column, no pyarrow)."""
    try:
        import pyarrow.compute as pc
    except ImportError:
        return None
    if block.shape[1] < 2 or not len(block):  # one column: csv quotes an empty cell there
        return None
    columns = []
    for label in block.columns:
        texts = _column_texts(block[label])
        if texts is None:
            return None
        columns.append(texts)
    rows = pc.binary_join_element_wise(*columns, ",", null_handling="replace", null_replacement="")
    newline = os.linesep
    return newline.join(rows.to_pylist()) + newline

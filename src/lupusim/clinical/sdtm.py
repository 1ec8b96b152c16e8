"""CDISC SDTM (DM, LB, VS, CM, RS/QS; CSV or SAS XPT) → visit table, and back.

Mapping (SPEC §6, CDISC CT 2025-03-28):

* DM: USUBJID → ``subject_id``, SEX → ``sex``, AGE → ``age_years``.
* LB (LBTESTCD, LBSPEC, LBSTRESN/LBSTRESU, else LBORRES/LBORRESU; normal ranges
  LBSTNRLO/LBSTNRHI): CREAT, PROTCRT, PROTEXR, C3, C4 (+ LLN), CH50 (below LLN or
  LBNRIND LOW → ``ch50_low``), DDNAIGAB (+ ULN), PLAT, WBC (blood; urine → /HPF), RBC
  (urine /HPF), CSRBC/CSGRAN/CSCELL/HGBCS (urine casts), GFRBSCRT/GFRBSCCC/GFRE/GFREI
  (reported eGFR), CYSTATC, HGB, LYM, ALB. Units are converted; an unknown unit is an
  error naming file, row and column.
* VS: TEMP (C or F), WEIGHT (kg or LB).
* CM: glucocorticoids (prednisone equivalents: prednisone/prednisolone 1, methyl-
  prednisolone 1.25, dexamethasone 6.67, hydrocortisone 0.25) active on the visit date →
  ``prednisone_mg_day``; records with CMCAT/CMSCAT containing RESCUE → ``rescue_therapy``
  from their start date on.
* RS or QS (sponsor-defined, SPEC §6.4): PGA (TESTCD PGA or CAT "PHYSICIAN GLOBAL
  ASSESSMENT") → ``pga``; CAT "SLEDAI-2K" with TESTCD SLD2K101…SLD2K124 → the 24
  descriptor booleans (§1.2 order); CAT "BILAG-2004" with the system name in TEST → the
  ``bilag_<system>`` grade.

Visits are keyed by USUBJID and VISITNUM (else VISIT); the date is the date part of
--DTC, the study day --DY (else VISITDY).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from lupusim.clinical import schema as S
from lupusim.clinical._ranges import RANGES, Ranges, format_number, why_not_a_number
from lupusim.clinical.load import read_csv_text, refuse_duplicate_columns
from lupusim.errors import InputError

DOMAINS: tuple[str, ...] = ("dm", "lb", "vs", "cm", "rs", "qs")

# LBTESTCD -> (column, {unit (upper case): factor}); factor None = mg/mmol convention.
LB_MAP: dict[str, tuple[str, dict[str, float | None]]] = {
    "CREAT": ("creatinine_mg_dl", {"MG/DL": 1.0, "UMOL/L": 1 / 88.4}),
    "PROTCRT": (
        "upcr_g_per_g",
        {"G/G": 1.0, "MG/MG": 1.0, "MG/G": 1e-3, "MG/MMOL": None, "G/MOL": None},
    ),
    "PROTEXR": (
        "protein_24h_g",
        {"G/DAY": 1.0, "G/24H": 1.0, "G/D": 1.0, "MG/DAY": 1e-3, "MG/24H": 1e-3},
    ),
    "C3": ("c3_g_l", {"G/L": 1.0, "MG/DL": 0.01}),
    "C4": ("c4_g_l", {"G/L": 1.0, "MG/DL": 0.01}),
    "DDNAIGAB": ("anti_dsdna_iu_ml", {"IU/ML": 1.0, "[IU]/ML": 1.0}),
    "PLAT": ("platelets_1e9_l", {"10^9/L": 1.0, "10^3/UL": 1.0, "GI/L": 1.0}),
    "CYSTATC": ("cystatin_c_mg_l", {"MG/L": 1.0, "MG/DL": 10.0}),
    "HGB": ("haemoglobin_g_dl", {"G/DL": 1.0, "G/L": 0.1}),
    "LYM": ("lymphocytes_1e9_l", {"10^9/L": 1.0, "10^3/UL": 1.0}),
    "ALB": ("albumin_g_l", {"G/L": 1.0, "G/DL": 10.0}),
    "GFRBSCRT": ("egfr_ml_min_1_73m2", {"ML/MIN/1.73M2": 1.0, "ML/MIN/1.73 M2": 1.0}),
    "GFRBSCCC": ("egfr_ml_min_1_73m2", {"ML/MIN/1.73M2": 1.0, "ML/MIN/1.73 M2": 1.0}),
    "GFRE": ("egfr_ml_min_1_73m2", {"ML/MIN/1.73M2": 1.0, "ML/MIN/1.73 M2": 1.0}),
    "GFREI": ("egfr_ml_min_1_73m2", {"ML/MIN/1.73M2": 1.0, "ML/MIN/1.73 M2": 1.0}),
}
URINE_COUNTS = {"WBC": "urine_wbc_per_hpf", "RBC": "urine_rbc_per_hpf"}
HPF_UNITS = {"/HPF": 1.0, "CELLS/HPF": 1.0, "HPF": 1.0}
CAST_CODES = frozenset({"CSRBC", "CSGRAN", "CSCELL", "HGBCS"})
GLUCOCORTICOIDS = {
    "PREDNISONE": 1.0,
    "PREDNISOLONE": 1.0,
    "METHYLPREDNISOLONE": 1.25,
    "DEXAMETHASONE": 6.67,
    "HYDROCORTISONE": 0.25,
}
FREQUENCY = {"QD": 1.0, "DAILY": 1.0, "BID": 2.0, "TID": 3.0, "QID": 4.0, "QOD": 0.5, "Q2D": 0.5}
BILAG_NAMES = {
    "constitutional": ("CONSTITUTIONAL",),
    "mucocutaneous": ("MUCOCUTANEOUS",),
    "neuropsychiatric": ("NEUROPSYCHIATRIC",),
    "musculoskeletal": ("MUSCULOSKELETAL",),
    "cardiorespiratory": ("CARDIORESPIRATORY",),
    "gastrointestinal": ("GASTROINTESTINAL",),
    "ophthalmic": ("OPHTHALMIC",),
    "renal": ("RENAL",),
    "haematological": ("HAEMATOLOGICAL", "HEMATOLOGICAL"),
}
PRESENT = frozenset({"PRESENT", "Y", "YES", "POSITIVE", "1"})
#: DM SEX (CDISC C66731): F and M are used by the eGFR equations; U and UNDIFFERENTIATED
#: are read as unknown (missing).
SDTM_SEX: dict[str, str | None] = {"F": "F", "M": "M", "U": None, "UNDIFFERENTIATED": None}


def _find(folder: Path, domain: str) -> Path | None:
    for p in sorted(folder.iterdir()):
        if p.stem.lower() == domain and p.suffix.lower() in (".xpt", ".csv"):
            return p
    return None


def _read_xpt(path: Path) -> pd.DataFrame:
    """SAS transport file, read with pyreadstat where installed (extra ``sdtm``).

    pandas' own XPORT reader is the fallback; it reads only version 5 and, as measured
    here with pandas 3.1, drops a final record that ends in missing values and returns
    0.0 as 5.4e-79, so values below 1e-70 in magnitude are snapped to 0.
    """
    try:
        import pyreadstat
    except ImportError:
        frame = pd.read_sas(path, format="xport", encoding="utf-8")
        for col in frame.columns:
            if pd.api.types.is_float_dtype(frame[col]):
                values = frame[col].to_numpy(dtype=float)
                frame[col] = np.where(np.abs(values) < 1e-70, 0.0, values)
        return frame
    frame, _ = pyreadstat.read_xport(str(path))
    return frame


def read_domain(path: Path) -> pd.DataFrame:
    """One SDTM dataset (XPT or CSV) with upper-case column names and text stripped.

    CSV is read as :func:`lupusim.clinical.load.read_csv_text` reads visit tables: only an
    empty cell is missing, and a column given twice is an error.
    """
    try:
        frame = _read_xpt(path) if path.suffix.lower() == ".xpt" else read_csv_text(path)
    except Exception as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise InputError(f"cannot read: {first}", file=str(path)) from exc
    if path.suffix.lower() != ".xpt":
        refuse_duplicate_columns(frame, str(path))
    frame.columns = [str(c).strip().upper() for c in frame.columns]
    if frame.columns.duplicated().any():
        col = str(frame.columns[frame.columns.duplicated()][0])
        raise InputError(
            "duplicate column (names are not case-sensitive)", file=str(path), column=col
        )
    for col in frame.columns:
        if frame[col].dtype == object or pd.api.types.is_string_dtype(frame[col]):
            frame[col] = frame[col].map(lambda v: v.strip() if isinstance(v, str) else v)
            frame[col] = frame[col].where(frame[col] != "", None)
    return frame


def _require(frame: pd.DataFrame, cols: tuple[str, ...], file: Path) -> None:
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise InputError(f"missing required column(s): {', '.join(missing)}", file=str(file))


def _col(frame: pd.DataFrame, name: str) -> np.ndarray:
    """A column as an object array (None-filled where the column is absent)."""
    if name not in frame.columns:
        return np.full(len(frame), None, dtype=object)
    return frame[name].to_numpy(dtype=object)


def _upper(values: np.ndarray) -> np.ndarray:
    return np.array([v.strip().upper() if isinstance(v, str) else "" for v in values], dtype=object)


def _numbers(frame: pd.DataFrame, name: str, file: Path, *, text_ok: bool = False) -> np.ndarray:
    """A numeric column as floats (NaN where empty or absent).

    A value that is not finite (``inf``, the text ``nan``, ``1e400``) is an error naming
    file, row and column; so is other text, unless ``text_ok`` (character results such
    as ``--ORRES``, where text like ``NEGATIVE`` is read by the rules that want it).
    """
    raw = _col(frame, name)
    values = np.asarray(pd.to_numeric(pd.Series(raw, dtype=object), errors="coerce"), dtype=float)
    for i, cell in enumerate(raw):
        if cell is None or (not isinstance(cell, str) and bool(pd.isna(cell))):
            continue
        if np.isinf(values[i]):
            why = f"value {cell}: not a finite number"
        elif np.isnan(values[i]):
            why = why_not_a_number(str(cell))
            if text_ok and why.startswith("expected a number"):
                continue
        else:
            continue
        raise InputError(why, file=str(file), row=i + 1, column=name)
    return values


def _check(
    ranges: Ranges, col: str, raw: float, factor: float, file: Path, row: int, column: str
) -> float:
    """``raw × factor`` as ``col``, or an error naming the record if it is out of range."""
    value = raw * factor
    why = ranges.why(col, value)
    if why is None:
        return value
    shown = format_number(raw)
    if factor != 1.0:
        shown += f" (= {format_number(value)} as {col})"
    raise InputError(f"value {shown}: {why}", file=str(file), row=row, column=column)


def _visit_keys(frame: pd.DataFrame, prefix: str, file: Path) -> list[dict[str, object]]:
    """USUBJID, visit label, visit number, date and day of each record."""
    n = len(frame)
    subj = [str(v) for v in _col(frame, "USUBJID")]
    num = _numbers(frame, "VISITNUM", file)
    if "VISIT" in frame.columns:
        label = list(_col(frame, "VISIT"))
    elif "VISITNUM" in frame.columns:
        label = [f"VISIT {v:g}" for v in num]
    else:
        raise InputError("missing VISIT or VISITNUM", file=str(file))
    dtc = _col(frame, f"{prefix}DTC")
    date = [str(v)[:10] if isinstance(v, str) else None for v in dtc]
    day_col = f"{prefix}DY"
    day = _numbers(frame, day_col, file)
    if np.isnan(day).all():
        day_col = "VISITDY"
        day = _numbers(frame, day_col, file)
    found = RANGES.first_problem(S.STUDY_DAY, day)
    if found is not None:
        i, why = found
        raise InputError(
            f"value {format_number(day[i])}: {why}", file=str(file), row=i + 1, column=day_col
        )
    return [
        {"USUBJID": subj[i], "VISIT": label[i], "VISITNUM": num[i], "DATE": date[i], "DAY": day[i]}
        for i in range(n)
    ]


def _value_unit(
    frame: pd.DataFrame, prefix: str, file: Path
) -> tuple[np.ndarray, np.ndarray, str, str]:
    """Numeric result and upper-case unit (standardised result where given)."""
    std = _numbers(frame, f"{prefix}STRESN", file)
    if not np.isnan(std).all():
        vcol, ucol, val = f"{prefix}STRESN", f"{prefix}STRESU", std
    else:
        vcol, ucol = f"{prefix}ORRES", f"{prefix}ORRESU"
        val = _numbers(frame, vcol, file, text_ok=True)
    unit = np.array([u.replace(" ", "") for u in _upper(_col(frame, ucol))], dtype=object)
    return val, unit, vcol, ucol


def _factor(units: dict[str, float | None], unit: str, mgmmol: float) -> float | None:
    key = unit.replace(" ", "")
    for u, f in units.items():
        if u.replace(" ", "") == key:
            return 1.0 / mgmmol if f is None else f
    return None


def _lb_records(lb: pd.DataFrame, file: Path, mgmmol: float, ranges: Ranges) -> pd.DataFrame:
    _require(lb, ("USUBJID", "LBTESTCD"), file)
    keys = _visit_keys(lb, "LB", file)
    val, unit, vcol, ucol = _value_unit(lb, "LB", file)
    raw = _col(lb, vcol)
    spec = _upper(_col(lb, "LBSPEC"))
    text = _upper(_col(lb, "LBSTRESC" if "LBSTRESC" in lb.columns else "LBORRES"))
    lo_all = _numbers(lb, "LBSTNRLO", file)
    hi_all = _numbers(lb, "LBSTNRHI", file)
    nrind = _upper(_col(lb, "LBNRIND"))
    rows: list[dict[str, object]] = []
    for i, code in enumerate(_upper(_col(lb, "LBTESTCD"))):
        rownum = i + 1
        v, u, base = float(val[i]), str(unit[i]), keys[i]
        if not np.isnan(v) and v < 0:
            raise InputError(
                f"value {format_number(v)}: negative value", file=str(file), row=rownum, column=vcol
            )
        if code in URINE_COUNTS and spec[i] == "URINE":
            if not np.isnan(v) and u and u not in HPF_UNITS:
                raise InputError(
                    f"unknown unit {u!r} for urine {code}", file=str(file), row=rownum, column=ucol
                )
            if not np.isnan(v):
                v = _check(ranges, URINE_COUNTS[code], v, 1.0, file, rownum, vcol)
            rows.append({**base, "col": URINE_COUNTS[code], "val": v})
        elif code == "WBC":
            f = _factor({"10^9/L": 1.0, "10^3/UL": 1.0, "GI/L": 1.0}, u, mgmmol)
            if f is None and not np.isnan(v):
                raise InputError(
                    f"unknown unit {u!r} for WBC", file=str(file), row=rownum, column=ucol
                )
            if not np.isnan(v):
                v = _check(ranges, "wbc_1e9_l", v, f or 1.0, file, rownum, vcol)
            rows.append({**base, "col": "wbc_1e9_l", "val": v})
        elif code in CAST_CODES:
            present = (not np.isnan(v) and v > 0) or text[i] in PRESENT
            rows.append({**base, "col": "urinary_casts", "val": bool(present)})
        elif code == "CH50":
            low = (not np.isnan(v) and not np.isnan(lo_all[i]) and v < lo_all[i]) or nrind[
                i
            ] == "LOW"
            rows.append({**base, "col": "ch50_low", "val": bool(low)})
        elif code in LB_MAP:
            col, units = LB_MAP[code]
            if np.isnan(v):
                cell = raw[i]
                if isinstance(cell, str) and cell.strip():
                    raise InputError(
                        f"expected a number for {code}, got {cell.strip()!r}",
                        file=str(file),
                        row=rownum,
                        column=vcol,
                    )
                continue
            f = _factor(units, u, mgmmol)
            if f is None:
                raise InputError(
                    f"unknown unit {u!r} for {code}", file=str(file), row=rownum, column=ucol
                )
            rows.append({**base, "col": col, "val": _check(ranges, col, v, f, file, rownum, vcol)})
            if code in ("C3", "C4") and not np.isnan(lo_all[i]):
                lln = f"{col[:2]}_lln_g_l"
                value = _check(ranges, lln, float(lo_all[i]), f, file, rownum, "LBSTNRLO")
                rows.append({**base, "col": lln, "val": value})
            if code == "DDNAIGAB" and not np.isnan(hi_all[i]):
                uln = "anti_dsdna_uln_iu_ml"
                value = _check(ranges, uln, float(hi_all[i]), f, file, rownum, "LBSTNRHI")
                rows.append({**base, "col": uln, "val": value})
    return pd.DataFrame(rows)


def _vs_records(vs: pd.DataFrame, file: Path, ranges: Ranges) -> pd.DataFrame:
    _require(vs, ("USUBJID", "VSTESTCD"), file)
    keys = _visit_keys(vs, "VS", file)
    val, unit, vcol, ucol = _value_unit(vs, "VS", file)
    rows: list[dict[str, object]] = []
    for i, code in enumerate(_upper(_col(vs, "VSTESTCD"))):
        v, u, base = float(val[i]), str(unit[i]), keys[i]
        if np.isnan(v):
            continue
        if code == "TEMP":
            if u in ("C", "DEGC", "CELSIUS"):
                c = _check(ranges, "temperature_c", v, 1.0, file, i + 1, vcol)
                rows.append({**base, "col": "temperature_c", "val": c})
            elif u in ("F", "DEGF", "FAHRENHEIT"):
                c = _check(ranges, "temperature_c", v - 32.0, 5.0 / 9.0, file, i + 1, vcol)
                rows.append({**base, "col": "temperature_c", "val": c})
            else:
                raise InputError(
                    f"unknown unit {u!r} for TEMP", file=str(file), row=i + 1, column=ucol
                )
        elif code == "WEIGHT":
            if u in ("KG", "LB", "LBS"):
                f = 1.0 if u == "KG" else 0.45359237
                kg = _check(ranges, "weight_kg", v, f, file, i + 1, vcol)
                rows.append({**base, "col": "weight_kg", "val": kg})
            else:
                raise InputError(
                    f"unknown unit {u!r} for WEIGHT", file=str(file), row=i + 1, column=ucol
                )
    return pd.DataFrame(rows)


def _rs_records(rs: pd.DataFrame, file: Path, prefix: str, ranges: Ranges) -> pd.DataFrame:
    _require(rs, ("USUBJID", f"{prefix}TESTCD"), file)
    keys = _visit_keys(rs, prefix, file)
    cat = _upper(_col(rs, f"{prefix}CAT"))
    code = _upper(_col(rs, f"{prefix}TESTCD"))
    test = _upper(_col(rs, f"{prefix}TEST"))
    res = _upper(
        _col(rs, f"{prefix}STRESC" if f"{prefix}STRESC" in rs.columns else f"{prefix}ORRES")
    )
    stresn = _numbers(rs, f"{prefix}STRESN", file)
    num = np.where(np.isnan(stresn), _numbers(rs, f"{prefix}ORRES", file, text_ok=True), stresn)
    rows: list[dict[str, object]] = []
    for i in range(len(rs)):
        c, k, r, base = code[i], cat[i], res[i], keys[i]
        if c == "PGA" or "PHYSICIAN GLOBAL" in k:
            pga = float(num[i])
            if not np.isnan(pga):
                where = f"{prefix}STRESN" if not np.isnan(stresn[i]) else f"{prefix}ORRES"
                pga = _check(ranges, "pga", pga, 1.0, file, i + 1, where)
            rows.append({**base, "col": "pga", "val": pga})
        elif k == "SLEDAI-2K" and c.startswith("SLD2K1") and c[6:].isdigit():
            n = int(c[6:])
            if 1 <= n <= 24:
                present = (not np.isnan(num[i]) and num[i] > 0) or r in PRESENT
                rows.append({**base, "col": S.DESCRIPTOR_NAMES[n - 1], "val": bool(present)})
        elif k == "BILAG-2004" and r in S.BILAG_GRADES:
            t = test[i] or c
            for system, names in BILAG_NAMES.items():
                if any(nm in t for nm in names):
                    rows.append({**base, "col": f"bilag_{system}", "val": r})
                    break
    return pd.DataFrame(rows)


def _dates(values: np.ndarray) -> np.ndarray:
    text = [str(v)[:10] if isinstance(v, str) else None for v in values]
    dates = pd.to_datetime(pd.Series(text, dtype=object), format="ISO8601", errors="coerce")
    return np.asarray(dates)


def _cm_columns(cm: pd.DataFrame, file: Path, visits: pd.DataFrame, ranges: Ranges) -> pd.DataFrame:
    """prednisone_mg_day and rescue_therapy on each visit from CM start/end dates."""
    _require(cm, ("USUBJID",), file)
    name = _upper(_col(cm, "CMDECOD" if "CMDECOD" in cm.columns else "CMTRT"))
    start, end = _dates(_col(cm, "CMSTDTC")), _dates(_col(cm, "CMENDTC"))
    dose = _numbers(cm, "CMDOSE", file)
    freq = _upper(_col(cm, "CMDOSFRQ"))
    cats = _upper(_col(cm, "CMCAT")) + " " + _upper(_col(cm, "CMSCAT"))
    subj_cm = [str(v) for v in _col(cm, "USUBJID")]
    dates = np.asarray(pd.to_datetime(visits["visit_date"], errors="coerce"))
    subj = np.array([str(v) for v in visits["subject_id"].to_numpy()], dtype=object)
    pred = np.zeros(len(visits))
    rescue = np.zeros(len(visits), dtype=bool)
    any_gc = False
    for i in range(len(cm)):
        mine = subj == subj_cm[i]
        started = mine & (dates >= start[i])
        active = started & ((dates <= end[i]) | bool(pd.isna(end[i])))
        if "RESCUE" in cats[i]:
            rescue |= started
        if name[i] in GLUCOCORTICOIDS:
            any_gc = True
            if np.isnan(dose[i]):
                continue
            if dose[i] < 0:
                raise InputError(
                    f"value {format_number(dose[i])}: negative dose",
                    file=str(file),
                    row=i + 1,
                    column="CMDOSE",
                )
            factor = FREQUENCY.get(str(freq[i]) or "QD", 1.0) * GLUCOCORTICOIDS[name[i]]
            pred[active] += _check(
                ranges, "prednisone_mg_day", float(dose[i]), factor, file, i + 1, "CMDOSE"
            )
    out = pd.DataFrame(index=visits.index)
    out["prednisone_mg_day"] = pred if any_gc else np.full(len(visits), np.nan)
    out["rescue_therapy"] = rescue
    return out


def read_sdtm(
    folder: str | Path, *, upcr_mgmmol_convention: str = "exact", ranges: Ranges | None = None
) -> pd.DataFrame:
    """A raw visit table (canonical column names) from an SDTM folder.

    Every number is checked on its record (file, row, column) against ``ranges``
    (default: the range table), after unit conversion.
    """
    table = RANGES if ranges is None else ranges
    root = Path(folder)
    if not root.is_dir():
        raise InputError("no such folder", file=str(root))
    mgmmol = 113.12 if upcr_mgmmol_convention == "exact" else 100.0
    paths = {d: _find(root, d) for d in DOMAINS}
    if paths["dm"] is None:
        raise InputError("no DM dataset (dm.xpt or dm.csv)", file=str(root))
    dm_path = paths["dm"]
    dm = read_domain(dm_path)
    _require(dm, ("USUBJID",), dm_path)
    dup = dm["USUBJID"].astype(str).duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise InputError(
            f"duplicate subject {dm['USUBJID'].iat[i]!s}",
            file=str(dm_path),
            row=i + 1,
            column="USUBJID",
        )
    parts = []
    if paths["lb"] is not None:
        parts.append(_lb_records(read_domain(paths["lb"]), paths["lb"], mgmmol, table))
    if paths["vs"] is not None:
        parts.append(_vs_records(read_domain(paths["vs"]), paths["vs"], table))
    for d, prefix in (("rs", "RS"), ("qs", "QS")):
        p = paths[d]
        if p is not None:
            parts.append(_rs_records(read_domain(p), p, prefix, table))
    parts = [p for p in parts if len(p)]
    if not parts:
        raise InputError("no visit data in LB, VS, RS or QS", file=str(root))
    long = pd.concat(parts, ignore_index=True)
    long["VKEY"] = np.where(
        long["VISITNUM"].notna(), long["VISITNUM"].astype(str), long["VISIT"].astype(str)
    )
    grouped = long.groupby(["USUBJID", "VKEY"], sort=False)
    meta = grouped.agg(
        VISIT=("VISIT", "first"),
        VISITNUM=("VISITNUM", "first"),
        DATE=("DATE", lambda s: s.dropna().min() if s.notna().any() else None),
        DAY=("DAY", "min"),
    )
    long = long.drop_duplicates(["USUBJID", "VKEY", "col"], keep="first")
    wide = long.pivot(index=["USUBJID", "VKEY"], columns="col", values="val")
    wide = meta.join(wide).reset_index()
    wide = wide.sort_values(
        ["USUBJID", "VISITNUM", "DAY", "DATE"], kind="stable", na_position="last"
    )
    out = pd.DataFrame(
        {
            "subject_id": wide["USUBJID"].to_numpy(),
            "visit": wide["VISIT"].to_numpy(),
        }
    )
    if wide["DATE"].notna().any():
        out["visit_date"] = wide["DATE"].to_numpy()
    if wide["DAY"].notna().any():
        out["study_day"] = wide["DAY"].to_numpy()
    for col in wide.columns:
        if col not in ("USUBJID", "VKEY", "VISIT", "VISITNUM", "DATE", "DAY"):
            out[col] = wide[col].to_numpy()
    dmi = dm.set_index(dm["USUBJID"].astype(str))
    if "SEX" in dmi:
        sex = _upper(_col(dm, "SEX"))
        for i, value in enumerate(sex):
            if value and value not in SDTM_SEX:
                raise InputError(
                    f"sex {value!r} is not F, M or U", file=str(dm_path), row=i + 1, column="SEX"
                )
        mapped = [SDTM_SEX.get(v) for v in sex]
        out["sex"] = out["subject_id"].map(pd.Series(mapped, index=dmi.index, dtype=object))
    if "AGE" in dmi:
        age = _numbers(dm, "AGE", dm_path)
        for i, a in enumerate(age):
            if not np.isnan(a):
                _check(table, "age_years", float(a), 1.0, dm_path, i + 1, "AGE")
        out["age_years"] = out["subject_id"].map(pd.Series(age, index=dmi.index))
    if paths["cm"] is not None and "visit_date" in out:
        cmc = _cm_columns(read_domain(paths["cm"]), paths["cm"], out, table)
        out["prednisone_mg_day"] = cmc["prednisone_mg_day"].to_numpy()
        out["rescue_therapy"] = cmc["rescue_therapy"].to_numpy()
    return out.reset_index(drop=True)


# ---------------------------------------------------------------------------------
# Writer (for round trips and for exporting virtual patients)
# ---------------------------------------------------------------------------------

_LB_OUT: tuple[tuple[str, str, str, str], ...] = (
    ("creatinine_mg_dl", "CREAT", "SERUM", "mg/dL"),
    ("upcr_g_per_g", "PROTCRT", "URINE", "g/g"),
    ("protein_24h_g", "PROTEXR", "URINE", "g/day"),
    ("c3_g_l", "C3", "SERUM", "g/L"),
    ("c4_g_l", "C4", "SERUM", "g/L"),
    ("anti_dsdna_iu_ml", "DDNAIGAB", "SERUM", "IU/mL"),
    ("platelets_1e9_l", "PLAT", "BLOOD", "10^9/L"),
    ("wbc_1e9_l", "WBC", "BLOOD", "10^9/L"),
    ("urine_wbc_per_hpf", "WBC", "URINE", "/HPF"),
    ("urine_rbc_per_hpf", "RBC", "URINE", "/HPF"),
    ("egfr_ml_min_1_73m2", "GFRBSCRT", "SERUM", "mL/min/1.73m2"),
    ("haemoglobin_g_dl", "HGB", "BLOOD", "g/dL"),
)


def to_sdtm(visits: pd.DataFrame, studyid: str = "LUPUSIM") -> dict[str, pd.DataFrame]:
    """SDTM datasets (DM, LB, VS, CM, RS) from a visit table with visit_date or study_day."""
    v = visits.reset_index(drop=True)
    visitnum = v.groupby("subject_id", sort=False).cumcount() + 1
    date = (
        pd.to_datetime(v["visit_date"]).dt.strftime("%Y-%m-%d")
        if "visit_date" in v
        else pd.Series([""] * len(v))
    )
    day = (
        pd.to_numeric(v["study_day"], errors="coerce")
        if "study_day" in v
        else pd.Series(np.nan, index=v.index)
    )
    first = v.groupby("subject_id", sort=False).head(1)
    arr = {str(c): v[c].to_numpy(dtype=object) for c in v.columns}
    dates = date.to_numpy(dtype=object)
    days = day.to_numpy(dtype=float)
    visitnums = visitnum.to_numpy(dtype=float)
    dm = pd.DataFrame(
        {
            "STUDYID": studyid,
            "DOMAIN": "DM",
            "USUBJID": first["subject_id"].astype(str).to_numpy(),
            "SEX": first["sex"].to_numpy() if "sex" in first else "",
            "AGE": pd.to_numeric(first["age_years"], errors="coerce").to_numpy()
            if "age_years" in first
            else np.nan,
            "AGEU": "YEARS",
        }
    )

    def base(i: int, domain: str) -> dict[str, object]:
        return {
            "STUDYID": studyid,
            "DOMAIN": domain,
            "USUBJID": str(arr["subject_id"][i]),
            "VISITNUM": float(visitnums[i]),
            "VISIT": str(arr["visit"][i]),
            f"{domain}DTC": dates[i],
            f"{domain}DY": float(days[i]),
        }

    lb, vs, rs, cm = [], [], [], []
    for i in range(len(v)):
        for col, code, spec, unit in _LB_OUT:
            if col in v and pd.notna(arr[col][i]):
                rec = {
                    **base(i, "LB"),
                    "LBTESTCD": code,
                    "LBSPEC": spec,
                    "LBSTRESN": float(arr[col][i]),
                    "LBSTRESU": unit,
                }
                rec["LBSTNRLO"] = np.nan
                rec["LBSTNRHI"] = np.nan
                if code in ("C3", "C4") and f"{code.lower()}_lln_g_l" in v:
                    rec["LBSTNRLO"] = float(arr[f"{code.lower()}_lln_g_l"][i])
                if code == "DDNAIGAB" and "anti_dsdna_uln_iu_ml" in v:
                    rec["LBSTNRHI"] = float(arr["anti_dsdna_uln_iu_ml"][i])
                lb.append(rec)
        if "urinary_casts" in v and pd.notna(arr["urinary_casts"][i]):
            lb.append(
                {
                    **base(i, "LB"),
                    "LBTESTCD": "CSRBC",
                    "LBSPEC": "URINE",
                    "LBSTRESN": 1.0 if bool(arr["urinary_casts"][i]) else 0.0,
                    "LBSTRESU": "/LPF",
                    "LBSTNRLO": np.nan,
                    "LBSTNRHI": np.nan,
                }
            )
        for col, code, unit in (("temperature_c", "TEMP", "C"), ("weight_kg", "WEIGHT", "kg")):
            if col in v and pd.notna(arr[col][i]):
                vs.append(
                    {
                        **base(i, "VS"),
                        "VSTESTCD": code,
                        "VSSTRESN": float(arr[col][i]),
                        "VSSTRESU": unit,
                    }
                )
        if "pga" in v and pd.notna(arr["pga"][i]):
            rs.append(
                {
                    **base(i, "RS"),
                    "RSCAT": "PHYSICIAN GLOBAL ASSESSMENT",
                    "RSTESTCD": "PGA",
                    "RSTEST": "Physician Global Assessment",
                    "RSORRES": f"{float(arr['pga'][i]):g}",
                    "RSSTRESN": float(arr["pga"][i]),
                }
            )
        for n, name in enumerate(S.DESCRIPTOR_NAMES, start=1):
            if name in v and pd.notna(arr[name][i]):
                present = bool(arr[name][i])
                rs.append(
                    {
                        **base(i, "RS"),
                        "RSCAT": "SLEDAI-2K",
                        "RSTESTCD": f"SLD2K1{n:02d}",
                        "RSTEST": f"SLD2K1-{name}",
                        "RSORRES": "PRESENT" if present else "ABSENT",
                        "RSSTRESN": float(S.WEIGHTS[name] if present else 0),
                    }
                )
        for system in S.BILAG_SYSTEMS:
            col = f"bilag_{system}"
            if col in v and pd.notna(arr[col][i]):
                rs.append(
                    {
                        **base(i, "RS"),
                        "RSCAT": "BILAG-2004",
                        "RSTESTCD": f"BLG{system[:5].upper()}",
                        "RSTEST": system.capitalize(),
                        "RSORRES": str(arr[col][i]),
                        "RSSTRESN": np.nan,
                    }
                )
        if "prednisone_mg_day" in v and pd.notna(arr["prednisone_mg_day"][i]) and dates[i]:
            cm.append(
                {
                    "STUDYID": studyid,
                    "DOMAIN": "CM",
                    "USUBJID": str(arr["subject_id"][i]),
                    "CMTRT": "PREDNISONE",
                    "CMDECOD": "PREDNISONE",
                    "CMCAT": "GLUCOCORTICOID",
                    "CMDOSE": float(arr["prednisone_mg_day"][i]),
                    "CMDOSU": "mg",
                    "CMDOSFRQ": "QD",
                    "CMSTDTC": dates[i],
                    "CMENDTC": dates[i],
                }
            )
        if (
            "rescue_therapy" in v
            and pd.notna(arr["rescue_therapy"][i])
            and bool(arr["rescue_therapy"][i])
            and dates[i]
        ):
            cm.append(
                {
                    "STUDYID": studyid,
                    "DOMAIN": "CM",
                    "USUBJID": str(arr["subject_id"][i]),
                    "CMTRT": "RITUXIMAB",
                    "CMDECOD": "RITUXIMAB",
                    "CMCAT": "RESCUE",
                    "CMDOSE": np.nan,
                    "CMDOSU": "mg",
                    "CMDOSFRQ": "ONCE",
                    "CMSTDTC": dates[i],
                    "CMENDTC": dates[i],
                }
            )
    out = {"dm": dm}
    for name, recs in (("lb", lb), ("vs", vs), ("rs", rs), ("cm", cm)):
        if recs:
            out[name] = pd.DataFrame(recs)
    return out

"""Doses and regimens as data: MSC, cyclophosphamide, glucocorticoids, antimetabolites."""

from lupusim.treatments._doses import (
    CTX_REFERENCE_HED_MG_PER_KG,
    METHYLPREDNISOLONE_TO_PREDNISONE,
    MOUSE_TO_HUMAN_DOSE_DIVISOR,
    MSC_SOURCE_POTENCY,
    Azathioprine,
    Cyclophosphamide,
    FlareTrigger,
    GlucocorticoidTaper,
    Hydroxychloroquine,
    Methylprednisolone,
    MSCInfusion,
    MscSource,
    Mycophenolate,
    Prednisone,
    body_surface_area_m2,
)
from lupusim.treatments._regimen import (
    Dose,
    Regimen,
    ReinfuseOnRelapse,
    euro_lupus_cyclophosphamide,
    nih_cyclophosphamide,
)

__all__ = [
    "CTX_REFERENCE_HED_MG_PER_KG",
    "METHYLPREDNISOLONE_TO_PREDNISONE",
    "MOUSE_TO_HUMAN_DOSE_DIVISOR",
    "MSC_SOURCE_POTENCY",
    "Azathioprine",
    "Cyclophosphamide",
    "Dose",
    "FlareTrigger",
    "GlucocorticoidTaper",
    "Hydroxychloroquine",
    "MSCInfusion",
    "Methylprednisolone",
    "MscSource",
    "Mycophenolate",
    "Prednisone",
    "Regimen",
    "ReinfuseOnRelapse",
    "body_surface_area_m2",
    "euro_lupus_cyclophosphamide",
    "nih_cyclophosphamide",
]

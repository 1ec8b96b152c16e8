"""lupusim: in-silico trials of systemic lupus erythematosus.

MSC infusion versus immunosuppression, in mice and in people. See README.md and
docs/model.md. The subpackages follow ../shared/DESIGN.md: ``model`` (states,
parameters, equations), ``treatments`` (doses and regimens), ``engine`` (batched
simulation), ``clinical`` (instruments from visit tables; never imports the model),
``studies`` (published experiments), ``calibrate``, ``report`` and ``io``.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("lupusim")
except PackageNotFoundError:  # pragma: no cover - source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]

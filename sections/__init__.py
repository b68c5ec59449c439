"""清流 Qingliu domain package: the water itself.

GB 3838-2002 classes, the evaluation method, the section registry, QA/QC of station series and
forecasting, as pure functions over pandas/NumPy objects and frozen dataclasses. No I/O.
"""

from sections.classes import WaterClass, parse_class
from sections.errors import DataTableError, RegistryError, SectionsError, UnknownClassError
from sections.parameters import Parameter, parameter, parameters
from sections.registry import Registry, Section, Unit, load_registry, parse_registry

__all__ = [
    "DataTableError",
    "Parameter",
    "Registry",
    "RegistryError",
    "Section",
    "SectionsError",
    "Unit",
    "UnknownClassError",
    "WaterClass",
    "load_registry",
    "parameter",
    "parameters",
    "parse_class",
    "parse_registry",
]

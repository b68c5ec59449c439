"""清流 Qingliu domain package: the water itself.

GB 3838-2002 classes, the evaluation method, the section and river-chief registries, QA/QC of
station series and forecasting, as pure functions over pandas/NumPy objects and frozen dataclasses.
No I/O.
"""

from sections.alert_evaluation import (
    evaluate as evaluate_alerts,
)
from sections.alert_rules import (
    AlertLevel,
    AlertRules,
    Condition,
    Rule,
    load_alert_rules,
    parse_alert_rules,
)
from sections.classes import WaterClass, parse_class
from sections.errors import (
    AlertRulesError,
    DataTableError,
    RegistryError,
    RiverChiefsError,
    SectionsError,
    UnknownClassError,
)
from sections.parameters import Parameter, parameter, parameters
from sections.registry import Registry, Section, Unit, load_registry, parse_registry
from sections.river_chiefs import (
    ChannelEntry,
    Chief,
    ChiefLevel,
    Operator,
    Reach,
    RiverChiefs,
    load_river_chiefs,
    parse_river_chiefs,
)

__all__ = [
    "AlertLevel",
    "AlertRules",
    "AlertRulesError",
    "ChannelEntry",
    "Chief",
    "ChiefLevel",
    "Condition",
    "DataTableError",
    "Operator",
    "Parameter",
    "Reach",
    "Registry",
    "RegistryError",
    "RiverChiefs",
    "RiverChiefsError",
    "Rule",
    "Section",
    "SectionsError",
    "Unit",
    "UnknownClassError",
    "WaterClass",
    "evaluate_alerts",
    "load_alert_rules",
    "load_registry",
    "load_river_chiefs",
    "parameter",
    "parameters",
    "parse_alert_rules",
    "parse_class",
    "parse_registry",
    "parse_river_chiefs",
]

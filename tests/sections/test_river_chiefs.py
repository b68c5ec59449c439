"""The river-chief registry: the bundled Hengshui file, the lookups, and each kind of bad entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from sections.errors import RiverChiefsError, SectionsError
from sections.registry import Registry, parse_registry
from sections.river_chiefs import (
    ChiefLevel,
    RiverChiefs,
    load_river_chiefs,
    parse_river_chiefs,
    placeholders,
)


@pytest.fixture(scope="module")
def bundled(registry: Registry) -> RiverChiefs:
    return load_river_chiefs(registry=registry)


# --- the bundled file -------------------------------------------------------------------------


def test_bundled_file_loads_cleanly_against_the_bundled_registry(bundled: RiverChiefs) -> None:
    assert bundled.source == "river_chiefs.toml"
    assert (bundled.unreachable, bundled.uncovered, bundled.warnings) == ((), (), ())
    assert load_river_chiefs() == bundled  # without a registry: the same entries


def test_every_assessed_section_and_the_lake_have_county_and_city_chiefs(
    bundled: RiverChiefs, registry: Registry
) -> None:
    assessed = registry.assessed_sections()
    assert {s.water_body for s in assessed} == {"river", "lake"}
    for section in assessed:
        chiefs = bundled.chiefs_for_section(section.id)
        assert [c.level for c in chiefs] == [ChiefLevel.COUNTY, ChiefLevel.CITY], section.id
        word = "湖长" if section.water_body == "lake" else "河长"
        assert all(c.post.startswith(section.river) and c.post.endswith(word) for c in chiefs)
        county = registry.unit(section.assessed_unit or "").name
        reaches = bundled.reaches_for_section(section.id)
        assert [r.county for r in reaches] == [section.assessed_unit], section.id
        assert county in chiefs[0].post, section.id
        assert bundled.operators_for_section(section.id), section.id
    assert [c.post for c in bundled.chiefs_for_section("hengshuihu-dahuxin")] == [
        "衡水湖滨湖新区县级湖长",
        "衡水湖市级湖长",
    ]


def test_reference_sections_have_no_chief(bundled: RiverChiefs, registry: Registry) -> None:
    for section in registry.sections:
        if section.is_reference:
            assert bundled.chiefs_for_section(section.id) == (), section.id


def test_reaches_follow_the_registry_by_river_and_county(
    bundled: RiverChiefs, registry: Registry
) -> None:
    for reach in bundled.reaches:
        rivers = {registry.section(s).river for s in reach.sections}
        units = {registry.section(s).assessed_unit for s in reach.sections}
        assert rivers == {reach.river} and units == {reach.county}, reach.id
    assert len(bundled.reaches) == 14  # 13 river sections in 13 river-county reaches + the lake
    assert bundled.reach("hengshuihu").sections == ("hengshuihu-dahuxin", "hengshuihu-xiaohu")


def test_nothing_is_confirmed_and_every_entry_says_it_is_an_assumption(
    bundled: RiverChiefs,
) -> None:
    entries = [*bundled.reaches, *bundled.chiefs, *bundled.channels, *bundled.operators]
    assert len(entries) == 14 + 21 + 24 + 1
    for entry in entries:
        assert entry.confirmed is False and "[A]" in entry.note, entry.id


def test_chiefs_are_posts_without_invented_people(bundled: RiverChiefs) -> None:
    for recipient in [*bundled.chiefs, *bundled.operators]:
        assert (recipient.name, recipient.mobile, recipient.email) == (None, None, None)
    assert {c.level for c in bundled.chiefs} == {ChiefLevel.COUNTY, ChiefLevel.CITY}
    assert "滏阳河市级河长" in {c.post for c in bundled.chiefs}
    assert "滏阳河冀州区县级河长" in {c.post for c in bundled.chiefs}


def test_bundled_escalation_goes_county_to_city_and_stops(bundled: RiverChiefs) -> None:
    for chief in bundled.chiefs:
        chain = bundled.escalation_chain(chief.id)
        assert chain[0] is chief and chain[-1].level is ChiefLevel.CITY
        assert chain[-1].escalate_to is None
        if chief.level is ChiefLevel.COUNTY:
            assert len(chain) == 2 and set(chief.reaches) <= set(chain[1].reaches), chief.id


def test_bundled_channels_are_placeholders_never_secrets(bundled: RiverChiefs) -> None:
    kinds = [c.kind for c in bundled.channels]
    assert kinds.count("dingtalk") == kinds.count("sms") == kinds.count("email") == 1
    city = [c for c in bundled.channels if c.id.startswith("wecom-city-")]
    assert len(city) == len([c for c in bundled.chiefs if c.level is ChiefLevel.CITY]) == 7
    counties = {r.county for r in bundled.reaches}
    assert {f"wecom-{county}" for county in counties} <= {c.id for c in bundled.channels}
    jizhou = bundled.channel("wecom-jizhou")
    assert jizhou.url == (
        "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=${QINGLIU_WECOM_KEY_JIZHOU}"
    )
    office = bundled.channel("dingtalk-city-office")
    assert office.secret == "${QINGLIU_DINGTALK_SECRET_CITY}"
    assert office.variables == ("QINGLIU_DINGTALK_TOKEN_CITY", "QINGLIU_DINGTALK_SECRET_CITY")
    for channel in bundled.channels:
        assert channel.variables, channel.id  # every one needs something from the environment
        assert all(name.startswith("QINGLIU_") for name in channel.variables)


def test_the_operator_gets_outages_and_is_no_chief(
    bundled: RiverChiefs, registry: Registry
) -> None:
    (operator,) = bundled.operators
    assert set(operator.sections) == {s.id for s in registry.assessed_sections()}
    assert [c.kind for c in bundled.channels_of(operator)] == ["wecom", "email"]
    assert operator.id not in {c.id for c in bundled.chiefs}


def test_lookups_name_the_valid_ids(bundled: RiverChiefs) -> None:
    with pytest.raises(KeyError, match="fuyang-city"):
        bundled.chief("nobody")
    with pytest.raises(KeyError, match="fuyang-jizhou"):
        bundled.reach("nowhere")
    with pytest.raises(KeyError, match="wecom-jizhou"):
        bundled.channel("pigeon")
    with pytest.raises(KeyError, match="station-ops"):
        bundled.operator("nobody")
    with pytest.raises(KeyError, match="fuyang-city"):
        bundled.escalation_chain("nobody")


# --- a small file: lookups, warnings, placeholders -----------------------------------------------

REGISTRY_TOML = """
[[units]]
id = "a"
name = "甲县"

[[units]]
id = "b"
name = "乙县"

[[sections]]
id = "s1"
name = "某河甲县出境"
confirmed = false
river = "某河"
water_body = "river"
level = "provincial"
assessed_unit = "a"
lon = 115.5
lat = 37.5
target_class = "III"

[[sections]]
id = "s2"
name = "某河乙县出境"
confirmed = false
river = "某河"
water_body = "river"
level = "provincial"
assessed_unit = "b"
upstream = "s1"
lon = 115.6
lat = 37.6
target_class = "III"

[[sections]]
id = "l1"
name = "某湖湖心"
confirmed = false
river = "某湖"
water_body = "lake"
level = "provincial"
assessed_unit = "a"
lon = 115.7
lat = 37.7
target_class = "III"
"""

REACHES = """
[[reaches]]
id = "ra"
river = "某河"
county = "a"
sections = ["s1"]
from = "甲县入境"
to = "甲县出境"
confirmed = true

[[reaches]]
id = "rb"
river = "某河"
county = "b"
sections = ["s2"]
confirmed = false
note = "[A]"

[[reaches]]
id = "lake"
river = "某湖"
county = "a"
sections = ["l1"]
confirmed = false
"""

CHIEFS = """
[[chiefs]]
id = "city"
post = "某河市级河长"
level = "市"
reaches = ["ra", "rb"]
channels = ["robot", "ding"]
confirmed = false

[[chiefs]]
id = "county-a"
post = "某河甲县县级河长"
level = "县"
reaches = ["ra"]
channels = ["robot"]
escalate_to = "city"
confirmed = false

[[chiefs]]
id = "county-b"
post = "某河乙县县级河长"
level = "县级"
name = "张某"
mobile = "13912345678"
reaches = ["rb"]
channels = ["sms"]
escalate_to = "city"
confirmed = true

[[chiefs]]
id = "lake-chief"
post = "某湖县级湖长"
level = "县"
email = "huzhang@example.org"
reaches = ["lake"]
channels = ["mail"]
confirmed = false
"""

CHANNELS = """
[[channels]]
id = "robot"
kind = "wecom"
url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=${WECOM_KEY}"
confirmed = false

[[channels]]
id = "ding"
kind = "dingtalk"
url = "https://oapi.dingtalk.com/robot/send?access_token=${DING_TOKEN}"
secret = "${DING_SECRET}"
confirmed = false

[[channels]]
id = "sms"
kind = "sms"
url = "https://sms.example.org/send?token=${SMS_TOKEN}"
template = "SMS_${SMS_TEMPLATE}"
confirmed = false

[[channels]]
id = "mail"
kind = "email"
confirmed = false
"""

OPERATORS = """
[[operators]]
id = "ops"
post = "运维单位"
sections = ["s1", "s2"]
channels = ["mail"]
email = "ops@example.org"
confirmed = false
"""


def _document(*, replace: tuple[str, str] | None = None, extra: str = "") -> str:
    text = REACHES + CHIEFS + CHANNELS + OPERATORS + extra
    if replace is not None:
        old, new = replace
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


@pytest.fixture(scope="module")
def small_registry() -> Registry:
    return parse_registry(REGISTRY_TOML)


@pytest.fixture(scope="module")
def small(small_registry: Registry) -> RiverChiefs:
    return parse_river_chiefs(_document(), registry=small_registry)


def test_a_small_file_loads_with_its_fields(small: RiverChiefs) -> None:
    reach = small.reach("ra")
    assert (reach.from_, reach.to, reach.confirmed, reach.township) == ("甲县入境", "甲县出境",
                                                                        True, None)  # fmt: skip
    chief = small.chief("county-b")
    assert chief.level is ChiefLevel.COUNTY  # "县级" is read as 县
    assert (chief.name, chief.mobile, chief.email) == ("张某", "13912345678", None)
    assert chief.channels == ("sms",) and chief.escalate_to == "city"
    assert small.reach("rb").note == "[A]"
    assert small.source == "<string>"
    assert (small.unreachable, small.uncovered, small.warnings) == ((), (), ())


def test_placeholders_are_kept_verbatim(small: RiverChiefs) -> None:
    ding = small.channel("ding")
    assert ding.url == "https://oapi.dingtalk.com/robot/send?access_token=${DING_TOKEN}"
    assert ding.secret == "${DING_SECRET}"
    assert small.channel("sms").template == "SMS_${SMS_TEMPLATE}"
    assert ding.variables == ("DING_TOKEN", "DING_SECRET")
    assert small.channel("sms").variables == ("SMS_TOKEN", "SMS_TEMPLATE")
    assert placeholders("${A}/${B}/${A}") == ("A", "B", "A")


def test_chiefs_for_section_lowest_level_first(small: RiverChiefs) -> None:
    assert [c.id for c in small.chiefs_for_section("s1")] == ["county-a", "city"]
    assert [c.id for c in small.chiefs_for_section("s2")] == ["county-b", "city"]
    assert small.chiefs_for_section("nowhere") == ()
    assert [c.id for c in small.chiefs_for_reach("ra")] == ["county-a", "city"]


def test_chiefs_for_section_orders_every_level_and_lists_each_chief_once() -> None:
    reaches = """
[[reaches]]
id = "r1"
river = "某河"
county = "a"
sections = ["s"]
confirmed = false

[[reaches]]
id = "r2"
river = "某河"
county = "b"
sections = ["s"]
confirmed = false
"""
    levels = [("p", "省"), ("v1", "村"), ("c", "市"), ("t", "乡镇"), ("k", "县"), ("v2", "村")]
    chiefs = "".join(
        f'[[chiefs]]\nid = "{ident}"\npost = "{ident}"\nlevel = "{level}"\n'
        f'reaches = ["r1", "r2"]\nconfirmed = false\n'
        for ident, level in levels
    )
    parsed = parse_river_chiefs(reaches + chiefs)
    assert [c.id for c in parsed.chiefs_for_section("s")] == ["v1", "v2", "t", "k", "c", "p"]
    # without channels every one of them is unreachable, and said to be
    assert parsed.unreachable == ("p", "v1", "c", "t", "k", "v2")
    assert sum("no channel reaches it" in w for w in parsed.warnings) == 6


def test_escalation_chain_climbs_every_level() -> None:
    text = """
[[reaches]]
id = "r"
river = "某河"
county = "a"
sections = ["s"]
confirmed = false
"""
    for ident, level, up in [("v", "村", "t"), ("t", "乡", "k"), ("k", "县", "c"),
                             ("c", "市", "p"), ("p", "省", None)]:  # fmt: skip
        escalate = f'escalate_to = "{up}"\n' if up else ""
        text += f'[[chiefs]]\nid = "{ident}"\npost = "{ident}"\nlevel = "{level}"\n'
        text += f'reaches = ["r"]\n{escalate}confirmed = false\n'
    parsed = parse_river_chiefs(text)
    chain = parsed.escalation_chain("v")
    assert [c.id for c in chain] == ["v", "t", "k", "c", "p"]
    assert [c.level for c in chain] == sorted(c.level for c in chain)
    assert len({c.level for c in chain}) == len(chain)  # strictly up
    assert parsed.escalation_chain("p") == (parsed.chief("p"),)


def test_a_chief_without_reaches_may_be_an_escalation_target(small_registry: Registry) -> None:
    top = '\n[[chiefs]]\nid = "zong"\npost = "总河长"\nlevel = "市"\nconfirmed = false\n'
    text = _document(
        replace=('level = "市"\nreaches = ["ra", "rb"]', 'level = "县"\nreaches = ["ra", "rb"]'),
        extra=top,
    ).replace('escalate_to = "city"', 'escalate_to = "zong"')
    text = text.replace('level = "县"\nreaches = ["ra", "rb"]',
                        'level = "县"\nreaches = ["ra", "rb"]\nescalate_to = "zong"')  # fmt: skip
    parsed = parse_river_chiefs(text, registry=small_registry)
    assert [c.id for c in parsed.escalation_chain("county-a")] == ["county-a", "zong"]
    assert parsed.chief("zong").reaches == ()
    assert "zong" in parsed.unreachable  # no channel: allowed, flagged


def test_ordering_and_labels_of_levels() -> None:
    assert ChiefLevel.VILLAGE < ChiefLevel.TOWNSHIP < ChiefLevel.COUNTY < ChiefLevel.CITY
    assert ChiefLevel.CITY < ChiefLevel.PROVINCE
    assert [level.label for level in ChiefLevel] == ["村", "乡", "县", "市", "省"]
    assert ChiefLevel.COUNTY.title == "县级"


def test_unreachable_chiefs_and_channels_without_an_address_are_flagged(
    small_registry: Registry,
) -> None:
    text = _document(replace=('mobile = "13912345678"\n', ""))
    text = text.replace('channels = ["robot"]\nescalate_to', "escalate_to")  # county-a: none
    parsed = parse_river_chiefs(text, registry=small_registry)
    assert parsed.unreachable == ("county-a", "county-b")
    assert parsed.warnings == (
        "chiefs[1] (county-a): 没有能送达的通道 / no channel reaches it",
        "chiefs[2] (county-b): 通道 sms 缺手机号，送达不了 / channel 'sms' has no mobile to "
        "deliver to",
        "chiefs[2] (county-b): 没有能送达的通道 / no channel reaches it",
    )


def test_fixed_recipients_reach_anyone(small_registry: Registry) -> None:
    text = _document(
        replace=(
            'id = "mail"\nkind = "email"\n',
            'id = "mail"\nkind = "email"\nto = ["${OFFICE_MAIL}", "a@b.cn"]\n',
        )
    )
    text = text.replace('email = "huzhang@example.org"\n', "")  # fmt: skip
    parsed = parse_river_chiefs(text, registry=small_registry)
    assert parsed.channel("mail").to == ("${OFFICE_MAIL}", "a@b.cn")
    assert parsed.unreachable == ()


def test_uncovered_sections_and_reaches_without_chiefs_are_flagged(
    small_registry: Registry,
) -> None:
    text = _document().replace('reaches = ["lake"]', 'reaches = ["ra"]')
    text = text.replace('river = "某湖"\ncounty = "a"\nsections = ["l1"]',
                        'river = "某河"\ncounty = "a"\nsections = ["s1"]')  # fmt: skip
    parsed = parse_river_chiefs(text, registry=small_registry)
    assert parsed.uncovered == ("l1",)
    assert "reaches[2] (lake): 没有河长 / no chief holds this reach" in parsed.warnings
    assert any(w.startswith("断面 / section l1:") for w in parsed.warnings)
    assert parse_river_chiefs(text).uncovered == ()  # without a registry nothing to compare


def test_load_from_a_file_and_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "chiefs.toml"
    path.write_text(_document(), encoding="utf-8")
    loaded = load_river_chiefs(path)
    assert loaded.source == str(path) and len(loaded.chiefs) == 4
    with pytest.raises(RiverChiefsError, match="cannot read file") as caught:
        load_river_chiefs(tmp_path / "absent.toml")
    assert caught.value.entry == str(tmp_path / "absent.toml")


# --- bad entries: each names the table's entry and the field ------------------------------------

COUNTY_A = 'id = "county-a"\npost = "某河甲县县级河长"\nlevel = "县"\n'
ROBOT = (
    'id = "robot"\nkind = "wecom"\n'
    'url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=${WECOM_KEY}"\n'
)
DING_SECRET = 'secret = "${DING_SECRET}"'

BAD = [
    ("unknown table", None, "[[rivers]]\nid = 1\n", "<string>", "rivers", "unknown field"),
    ("unknown field", ('post = "某河市级河长"', 'post = "某河市级河长"\ncolour = "red"'), "",
     "chiefs[0] (city)", "colour", "unknown field"),
    ("missing post", ('post = "某河甲县县级河长"\n', ""), "", "chiefs[1] (county-a)", "post",
     "required field is missing"),
    ("empty post", ('post = "某河甲县县级河长"', 'post = " "'), "", "chiefs[1] (county-a)",
     "post", "non-empty text"),
    ("duplicate reach", ('id = "rb"', 'id = "ra"'), "", "reaches[1] (ra)", "id", "duplicate id"),
    ("duplicate chief", ('id = "county-b"', 'id = "county-a"'), "", "chiefs[2] (county-a)", "id",
     "duplicate id"),
    ("duplicate channel", ('id = "ding"', 'id = "robot"'), "", "channels[1] (robot)", "id",
     "duplicate id"),
    ("twice the same reach", ('reaches = ["ra", "rb"]', 'reaches = ["ra", "ra"]'), "",
     "chiefs[0] (city)", "reaches", "duplicate ids ra"),
    ("unknown reach", ('reaches = ["rb"]', 'reaches = ["rc"]'), "", "chiefs[2] (county-b)",
     "reaches", "unknown reach 'rc'"),
    ("unknown channel", ('channels = ["sms"]', 'channels = ["pigeon"]'), "",
     "chiefs[2] (county-b)", "channels", "unknown channel 'pigeon'"),
    ("unknown escalation", (COUNTY_A + 'reaches = ["ra"]\nchannels = ["robot"]\n'
                            'escalate_to = "city"',
                            COUNTY_A + 'reaches = ["ra"]\nchannels = ["robot"]\n'
                            'escalate_to = "mayor"'),
     "", "chiefs[1] (county-a)", "escalate_to", "unknown chief 'mayor'"),
    ("escalation to the same level", ('level = "市"', 'level = "县"'), "",
     "chiefs[1] (county-a)", "escalate_to", "must escalate to a higher level"),
    ("escalation down", ('level = "市"', 'level = "村"'), "", "chiefs[1] (county-a)",
     "escalate_to", "must escalate to a higher level"),
    ("escalation to itself", ('escalate_to = "city"\nconfirmed = false',
                              'escalate_to = "county-a"\nconfirmed = false'), "",
     "chiefs[1] (county-a)", "escalate_to", "must escalate to a higher level"),
    ("escalation loop", ('channels = ["robot", "ding"]\nconfirmed = false',
                         'channels = ["robot", "ding"]\nescalate_to = "county-a"\n'
                         'confirmed = false'), "", "chiefs[0] (city)", "escalate_to",
     "must escalate to a higher level"),
    ("bad level", ('level = "市"', 'level = "区"'), "", "chiefs[0] (city)", "level",
     "must be one of them"),
    ("level not text", ('level = "市"', "level = 4"), "", "chiefs[0] (city)", "level",
     "must be one of them"),
    ("no reach, no escalation", ('reaches = ["lake"]\n', ""), "", "chiefs[3] (lake-chief)",
     "reaches", "nobody's escalation target"),
    ("bad mobile", ('mobile = "13912345678"', 'mobile = "1391234567"'), "",
     "chiefs[2] (county-b)", "mobile", "11-digit mobile"),
    ("landline", ('mobile = "13912345678"', 'mobile = "0318-1234567"'), "",
     "chiefs[2] (county-b)", "mobile", "11-digit mobile"),
    ("bad email", ('email = "huzhang@example.org"', 'email = "huzhang@example"'), "",
     "chiefs[3] (lake-chief)", "email", "not an e-mail address"),
    ("confirmed not bool", ('channels = ["mail"]\nconfirmed = false',
                            'channels = ["mail"]\nconfirmed = "no"'), "",
     "chiefs[3] (lake-chief)", "confirmed", "must be a boolean"),
    ("bad kind", ('kind = "wecom"', 'kind = "telegram"'), "", "channels[0] (robot)", "kind",
     "must be one of them"),
    ("robot without url", (ROBOT, 'id = "robot"\nkind = "wecom"\n'), "", "channels[0] (robot)",
     "url", "needs it"),
    ("wecom with secret", (ROBOT, ROBOT + DING_SECRET + "\n"), "", "channels[0] (robot)",
     "secret", "takes no 'secret'"),
    ("robot with recipients", (ROBOT, ROBOT + 'to = ["a@b.cn"]\n'), "", "channels[0] (robot)",
     "to", "takes no 'to'"),
    ("e-mail with url", ('kind = "email"', 'kind = "email"\nurl = "https://mail.example.org"'),
     "", "channels[3] (mail)", "url", "takes no 'url'"),
    ("not http", ("https://oapi.dingtalk.com", "ftp://oapi.dingtalk.com"), "",
     "channels[1] (ding)", "url", "not an http(s) URL"),
    ("no host", ("https://oapi.dingtalk.com/robot/send", "https:///robot/send"), "",
     "channels[1] (ding)", "url", "not an http(s) URL"),
    ("key in the url", ("key=${WECOM_KEY}", "key=693a91f6-7xxx"), "", "channels[0] (robot)",
     "url", "credential in a URL must be a ${VAR} placeholder"),
    ("password in the url", ("https://sms.example.org", "https://u:pw@sms.example.org"), "",
     "channels[2] (sms)", "url", "credential in a URL"),
    ("secret written out", (DING_SECRET, 'secret = "SEC0123456789abcdef"'), "",
     "channels[1] (ding)", "secret", "must be a ${VAR} placeholder"),
    ("malformed placeholder", ("${DING_TOKEN}", "${DING_TOKEN"), "", "channels[1] (ding)",
     "url", "malformed placeholder"),
    ("malformed placeholder in template", ("SMS_${SMS_TEMPLATE}", "SMS_${1X}"), "",
     "channels[2] (sms)", "template", "malformed placeholder"),
    ("bad sms recipient", ('template = "SMS_${SMS_TEMPLATE}"',
                           'template = "SMS_${SMS_TEMPLATE}"\nto = ["110"]'), "",
     "channels[2] (sms)", "to", "11-digit mobile"),
    ("bad e-mail recipient", ('kind = "email"', 'kind = "email"\nto = ["office"]'), "",
     "channels[3] (mail)", "to", "not an e-mail address"),
    ("empty recipients", ('kind = "email"', 'kind = "email"\nto = []'), "", "channels[3] (mail)",
     "to", "must not be empty"),
    ("unknown section", ('sections = ["s2"]', 'sections = ["s9"]'), "", "reaches[1] (rb)",
     "sections", "unknown section 's9'"),
    ("no sections", ('sections = ["s2"]', "sections = []"), "", "reaches[1] (rb)", "sections",
     "must not be empty"),
    ("sections not a list", ('sections = ["s2"]', 'sections = "s2"'), "", "reaches[1] (rb)",
     "sections", "must be a list of ids"),
    ("unknown county", ('county = "b"', 'county = "c"'), "", "reaches[1] (rb)", "county",
     "unknown county 'c'"),
    ("section on another river", ('sections = ["l1"]', 'sections = ["s1"]'), "",
     "reaches[2] (lake)", "sections", "is on 某河, not on 某湖"),
    ("operator's unknown section", ('sections = ["s1", "s2"]', 'sections = ["s1", "x"]'), "",
     "operators[0] (ops)", "sections", "unknown section 'x'"),
    ("operator's unknown channel", ('channels = ["mail"]\nemail = "ops@example.org"',
                                    'channels = ["fax"]\nemail = "ops@example.org"'), "",
     "operators[0] (ops)", "channels", "unknown channel 'fax'"),
    ("operator's bad mobile", ('email = "ops@example.org"', 'mobile = "12345678901"'), "",
     "operators[0] (ops)", "mobile", "11-digit mobile"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("replace", "extra", "entry", "field", "message"),
    [case[1:] for case in BAD],
    ids=[case[0] for case in BAD],
)
def test_each_bad_entry_names_its_entry_and_field(
    small_registry: Registry,
    replace: tuple[str, str] | None,
    extra: str,
    entry: str,
    field: str,
    message: str,
) -> None:
    with pytest.raises(RiverChiefsError) as caught:
        parse_river_chiefs(_document(replace=replace, extra=extra), registry=small_registry)
    error = caught.value
    assert (error.entry, error.field) == (entry, field)
    assert f"{entry}, field '{field}'" in str(error)
    assert message in str(error)
    assert isinstance(error, SectionsError) and error.exit_code == 2


@pytest.mark.parametrize(
    ("text", "entry", "message"),
    [
        ("[[reaches]\n", "<string>", "TOML syntax error"),
        (REACHES, "<string>", "required field is missing"),
        ("chiefs = 3\n" + REACHES, "chiefs", "must be an array of tables"),
        ("chiefs = []\n" + REACHES, "chiefs", "needs at least one entry"),
    ],
    ids=["syntax", "no chiefs", "chiefs not tables", "no chief"],
)
def test_bad_documents_name_the_table(text: str, entry: str, message: str) -> None:
    with pytest.raises(RiverChiefsError, match=message) as caught:
        parse_river_chiefs(text)
    assert caught.value.entry == entry


def test_sections_are_only_checked_against_a_registry_when_given() -> None:
    text = _document(replace=('sections = ["s2"]', 'sections = ["s9"]'))
    assert parse_river_chiefs(text).reach("rb").sections == ("s9",)

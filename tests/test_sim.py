"""``pyroute simulate``: scenarios, the loop over the real Router, reports, the CLI.

Theory checks live in test_sim_theory.py; this file checks behaviour: determinism, the
native and reference engines giving the same report, common random numbers across
variants, shifts, recorded arrivals, what-if edits, and every bad input the issue names.
"""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from pyroute import ConfigError
from pyroute.cli import main
from pyroute.sim import load_scenario, scenario_from, simulate
from pyroute.sim.whatif import apply_edits

EXAMPLE = Path(__import__("pyroute.sim", fromlist=["x"]).__file__).parent / "example.toml"


def short_example(**changes):
    sc = load_scenario(EXAMPLE)
    data = msgspec.json.decode(msgspec.json.encode(sc))
    data.update({"duration": 3600.0, "warmup": 600.0, **changes})
    return scenario_from(data)


def same(a, b, *also) -> bool:
    da, db = msgspec.to_builtins(a), msgspec.to_builtins(b)
    for key in ("wall_seconds", "engine", *also):
        da.pop(key)
        db.pop(key)
    return da == db


def basic(**traffic):
    t = {"channel": "web", "group": "g", "rate": 0.05, "handle": {"dist": "exp", "mean": 60.0}}
    t.update(traffic)
    return {"duration": 3600.0, "seed": 3,
            "router": {"channels": [{"name": "web", "target_wait": 30.0}],
                       "groups": [{"name": "g"}]},
            "operators": [{"name": "op", "count": 3, "limit": 2, "groups": ["g"]}],
            "traffic": [t]}


def test_same_seed_same_report_and_seed_matters():
    sc = short_example()
    a, b = simulate(sc), simulate(sc)
    assert same(a, b)
    c = simulate(sc, seed=99)
    assert not same(a, c)


def test_native_and_reference_engines_give_the_same_report():
    sc = short_example()
    native, ref = simulate(sc), simulate(sc, engine="reference")
    assert ref.engine == "reference" and native.engine == "native"
    assert same(native, ref)


def test_report_adds_up():
    r = simulate(short_example())
    o = r.overall
    assert o.offered == sum(k.offered for k in r.channels.values())
    # groups count stays: every arrival, and every escalation or transfer into a group
    assert o.offered + o.escalated + o.transferred == sum(k.offered for k in r.groups.values())
    assert o.escalated == sum(k.escalated for k in r.groups.values())
    assert o.answered == sum(k.answered for k in r.channels.values())
    # every counted conversation has exactly one outcome
    assert o.answered + o.abandoned + o.cancelled_early + o.rejected + o.unresolved == o.offered
    assert 0 < o.occupancy < 1 and 0 < r.spread.jain <= 1
    assert o.service_level <= o.service_level_answered
    assert o.asa >= 0 and o.mean_wait >= 0
    assert len(r.queue.times) == len(r.queue.total) > 10
    assert sum(r.wait_histogram[1]) == o.answered
    assert len(r.batches) == 20 and sum(b.offered for b in r.batches) == o.offered
    assert o.escalated > 0 and o.transferred > 0   # the example escalates and transfers
    assert r.groups["tech"].occupancy > 0          # escalations reached the hidden group


def group_rows_are_the_work_each_handled(r):
    """Every group and line row is the stays it handled: answered there or left from its
    queue; each of its rates a share of at most all of them."""
    for row in [*r.groups.values(), *r.lines.values()]:
        assert row.answered + row.abandoned + row.cancelled_early + row.rejected \
            + row.unresolved == row.offered
        for rate in (row.p_wait, row.p_abandon, row.service_level,
                     row.service_level_answered):
            assert rate is None or 0.0 <= rate <= 1.0
    # lines sum their groups (the example: bot on line 0, first_line 1, tech and billing 2)
    assert r.lines[2].offered == r.groups["tech"].offered + r.groups["billing"].offered
    assert r.lines[1].answered == r.groups["first_line"].answered
    assert sum(k.offered for k in r.lines.values()) == sum(k.offered for k in r.groups.values())


@pytest.mark.parametrize("edits", ["", "operators.veteran.count=2"])
def test_tech_reached_only_by_escalation_and_overflow_shows_its_own_work(edits):
    r = simulate(apply_edits(load_scenario(EXAMPLE), edits))
    tech = r.groups["tech"]
    assert tech.offered > 0 and tech.answered <= tech.offered
    assert tech.p_wait <= 1.0              # "waited" was 100 % and 600 % before
    # escalations from first_line and its overflow after 120 s both land in tech
    assert tech.offered > r.groups["first_line"].escalated
    assert r.groups["first_line"].escalated > 0
    group_rows_are_the_work_each_handled(r)
    o = r.overall
    assert o.offered == sum(k.offered for k in r.channels.values())
    assert o.answered == sum(k.answered for k in r.channels.values())
    assert o.offered + o.escalated + o.transferred == sum(k.offered for k in r.groups.values())


def test_common_random_numbers_across_variants():
    """A variant sees the same customers: the same arrivals per channel."""
    sc = short_example()
    variant = apply_edits(sc, "groups.first_line.policy=round_robin,operators.veteran.count=3")
    a, b = simulate(sc), simulate(variant)
    assert [k.offered for k in a.channels.values()] == [k.offered for k in b.channels.values()]
    assert a.conversations == b.conversations
    assert a.overall.asa != b.overall.asa   # fewer veterans: a different floor


def test_shift_ends_leave_work_unresolved_and_occupancy_counts_online_time():
    data = basic()
    data["operators"][0]["shift"] = [0, 1800]
    r = simulate(scenario_from(data))
    assert r.overall.unresolved > 0
    # the customers left waiting show in their channel's and their group's rows too
    assert r.channels["web"].unresolved == r.groups["g"].unresolved == r.overall.unresolved
    w = r.channels["web"]
    assert w.answered + w.abandoned + w.cancelled_early + w.rejected + w.unresolved == w.offered
    assert all(o.online == pytest.approx(1800) for o in r.operators.values())
    data["operators"][0]["breaks"] = [[600, 900]]
    r2 = simulate(scenario_from(data))
    assert all(o.online == pytest.approx(1500) for o in r2.operators.values())


def test_patience_and_early_cancels():
    data = basic(rate=0.4, patience={"dist": "fixed", "mean": 25.0}, early_cancel_share=0.2)
    r = simulate(scenario_from(data))
    assert r.overall.abandoned > 0 and r.overall.cancelled_early > 0
    assert r.overall.wait_p99 <= 25.0 + 1e-9
    # a customer whose patience runs out sooner than early_cancel (20 s) is an early
    # cancel, as the router counts it (docs/semantics.md, "Glossary of outcomes")
    data = basic(rate=0.4, patience={"dist": "fixed", "mean": 10.0})
    r = simulate(scenario_from(data))
    assert r.overall.abandoned == 0 and r.overall.cancelled_early > 0
    assert r.overall.p_abandon == 0.0


def test_offers_are_accepted_at_once():
    data = basic()
    data["router"]["groups"][0]["accept_timeout"] = 30.0
    a = simulate(scenario_from(data))
    assert a.overall.answered > 0
    data["router"]["groups"][0].pop("accept_timeout")
    assert same(a, simulate(scenario_from(data)), "router_calls")   # + one accept each


def test_recorded_arrivals_csv_and_jsonl(tmp_path):
    rows = [(10.0 * i, "web", "g", 30.0, None) for i in range(100)]
    csv = "time,channel,group,handle,patience\n" + "".join(
        f"{t},{c},{g},{h},\n" for t, c, g, h, _ in rows)
    (tmp_path / "a.csv").write_text(csv)
    (tmp_path / "a.jsonl").write_text("".join(
        json.dumps({"time": t, "channel": c, "group": g, "handle": h}) + "\n"
        for t, c, g, h, _ in rows))
    reports = []
    for name in ("a.csv", "a.jsonl"):
        data = basic(recorded=name)
        del data["traffic"][0]["rate"]
        reports.append(simulate(scenario_from(data, base=tmp_path), base=tmp_path))
    a, b = reports
    assert a.overall.offered == 100 and same(a, b)
    assert a.overall.asa == 0.0   # 30 s conversations every 10 s: 6 slots are plenty


# ------------------------------------------------------------------ bad input
def write(tmp_path, text, name="s.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


GOOD = """
duration = 3600
[router]
[[router.channels]]
name = "web"
[[router.groups]]
name = "g"
[[operators]]
name = "op"
groups = ["g"]
[[traffic]]
channel = "web"
group = "g"
rate = 0.01
"""


def test_good_scenario_loads(tmp_path):
    assert load_scenario(write(tmp_path, GOOD)).duration == 3600


@pytest.mark.parametrize("edit, words", [
    (("rate = 0.01", "rate = 0.01\nspeed = 3"), ["s.toml", "speed"]),
    (("rate = 0.01", "rate = -1.0"), ["s.toml", "$.traffic[0].rate"]),
    (('channel = "web"\ngroup', 'channel = "fax"\ngroup'), ["$.traffic[0].channel", "fax"]),
    (('groups = ["g"]', 'groups = ["nope"]'), ["$.operators[0].groups[0]", "nope"]),
    (("rate = 0.01", ""), ["rate, rates or recorded"]),
    (("rate = 0.01", 'rate = 0.01\nrecorded = "x.csv"'), ["exactly one"]),
    (("duration = 3600", "duration = 0"), ["$.duration"]),
    (("rate = 0.01", "rate = 0.01\nhandle = { dist = 'lognormal', mean = 3.0 }"), ["sd"]),
    (("rate = 0.01", "rate = 0.01\ntransfer = 0.5"), ["transfer_to"]),
    (("duration = 3600", "duration = 3600\n[["), ["not valid TOML"]),
])
def test_bad_scenarios_name_the_field(tmp_path, edit, words):
    text = GOOD.replace(*edit)
    with pytest.raises(ConfigError) as e:
        load_scenario(write(tmp_path, text))
    for w in words:
        assert w in str(e.value)


@pytest.mark.parametrize("content, words", [
    ("when,channel,group\n1,web,g\n", ["a.csv:1", "header"]),
    ("time,channel,group\n1,web,g\nx,web,g\n", ["a.csv:3", "'x'"]),
    ("time,channel,group\n1,web\n", ["a.csv:2", "fields"]),
    ("time,channel,group\n1,fax,g\n", ["a.csv", "row 1", "fax"]),
    ("time,channel,group\n5,web,g\n1,web,g\n", ["time order"]),
    ("time,channel,group,handle\n1,web,g,-3\n", ["a.csv:2", "handle"]),
    ("time,channel,group,mood\n1,web,g,ok\n", ["a.csv:1", "mood"]),
])
def test_malformed_recorded_files_name_the_line(tmp_path, content, words):
    (tmp_path / "a.csv").write_text(content)
    text = GOOD.replace("rate = 0.01", 'recorded = "a.csv"')
    with pytest.raises(ConfigError) as e:
        load_scenario(write(tmp_path, text))
    for w in words:
        assert w in str(e.value)


def test_malformed_jsonl_names_the_line(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"time": 1, "channel": "web", "group": "g"}\n{"time": "x"}\n')
    text = GOOD.replace("rate = 0.01", 'recorded = "a.jsonl"')
    with pytest.raises(ConfigError, match="a.jsonl:2"):
        load_scenario(write(tmp_path, text))


@pytest.mark.parametrize("spec, words", [
    ("groups.nope.policy=even", ["no item 'nope'"]),
    ("groups.first_line.policy=fastest", ["policy"]),
    ("operators.veteran.count=-1", ["count"]),
    ("justtext", ["PATH=VALUE"]),
    ("duration.x=1", ["not a table"]),
])
def test_bad_edits(spec, words):
    with pytest.raises(ConfigError) as e:
        apply_edits(load_scenario(EXAMPLE), spec)
    for w in words:
        assert w in str(e.value)


@pytest.mark.parametrize("kw", [{"engine": "fast"}, {"seed": -1}, {"seed": "1"}])
def test_bad_simulate_arguments(kw):
    with pytest.raises(ConfigError):
        simulate(load_scenario(EXAMPLE), **kw)
    with pytest.raises(ConfigError):
        simulate({"duration": 1})


# ------------------------------------------------------------------ the command line
def test_cli_runs_the_bundled_example(capsys):
    assert main(["simulate", "--seed", "2"]) == 0
    out = capsys.readouterr().out
    assert "overall" in out and "channel web" in out and "Jain" in out


def test_cli_json_html_compare_and_set(tmp_path, capsys):
    a = write(tmp_path, GOOD, "a.toml")
    b = write(tmp_path, GOOD.replace("rate = 0.01", "rate = 0.02"), "b.toml")
    html = tmp_path / "out.html"
    assert main(["simulate", str(a), "--compare", str(b), "--set", "operators.op.count=2",
                 "--json", "--html", str(html)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["label"] for d in data] == ["a", "b", "operators.op.count=2"]
    assert data[1]["overall"]["offered"] > data[0]["overall"]["offered"]
    page = html.read_text()
    # per configuration: the queue chart and the load chart, and the waits as a table
    # against each channel's target; the what-if table first
    assert page.startswith("<!doctype html>") and page.count("<svg") == 6
    assert page.count("against each channel's target") == 3
    assert page.index("What-if against") < page.index("<h2>a</h2>")
    assert "<script" not in page
    assert main(["simulate", str(a), "--set", "operators.op.count=2"]) == 0
    assert "what-if" in capsys.readouterr().out


def test_cli_errors_exit_1_and_write_nothing(tmp_path, capsys):
    bad = write(tmp_path, GOOD.replace("rate = 0.01", "rate = -1.0"))
    html = tmp_path / "out.html"
    assert main(["simulate", str(bad), "--html", str(html)]) == 1
    err = capsys.readouterr().err
    assert "$.traffic[0].rate" in err and "s.toml" in err
    assert not html.exists() and list(tmp_path.iterdir()) == [bad]
    assert main(["simulate", str(tmp_path / "missing.toml")]) == 1
    assert main(["simulate", "--set", "nothing"]) == 1
    assert main(["simulate", "--html", str(tmp_path / "no" / "dir.html")]) == 1


def test_hourly_rates_shape_the_arrivals():
    rates = [0.0] * 24
    rates[1] = 0.1                      # only between 01:00 and 02:00
    data = basic(rates=rates)
    del data["traffic"][0]["rate"]
    data["duration"] = 3 * 3600.0
    data["sample_every"] = 600.0
    r = simulate(scenario_from(data))
    assert 300 < r.overall.offered < 430            # ~ 0.1/s for one hour
    hours = [b.offered for b in r.batches]          # 20 slices of 9 minutes
    assert sum(hours[:6]) == 0 and sum(hours[14:]) == 0 and sum(hours[7:13]) > 0


def test_bots_resolve_their_share_and_escalate_the_rest():
    data = basic(group="bot", bot_resolve=0.4, rate=0.05)
    data["router"]["groups"] = [{"name": "bot", "line": 0, "escalate_to": "g"},
                                {"name": "g", "hidden": True}]
    data["operators"] = [{"name": "bot", "kind": "bot", "limit": 1000, "groups": ["bot"]},
                         {"name": "op", "count": 5, "limit": 3, "groups": ["g"]}]
    data["duration"] = 20000.0
    r = simulate(scenario_from(data))
    o = r.overall
    assert o.answered == o.offered and o.asa == 0.0      # the bot answers at once
    assert 0.55 < o.escalated / o.offered < 0.65          # 1 - bot_resolve
    assert r.groups["g"].occupancy > 0 and r.operators["bot-1"].handled > 0


def test_progress_bar_on_long_runs_does_not_change_the_report():
    sc = load_scenario(EXAMPLE)
    long = msgspec.structs.replace(sc, duration=40 * 3600.0)
    assert same(simulate(long, progress=True), simulate(long))


def test_honest_charts_waits_against_targets_bots_apart_warmup_shaded(tmp_path):
    """Issue 14, point 2: each channel's waits are binned against its own target (an
    e-mail's hours do not stretch the chat bins), bots are apart from people, and the
    queue chart runs on the scenario's clock with the warm-up greyed out."""
    from pyroute.sim.present import html_page
    from pyroute.sim.report import TARGET_SHARES
    r = simulate(load_scenario(EXAMPLE))
    for name, counts in r.channel_waits.items():
        assert len(counts) == len(TARGET_SHARES) + 2
        assert sum(counts) == r.channels[name].answered, name
    # web's target is 30 s: what waited past it is in the bins past 1x
    beyond = sum(r.channel_waits["web"][TARGET_SHARES.index(1.0) + 2:])
    web = r.channels["web"]
    assert beyond == web.answered - round(web.service_level_answered * web.answered)
    assert r.bots == ["assistant-1"]
    page = html_page([r], ["example"])
    assert "warm-up" in page and "00:00" in page and "08:00" in page
    humans_chart = page[page.index("Load per human operator"):]
    assert "assistant-1" not in humans_chart.split("Bots (apart")[0]
    assert "Bots (apart" in page

"""Benchmark: bonus points for a basket against a compiled rule book.

    python -m hub.bench_rules            # 1,000 rules, 50-line baskets, prints JSON
    python -m hub.bench_rules 5000 100   # rules, lines

Rules and baskets are random but seeded (same figures' inputs every run): 20 stores, 3,000
articles in 100 product groups, 200 toppings in 20 topping groups; rules of every kind with
store subsets, channel and weekday restrictions, validity windows and some deactivated; baskets
with menus (components + toppings), toppings on articles and voucher-covered lines. Time covers
`RuleBook.awards_for_order` only (the book is compiled once, as the hub does when rules change);
compile time is reported separately.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import statistics
import sys
import time

from hub.loyalty.point_rules import (
    ALL_CHANNELS_IN,
    ALL_CHANNELS_OUT,
    Basket,
    BasketLine,
    BonusSettings,
    ChannelIn,
    ChannelOut,
    ExpiryKind,
    LineKind,
    Rule,
    RuleBook,
    RuleKind,
    Target,
)

STORES = [f"s{i}" for i in range(20)]
ARTICLES = 3000
GROUPS = 100
TOPPINGS = 200
TOPPING_GROUPS = 20
VOUCHER_TYPES = ["v-menu", "v-drink", "v-kids"]
NOW = dt.datetime(2025, 7, 16, 12, 0, tzinfo=dt.UTC)  # a Wednesday in high season


def group_of(article: int) -> str:
    return f"g{article % GROUPS}"


def tgroup_of(topping: int) -> str:
    return f"tg{topping % TOPPING_GROUPS}"


def random_rules(n: int, rnd: random.Random) -> list[Rule]:
    kinds = (
        [RuleKind.ARTICLE] * 45
        + [RuleKind.PRODUCT_GROUP] * 25
        + [RuleKind.TOPPING] * 10
        + [RuleKind.TOPPING_GROUP] * 5
        + [RuleKind.BASKET_VALUE] * 10
        + [RuleKind.REGISTRATION] * 5
    )
    rules = []
    for i in range(1, n + 1):
        kind = rnd.choice(kinds)
        common = dict(
            id=i,
            name=f"rule {i}",
            kind=kind,
            active=rnd.random() < 0.9,
            stores=frozenset(STORES)
            if rnd.random() < 0.5
            else frozenset(rnd.sample(STORES, rnd.randint(0, 8))),
            channels_in=ALL_CHANNELS_IN if rnd.random() < 0.7 else frozenset(rnd.sample(list(ChannelIn), 2)),
            channels_out=ALL_CHANNELS_OUT
            if rnd.random() < 0.7
            else frozenset(rnd.sample(list(ChannelOut), 2)),
            weekdays=frozenset(range(7)) if rnd.random() < 0.8 else frozenset(rnd.sample(range(7), 3)),
            on_holidays=rnd.random() < 0.8,
        )
        if rnd.random() < 0.3:
            start = NOW + dt.timedelta(days=rnd.randint(-60, 30))
            common.update(valid_from=start, valid_to=start + dt.timedelta(days=rnd.randint(1, 60)))
        if kind is RuleKind.ARTICLE:
            ids = rnd.sample(range(ARTICLES), rnd.randint(1, 10))
            targets = tuple(
                Target(
                    a,
                    rnd.randint(1, 20),
                    exclusive_voucher_types=frozenset(rnd.sample(VOUCHER_TYPES, 1))
                    if rnd.random() < 0.2
                    else frozenset(),
                    exclude_menu_contents=rnd.random() < 0.1,
                )
                for a in ids
            )
            rules.append(Rule(**common, targets=targets))
        elif kind is RuleKind.PRODUCT_GROUP:
            rules.append(
                Rule(
                    **common,
                    targets={
                        f"g{g}": rnd.randint(1, 5) for g in rnd.sample(range(GROUPS), rnd.randint(1, 3))
                    },
                )
            )
        elif kind is RuleKind.TOPPING:
            rules.append(
                Rule(
                    **common,
                    targets={t: rnd.randint(1, 3) for t in rnd.sample(range(TOPPINGS), rnd.randint(1, 5))},
                )
            )
        elif kind is RuleKind.TOPPING_GROUP:
            rules.append(
                Rule(
                    **common,
                    targets={
                        f"tg{t}": rnd.randint(1, 3)
                        for t in rnd.sample(range(TOPPING_GROUPS), rnd.randint(1, 2))
                    },
                )
            )
        elif kind is RuleKind.BASKET_VALUE:
            rules.append(
                Rule(
                    **common,
                    amount_per_point=rnd.choice([100, 500, 1000, 2000]),
                    include_redeemed=rnd.random() < 0.5,
                    include_small_quantity_surcharge=rnd.random() < 0.5,
                    include_delivery_fee=rnd.random() < 0.5,
                )
            )
        else:
            rules.append(
                Rule(
                    **common,
                    points=rnd.randint(10, 500),
                    immediately_redeemable=rnd.random() < 0.5,
                    expiry=rnd.choice(list(ExpiryKind)),
                    expiry_days=rnd.randint(30, 365),
                    expiry_date=dt.date(2026, 12, 31),
                )
            )
    return rules


def random_basket(n_lines: int, rnd: random.Random) -> Basket:
    lines: list[BasketLine] = []

    def add(**kw) -> int:
        lid = len(lines) + 1
        lines.append(BasketLine(line_id=lid, **kw))
        return lid

    while len(lines) < n_lines:
        room = n_lines - len(lines)
        r = rnd.random()
        if r < 0.1 and room >= 5:  # a menu: 3 components, a topping on one of them
            m = rnd.randrange(ARTICLES)
            menu = add(
                article_id=m,
                product_group_id=group_of(m),
                kind=LineKind.MENU,
                quantity=rnd.randint(1, 2),
                unit_price=rnd.randint(800, 2500),
                voucher_type=rnd.choice(VOUCHER_TYPES) if rnd.random() < 0.1 else None,
            )
            comps = []
            for _ in range(3):
                a = rnd.randrange(ARTICLES)
                comps.append(
                    add(
                        article_id=a,
                        product_group_id=group_of(a),
                        kind=LineKind.COMPONENT,
                        parent_id=menu,
                        quantity=1,
                        unit_price=0,
                    )
                )
            t = rnd.randrange(TOPPINGS)
            add(
                article_id=t,
                topping_group_id=tgroup_of(t),
                kind=LineKind.TOPPING,
                parent_id=rnd.choice(comps),
                unit_price=rnd.randint(0, 150),
            )
        elif r < 0.3 and room >= 2:  # an article with a topping
            a = rnd.randrange(ARTICLES)
            parent = add(
                article_id=a,
                product_group_id=group_of(a),
                quantity=rnd.randint(1, 3),
                unit_price=rnd.randint(100, 1500),
            )
            t = rnd.randrange(TOPPINGS)
            add(
                article_id=t,
                topping_group_id=tgroup_of(t),
                kind=LineKind.TOPPING,
                parent_id=parent,
                quantity=1,
                unit_price=rnd.randint(0, 150),
            )
        else:
            a = rnd.randrange(ARTICLES)
            add(
                article_id=a,
                product_group_id=group_of(a),
                quantity=rnd.randint(1, 4),
                unit_price=rnd.randint(100, 1500),
                voucher_type=rnd.choice(VOUCHER_TYPES) if rnd.random() < 0.05 else None,
            )
    total = sum(line.quantity * line.unit_price for line in lines)
    return Basket(
        lines=lines,
        small_quantity_surcharge=rnd.choice([0, 0, 200]),
        delivery_fee=rnd.choice([0, 0, 500]),
        redeemed_points_value=rnd.choice([0, 0, 0, total // 4]),
        voucher_discount=rnd.choice([0, 0, 0, 1000]) if total > 1000 else 0,
    )


def bench(rules: int = 1000, lines: int = 50, repeat: int = 2000, seed: int = 3) -> dict:
    rnd = random.Random(seed)
    rule_list = random_rules(rules, rnd)
    settings = BonusSettings(hours_until_available=24, default_validity_days=365, enabled_stores=STORES)
    t0 = time.perf_counter()
    book = RuleBook(rule_list, settings)
    compile_ms = (time.perf_counter() - t0) * 1000
    baskets = [random_basket(lines, rnd) for _ in range(100)]
    orders = [
        dict(
            store=rnd.choice(STORES),
            channel_in=rnd.choice(list(ChannelIn)),
            channel_out=rnd.choice(list(ChannelOut)),
            at=NOW + dt.timedelta(minutes=rnd.randint(0, 60 * 24 * 7)),
            tz="Europe/Zurich",
            holidays=frozenset({dt.date(2025, 8, 1)}),
            ref=f"order-{i}",
        )
        for i in range(100)
    ]
    for i in range(min(200, repeat)):  # warm-up
        book.awards_for_order(baskets[i % 100], **orders[i % 100])
    samples = []
    awards = points = 0
    perf = time.perf_counter_ns
    for i in range(repeat):
        b, o = baskets[i % 100], orders[(i * 7) % 100]
        t = perf()
        result = book.awards_for_order(b, **o)
        samples.append(perf() - t)
        awards += len(result)
        points += sum(a.points for a in result)
    samples.sort()
    ms = [s / 1e6 for s in samples]
    return {
        "rules": rules,
        "lines": lines,
        "repeat": repeat,
        "p50_ms": round(ms[len(ms) // 2], 4),
        "p99_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 4),
        "mean_ms": round(statistics.fmean(ms), 4),
        "max_ms": round(ms[-1], 4),
        "compile_ms": round(compile_ms, 2),
        "awards_per_order": round(awards / repeat, 1),
        "points_per_order": round(points / repeat, 1),
    }


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    rules = int(argv[0]) if argv else 1000
    lines = int(argv[1]) if len(argv) > 1 else 50
    print(json.dumps(bench(rules=rules, lines=lines)))


if __name__ == "__main__":
    main()

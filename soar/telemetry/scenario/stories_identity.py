"""Identity attack stories: credential stuffing, password spraying, a stolen session, an Okta admin takeover."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from soar.telemetry.scenario.envoy import emit_envoy
from soar.telemetry.scenario.flows import AUTH_PATH, TOKEN_PATH, Where, account_view, ingress, later, sign_in
from soar.telemetry.scenario.ids import hex_id, okta_id
from soar.telemetry.scenario.keycloak import CLIENTS, user_event
from soar.telemetry.scenario.model import StoryTruth
from soar.telemetry.scenario.okta import OktaEvent, emit_okta, named_target, user_target
from soar.telemetry.scenario.recorder import Context, Trail
from soar.telemetry.scenario.story import StoryInfo, truth
from soar.telemetry.scenario.world import FIRST_NAMES, LAST_NAMES, public_ip

BOT_AGENT = "python-requests/2.31.0"
CREDENTIAL_STUFFING = StoryInfo(
    "credential-stuffing",
    "Credential stuffing against customer sign-in",
    "A botnet replays leaked username/password pairs against the retail realm: many LOGIN_ERROR events "
    "across many usernames from three addresses within minutes, then one LOGIN succeeds.",
    ("T1110.004",),
)
PASSWORD_SPRAYING = StoryInfo(
    "password-spraying",
    "Password spraying against the workforce Okta",
    "One address tries one password against many employees: user.session.start FAILURE for each, "
    "then one password is right but MFA stops the attacker.",
    ("T1110.003",),
)
TOKEN_TWO_COUNTRIES = StoryInfo(
    "token-two-countries",
    "A customer session used from two countries within minutes",
    "A customer signs in from home; minutes later the same Keycloak session's refresh token is used from an "
    "address in another country, which then views accounts.",
    ("T1550.001", "T1539"),
)
OKTA_ADMIN_TAKEOVER = StoryInfo(
    "okta-admin-takeover",
    "Compromised Okta admin resets MFA and grants admin rights",
    "An Okta admin's session from an unusual hosting address resets a colleague's MFA factors, deactivates "
    "a factor and grants Super Administrator to a second account, adding it to the admin group.",
    ("T1556.006", "T1098.003", "T1078.004"),
)


def credential_stuffing(ctx: Context) -> StoryTruth:
    """Many failed customer logins over many usernames from a few addresses, then one success."""
    rng, trail = ctx.rng, Trail()
    attempts = ctx.scaled(160, minimum=40)
    at = ctx.place(timedelta(minutes=12))
    bots = [(public_ip(rng, c), c) for c in ("NL", "VN", "BR")]
    ips = [ip for ip, _ in bots]
    victims = rng.sample(ctx.world.customers, min(len(ctx.world.customers), attempts // 3))
    for i in range(attempts):
        ip, country = bots[i % len(bots)]
        where = Where(ip, country, BOT_AGENT)
        emit_envoy(ctx, at, ingress(ctx, where, "POST", AUTH_PATH, 200, "keycloak"), trail)
        if i % 3 == 0 and victims:
            c = victims[i // 3 % len(victims)]
            name, uid, err = c.username, c.user_id, "invalid_user_credentials"
        else:
            name = (
                f"{rng.choice(FIRST_NAMES).lower()}{rng.choice(LAST_NAMES).lower()}{rng.randint(100, 9999)}"
            )
            uid, err = None, "user_not_found"
        user_event(
            ctx, at, "LOGIN_ERROR", client="web-banking", username=name, ip=ip, user_id=uid, session_id=None,
            error=err, trail=trail,
        )  # fmt: skip
        at = later(at, ctx, 0.5, 4)
    victim = rng.choice(ctx.world.customers)
    where = Where(ips[0], "NL", BOT_AGENT)
    sign_in(ctx, later(at, ctx, 1, 5), victim, where, trail=trail)
    account_view(ctx, later(at, ctx, 20, 40), victim, where, trail)
    return truth(CREDENTIAL_STUFFING, trail, {"source.ip": ips[0], "user.name": victim.username})


def password_spraying(ctx: Context) -> StoryTruth:
    """One password against many employees from one address; one guess is right but MFA fails."""
    rng, trail = ctx.rng, Trail()
    at = ctx.place(timedelta(minutes=15))
    ip = public_ip(rng, "RU")
    targets = rng.sample(ctx.world.employees, min(len(ctx.world.employees), ctx.scaled(30, minimum=8)))
    for emp in targets:
        ev = OktaEvent(
            "user.session.start", "User login to Okta", emp, ip, country="RU", result="FAILURE",
            reason="INVALID_CREDENTIALS", legacy="core.user_auth.login_failed", threat=True, user_agent=BOT_AGENT,
        )  # fmt: skip
        emit_okta(ctx, at, ev, trail)
        at = later(at, ctx, 3, 25)
    lucky = targets[-1]
    session = f"102{hex_id(rng, 20)}"
    ok = OktaEvent(
        "user.session.start", "User login to Okta", lucky, ip, country="RU", session=session,
        legacy="core.user_auth.login_success", user_agent=BOT_AGENT,
    )  # fmt: skip
    emit_okta(ctx, at, ok, trail)
    mfa = OktaEvent(
        "user.authentication.auth_via_mfa", "Authentication of user via MFA", lucky, ip, country="RU",
        result="FAILURE", reason="INVALID_CREDENTIALS", session=session, step=1, user_agent=BOT_AGENT,
    )  # fmt: skip
    emit_okta(ctx, later(at, ctx, 10, 30), mfa, trail)
    return truth(PASSWORD_SPRAYING, trail, {"source.ip": ip, "user.name": lucky.login})


def token_two_countries(ctx: Context) -> StoryTruth:
    """The same session's refresh token is used from the home country and, minutes later, abroad."""
    rng, trail = ctx.rng, Trail()
    c = rng.choice([x for x in ctx.world.customers if x.country == "DE"] or list(ctx.world.customers))
    at = ctx.place(timedelta(minutes=30))
    home = Where.home(c)
    session = sign_in(ctx, at, c, home, trail=trail)
    account_view(ctx, later(at, ctx, 5, 20), c, home, trail)
    at = later(at, ctx, 240, 420)
    away = Where(public_ip(rng, "BR"), "BR", c.user_agent)
    client = CLIENTS[c.channel]
    for where in (home, away):
        emit_envoy(ctx, at, ingress(ctx, where, "POST", TOKEN_PATH, 200, "keycloak"), trail)
        user_event(
            ctx, at, "REFRESH_TOKEN", client=client, username=c.username, ip=where.ip, user_id=c.user_id,
            session_id=session, trail=trail,
        )  # fmt: skip
        at = later(at, ctx, 60, 200)
    account_view(ctx, at, c, away, trail)
    account_view(ctx, later(at, ctx, 20, 60), c, away, trail)
    entities = {"user.name": c.username, "session.id": session, "source.ip": away.ip, "home.ip": home.ip}
    return truth(TOKEN_TWO_COUNTRIES, trail, entities)


def okta_admin_takeover(ctx: Context) -> StoryTruth:
    """An admin account signs in from a hosting provider, resets MFA and grants admin rights."""
    rng, trail, w = ctx.rng, Trail(), ctx.world
    admin = rng.choice([e for e in w.employees if e.admin])
    victim, accomplice = rng.sample([e for e in w.employees if not e.admin], 2)
    ip, at = public_ip(rng, "US"), ctx.place(timedelta(minutes=40))
    session = f"102{hex_id(rng, 20)}"

    factor = named_target("Factor", okta_id(rng, "mfa"), "Okta Verify")
    role = named_target("ROLE", "SUPER_ADMIN", "Super Administrator")
    group = named_target("UserGroup", okta_id(rng, "00g"), "Okta-Admins")
    steps: tuple[tuple[str, str, tuple[dict[str, Any], ...], str | None], ...] = (
        ("user.session.start", "User login to Okta", (), "core.user_auth.login_success"),
        ("user.authentication.auth_via_mfa", "Authentication of user via MFA", (), None),
        ("user.mfa.factor.reset_all", "Reset all factors for user", (user_target(victim),), "core.user.factor.reset_all"),
        ("user.mfa.factor.deactivate", "Reset factor for user", (user_target(victim), factor), "core.user.factor.deactivate"),
        ("user.account.privilege.grant", "Grant user privilege", (user_target(accomplice), role), "core.user.admin_privilege.granted"),
        ("group.user_membership.add", "Add user to group membership", (user_target(accomplice), group), None),
    )  # fmt: skip
    for kind, display, targets, legacy in steps:
        ev = OktaEvent(
            kind, display, admin, ip, country="US", session=session, targets=targets, legacy=legacy
        )
        emit_okta(ctx, at, ev, trail)
        at = later(at, ctx, 40, 300)
    entities = {"user.name": admin.login, "source.ip": ip, "user.target.name": accomplice.login}
    return truth(OKTA_ADMIN_TAKEOVER, trail, entities)

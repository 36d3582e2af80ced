"""The simulated bank: customers, employees, third-party providers and workloads, drawn from the RNG."""

from __future__ import annotations

import random
from dataclasses import dataclass

from soar.telemetry.scenario.ids import hex_id, lower_alnum, okta_id, uuid_like

TRUST_DOMAIN = "bank.example"
HOME_COUNTRY = "DE"
# Member States of the bank's other customers, with a weight each; the home state takes the rest.
OTHER_COUNTRIES = {"AT": 4, "FR": 4, "NL": 3, "IT": 3, "ES": 2, "BE": 2, "PL": 2, "IE": 1}
COUNTRY_NAMES = {
    "DE": "Germany",
    "AT": "Austria",
    "FR": "France",
    "NL": "Netherlands",
    "IT": "Italy",
    "ES": "Spain",
    "BE": "Belgium",
    "PL": "Poland",
    "IE": "Ireland",
    "BR": "Brazil",
    "RU": "Russia",
    "VN": "Vietnam",
    "US": "United States",
    "SG": "Singapore",
}
# A few public /16 prefixes per country; where an address "is" only matters for consistency.
IP_PREFIXES = {
    "DE": ("91.64", "84.128", "217.229"),
    "AT": ("83.64", "178.190"),
    "FR": ("90.84", "86.245"),
    "NL": ("145.53", "83.160"),
    "IT": ("93.44", "151.38"),
    "ES": ("88.27", "83.58"),
    "BE": ("81.240", "178.116"),
    "PL": ("83.31", "89.64"),
    "IE": ("86.40", "109.76"),
    "BR": ("177.72", "189.6"),
    "RU": ("95.165", "178.176"),
    "VN": ("113.161", "14.241"),
    "US": ("72.14", "98.207"),
    "SG": ("103.252", "128.106"),
}
FIRST_NAMES = [
    "Anna",
    "Lukas",
    "Marie",
    "Jonas",
    "Sophie",
    "Felix",
    "Laura",
    "Paul",
    "Emma",
    "Leon",
    "Julia",
    "Max",
    "Lea",
    "Noah",
    "Mia",
    "Elias",
    "Clara",
    "Ben",
    "Hannah",
    "Finn",
    "Giulia",
    "Marco",
    "Chloe",
    "Hugo",
    "Lotte",
    "Daan",
    "Lucia",
    "Pablo",
    "Zofia",
    "Jakub",
    "Aoife",
    "Sean",
    "Elena",
    "Tomas",
]
LAST_NAMES = [
    "Schmidt",
    "Mueller",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Koch",
    "Richter",
    "Klein",
    "Wolf",
    "Neumann",
    "Braun",
    "Rossi",
    "Bianchi",
    "Martin",
    "Bernard",
    "Jansen",
    "Visser",
    "Garcia",
    "Lopez",
    "Nowak",
    "Kowalski",
    "Murphy",
    "Kelly",
    "Peeters",
    "Maes",
    "Gruber",
    "Huber",
]
USER_AGENTS = (
    "BankApp/7.4.1 (iPhone; iOS 18.1; Scale/3.00)",
    "BankApp/7.4.0 (Android 15; Pixel 8)",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
)


@dataclass(frozen=True)
class Customer:
    """A retail customer who signs in to mobile or web banking through Keycloak."""

    customer_id: str
    user_id: str
    username: str
    country: str
    ip: str
    user_agent: str
    channel: str
    iban: str


@dataclass(frozen=True)
class Employee:
    """A bank employee who signs in through Okta; admins administer Okta itself."""

    okta_id: str
    login: str
    display_name: str
    admin: bool
    ip: str


@dataclass(frozen=True)
class Tpp:
    """A PSD2 third-party provider with the consent scope its customers granted."""

    client_id: str
    name: str
    scope: tuple[str, ...]
    ip: str
    country: str


@dataclass(frozen=True)
class Workload:
    """A mesh workload: its namespace, service account and pod addresses."""

    name: str
    namespace: str
    service_account: str
    ips: tuple[str, ...]
    pods: tuple[str, ...]

    @property
    def spiffe(self) -> str:
        """The workload's SPIFFE id, as its mTLS certificate carries it."""
        return f"spiffe://{TRUST_DOMAIN}/ns/{self.namespace}/sa/{self.service_account}"

    @property
    def service(self) -> str:
        """The workload's cluster-local service name."""
        return f"{self.name}.{self.namespace}.svc.cluster.local"


_WORKLOADS = (
    ("istio-ingressgateway", "edge", "istio-ingressgateway-service-account"),
    ("payments-api", "payments", "payments-api"),
    ("ledger", "core", "ledger"),
    ("accounts-api", "accounts", "accounts-api"),
    ("core-banking-adapter", "core", "core-banking-adapter"),
    ("psd2-tpp-gateway", "psd2", "psd2-tpp-gateway"),
    ("keycloak", "identity", "keycloak"),
    ("branch-portal", "branch", "branch-portal"),
    ("analytics", "marketing", "analytics"),
)
_TPPS = (
    ("PSDDE-BAFIN-152734", "FinLens Budget", ("accounts:read",), "DE"),
    ("PSDNL-DNB-R171822", "PayNow BV", ("payments:initiate",), "NL"),
    ("PSDFR-ACPR-16928", "Agrega SAS", ("accounts:read", "balances:read"), "FR"),
    ("PSDIE-CBI-C193456", "LendWise Ltd", ("accounts:read", "transactions:read"), "IE"),
    ("PSDDE-BAFIN-161205", "SwiftPay GmbH", ("payments:initiate", "accounts:read"), "DE"),
)


@dataclass(frozen=True)
class World:
    """Everything the scenario's traffic is made of."""

    customers: tuple[Customer, ...]
    employees: tuple[Employee, ...]
    tpps: tuple[Tpp, ...]
    workloads: dict[str, Workload]
    nodes: tuple[str, ...]

    def workload(self, name: str) -> Workload:
        """The workload called ``name``."""
        return self.workloads[name]


def public_ip(rng: random.Random, country: str) -> str:
    """A public address in one of the country's prefixes."""
    return f"{rng.choice(IP_PREFIXES[country])}.{rng.randint(1, 254)}.{rng.randint(1, 254)}"


def pick_country(rng: random.Random, home_share: float = 0.8) -> str:
    """A customer's Member State: mostly the home state, else one of the others by weight."""
    if rng.random() < home_share:
        return HOME_COUNTRY
    return rng.choices(list(OTHER_COUNTRIES), weights=list(OTHER_COUNTRIES.values()))[0]


def _customer(rng: random.Random, number: int) -> Customer:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    country = pick_country(rng)
    return Customer(
        customer_id=f"CUST-{number:07d}",
        user_id=uuid_like(rng),
        username=f"{first.lower()}.{last.lower()}{rng.randint(1, 99)}",
        country=country,
        ip=public_ip(rng, country),
        user_agent=rng.choice(USER_AGENTS),
        channel=rng.choice(("mobile", "mobile", "web")),
        iban=f"{country}{rng.randint(10, 99)}{rng.randint(10**15, 10**16 - 1)}",
    )


def _employee(rng: random.Random, index: int, admins: int) -> Employee:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    return Employee(
        okta_id=okta_id(rng),
        login=f"{first.lower()}.{last.lower()}{index}@{TRUST_DOMAIN}",
        display_name=f"{first} {last}",
        admin=index < admins,
        ip=f"194.25.{rng.randint(0, 3)}.{rng.randint(2, 254)}",
    )


def _workload(rng: random.Random, name: str, namespace: str, sa: str) -> Workload:
    replica_set = hex_id(rng, 9)
    count = 3
    ips = tuple(f"10.{rng.randint(16, 31)}.{rng.randint(0, 255)}.{rng.randint(2, 254)}" for _ in range(count))
    pods = tuple(f"{name}-{replica_set}-{lower_alnum(rng, 5)}" for _ in range(count))
    return Workload(name, namespace, sa, ips, pods)


def build_world(rng: random.Random, customers: int, employees: int) -> World:
    """Draw the bank's population; the same RNG state gives the same world."""
    admins = max(2, employees // 10)
    return World(
        customers=tuple(_customer(rng, n) for n in range(1, customers + 1)),
        employees=tuple(_employee(rng, i, admins) for i in range(employees)),
        tpps=tuple(Tpp(cid, name, scope, public_ip(rng, c), c) for cid, name, scope, c in _TPPS),
        workloads={n: _workload(rng, n, ns, sa) for n, ns, sa in _WORKLOADS},
        nodes=tuple(f"node-{i}.k8s.bank.example" for i in range(1, 7)),
    )

"""Locust entry point of qiibee-conformance.

    locust -f load/locustfile.py --host URL [--scenario history|exchange-burst|mixed] [--api-key KEY]

The scenario decides which User classes (and, for the exchange burst, which
load shape) this file exposes, so it is read when the file is imported: from
``--scenario`` on the command line or ``$QIIBEE_SCENARIO``. A worker knows every
User class (its master says which to run; a shape runs on the master only). With
``$QIIBEE_CAPACITY`` (set by ``qiibee-conformance load --find-capacity``) the shape
is the capacity search. The API key comes from ``--api-key`` or ``$QIIBEE_API_KEY``.
Everything else is Locust's own.
"""

from locust import events

from qiibee_conformance.loadtest import scenarios

SCENARIO = scenarios.current_scenario()
events.init_command_line_parser.add_listener(scenarios.add_arguments)
events.init.add_listener(scenarios.on_init)

if scenarios.is_worker():
    from qiibee_conformance.loadtest.users import ExchangeBurstUser, HistoryUser, MixedUser
elif SCENARIO == "history":
    from qiibee_conformance.loadtest.users import HistoryUser  # noqa: F401
elif SCENARIO == "exchange-burst":
    from qiibee_conformance.loadtest.users import ExchangeBurstUser  # noqa: F401
else:
    from qiibee_conformance.loadtest.users import MixedUser  # noqa: F401

if scenarios.capacity_search() and not scenarios.is_worker():
    from qiibee_conformance.loadtest.capacity_shape import CapacityShape  # noqa: F401
elif SCENARIO == "exchange-burst" and not scenarios.is_worker():
    from qiibee_conformance.loadtest.shapes import SpikeShape  # noqa: F401

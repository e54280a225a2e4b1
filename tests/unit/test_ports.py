"""Ports are chosen where nothing else lands between the choice and the server's bind."""

import socket

from resources import ports
from resources.ports import HOST, ephemeral_range, free_port


def test_ports_are_new_to_the_process_and_outside_the_ephemeral_range():
    low, high = ephemeral_range()
    ports = [free_port() for _ in range(300)]
    assert len(set(ports)) == len(ports), "a port was handed out twice"
    assert not [p for p in ports if low <= p <= high], f"ports in the ephemeral range {low}-{high}"


def test_a_port_another_program_listens_on_is_skipped(monkeypatch):
    low, _high = ephemeral_range()
    with socket.socket() as busy:
        busy.bind((HOST, low - 1))  # just below the range: where free_port draws from
        busy.listen()
        draws = iter([low - 1, low - 2, low - 3])
        monkeypatch.setattr(ports.random, "randrange", lambda *_: next(draws))
        monkeypatch.setattr(ports, "_handed_out", set())
        assert free_port() == low - 2

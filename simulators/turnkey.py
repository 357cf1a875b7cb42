"""Turnkey gateway simulator: takes F0401 files from SRC like the MOF Turnkey does.

Each pass picks every finished file in `UpCast/B2SSTORAGE/F0401/SRC` (dot-names
are still being written), judges it with the official F0401 XSD and the amount
rules, moves it to `BAK` (accepted) or `ERR` (refused), and answers with a
ProcessResult 4.0 per file in `DownCast/B2SSTORAGE/ProcessResult/` (Code 0 =
accepted) addressed to the seller. When a pass has both accepted and refused files
for a seller it also writes a SummaryResult 4.0 (its schema cannot say a count of 0).
`--error-rate` refuses that share of valid files at random, to exercise resends.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from xml.sax.saxutils import escape

from lxml import etree

from commerce_core.einvoice import schemas
from commerce_core.einvoice.f0401 import InvoiceRuleViolation, check_document
from commerce_core.einvoice.turnkey import FILE_NAME, TurnkeyFolders
from commerce_core.settings import load_settings

PLATFORM_ID = "EINVOICE-PLATFORM"
REFUSED_AT_RANDOM = ("E0001", "simulated platform refusal (--error-rate)")


@dataclass
class Pass:
    accepted: int = 0
    refused: int = 0


def _routing(seller_ban: str) -> str:
    return (f"<RoutingInfo><From><PartyId>{PLATFORM_ID}</PartyId></From><FromVAC><RoutingId>{PLATFORM_ID}"
            f"</RoutingId></FromVAC><To><PartyId>{seller_ban}</PartyId></To><ToVAC><RoutingId>{seller_ban}"
            f"</RoutingId></ToVAC></RoutingInfo>")


def process_result_xml(seller_ban: str, invoice_number: str, size: int, code: str, description: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<ProcessResult xmlns="{schemas.NAMESPACES["ProcessResult"]}">'
            f"{_routing(seller_ban)}<MessageInfo><Id>{invoice_number}</Id><Size>{size}</Size>"
            f"<MessageType>F0401</MessageType><Service>B2SSTORAGE</Service><Action>F0401</Action></MessageInfo>"
            f"<Result><Info><Code>{escape(code)}</Code><Description>{escape(description)}</Description></Info>"
            f"</Result></ProcessResult>\n").encode()


def summary_result_xml(seller_ban: str, good: list[tuple[str, date]], failed: list[tuple[str, date]]) -> bytes:
    def detail(invoices: list[tuple[str, date]]) -> str:
        listed = "".join(f"<Invoices><Invocie><ReferenceNumber>{number}</ReferenceNumber>"
                         f"<InvoiceDate>{day.isoformat()}</InvoiceDate></Invocie></Invoices>"
                         for number, day in invoices[:1000])
        return f"<Count>{len(invoices)}</Count>{listed}"

    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<SummaryResult xmlns="{schemas.NAMESPACES["SummaryResult"]}">'
            f"{_routing(seller_ban)}<DetailList><Message><Info><Id>{seller_ban}</Id><Size>{len(good) + len(failed)}"
            f"</Size><MessageType>F0401</MessageType><Service>B2SSTORAGE</Service><Action>F0401</Action></Info>"
            f"<Result><Total>{detail(good + failed)}</Total><Good>{detail(good)}</Good><Failed>{detail(failed)}</Failed>"
            f"</Result></Message></DetailList></SummaryResult>\n").encode()


class TurnkeySimulator:
    def __init__(self, root: Path, *, error_rate: float = 0.0, seed: int = 7):
        self.folders = TurnkeyFolders(Path(root)).create()
        self.error_rate = error_rate
        self.random = random.Random(seed)
        self.results = self.folders.results / "ProcessResult"
        self.summaries = self.folders.results / "SummaryResult"
        self.results.mkdir(parents=True, exist_ok=True)
        self.summaries.mkdir(parents=True, exist_ok=True)
        self._sequence = 0

    def _judge(self, data: bytes) -> tuple[str, str]:
        try:
            check_document(etree.fromstring(data))
        except (etree.XMLSyntaxError, schemas.SchemaViolation, InvoiceRuleViolation) as error:
            return "E0401", str(error)[:500]
        if self.random.random() < self.error_rate:
            return REFUSED_AT_RANDOM
        return "0", "OK"

    def _answer(self, folder: Path, name: str, data: bytes) -> None:
        self._sequence += 1
        temporary = folder / f".{name}"
        temporary.write_bytes(data)
        os.replace(temporary, folder / f"{time.time_ns()}_{self._sequence}_{name}")

    def process_pending(self) -> Pass:
        done = Pass()
        by_seller: dict[str, tuple[list, list]] = defaultdict(lambda: ([], []))
        for path in sorted(self.folders.src.glob("F0401_*.xml")):
            match = FILE_NAME.fullmatch(path.name)
            data = path.read_bytes()
            code, description = self._judge(data) if match else ("E0002", "unexpected file name")
            accepted = code == "0"
            os.replace(path, (self.folders.bak if accepted else self.folders.err) / path.name)
            if not match:
                done.refused += 1
                continue
            seller, number = match.group(1), match.group(2)
            self._answer(self.results, path.name, process_result_xml(seller, number, len(data), code, description))
            day = _invoice_date(data)
            by_seller[seller][0 if accepted else 1].append((number, day))
            done.accepted += accepted
            done.refused += not accepted
        for seller, (good, failed) in by_seller.items():
            if good and failed:
                self._answer(self.summaries, f"{seller}.xml", summary_result_xml(seller, good, failed))
        return done


def _invoice_date(data: bytes) -> date:
    text = etree.fromstring(data).findtext(f"{{{schemas.NAMESPACES['F0401']}}}Main/"
                                           f"{{{schemas.NAMESPACES['F0401']}}}InvoiceDate") or "19700101"
    return date(int(text[:4]), int(text[4:6]), int(text[6:8]))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", help="Turnkey root (default TURNKEY_ROOT or $HUB_DATA_DIR/turnkey)")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between passes")
    parser.add_argument("--error-rate", type=float, default=0.0, help="share of valid files refused at random")
    parser.add_argument("--seed", type=int, default=7)


def run(args: argparse.Namespace) -> None:
    root = Path(args.root) if args.root else load_settings().turnkey_root
    simulator = TurnkeySimulator(root, error_rate=args.error_rate, seed=args.seed)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    print(f"Turnkey simulator watching {simulator.folders.src} every {args.interval}s", flush=True)
    try:
        while not stopping:
            done = simulator.process_pending()
            if done.accepted or done.refused:
                print(f"turnkey: {done.accepted} accepted, {done.refused} refused", flush=True)
            time.sleep(args.interval)
    except KeyboardInterrupt:
        pass


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m simulators.turnkey", description=__doc__)
    add_arguments(parser)
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()

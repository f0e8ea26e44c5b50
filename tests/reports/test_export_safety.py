"""Exports never hand a spreadsheet a formula: text cells that begin with =, +, -, @, a tab or a
carriage return get a leading apostrophe (OWASP's advice for CSV injection), and an XLSX stores
every text cell as text."""

import csv
import io
import json

import pytest
from openpyxl import load_workbook

from payouts import services as payouts
from reports import services

pytestmark = pytest.mark.django_db(transaction=True)

DANGEROUS = ['=HYPERLINK("http://evil.example","click")', "+1+1", "-2+3", "@SUM(A1:A2)", "\tcmd", "\rcmd"]


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


@pytest.fixture
def ledger(django_user_model):
    payee = payouts.payee_create(
        django_user_model.objects.create_user("=cmd|'/c calc'!A0"), currency="EUR", account="DE89370400440532013000"
    )
    for n, memo in enumerate(DANGEROUS + ["plain memo"]):
        payouts.ledger_credit(payee.pk, "1.00", memo=memo, reference=f"r{n}")
    return payee


def export(fmt, run_worker):
    report = services.report_request("export", {"dataset": "ledger", "format": fmt})
    run_worker()
    report.refresh_from_db()
    with report.file.open("rb") as fh:
        return fh.read()


def test_csv_cells_that_look_like_formulas_are_neutralised(ledger, run_worker):
    rows = list(csv.DictReader(io.StringIO(export("csv", run_worker).decode())))
    assert [r["memo"] for r in rows] == ["'" + m for m in DANGEROUS] + ["plain memo"]
    assert {r["username"] for r in rows} == {"'=cmd|'/c calc'!A0"}
    assert {r["amount"] for r in rows} == {"1.00"}  # numbers are written as they are


def test_xlsx_never_holds_a_formula_from_data(ledger, run_worker):
    sheet = load_workbook(io.BytesIO(export("xlsx", run_worker))).worksheets[0]
    cells = [cell for row in sheet.iter_rows(min_row=2) for cell in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    memos = [row[7].value.replace("\r", "\n") for row in sheet.iter_rows(min_row=2)]  # XML reads a CR as a newline
    assert memos == ["'" + m.replace("\r", "\n") for m in DANGEROUS] + ["plain memo"]


def test_json_exports_keep_the_data_as_it_is(ledger, run_worker):
    rows = json.loads(export("json", run_worker))
    assert [r["memo"] for r in rows] == DANGEROUS + ["plain memo"]

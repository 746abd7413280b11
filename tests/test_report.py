"""report.html: the comparison table first, best values bold, plots embedded."""

from __future__ import annotations

import base64

from multitrack.evaluate.report import comparison_table, render_report, write_report


def metrics(model_loss, persistence_loss, model_accuracy=None):
    return {
        "model": {"change_frames": {"active_log_loss": model_loss}, "cuts": {"next_track_accuracy": model_accuracy}},
        "persistence": {"change_frames": {"active_log_loss": persistence_loss}, "cuts": {"next_track_accuracy": 0.25}},
    }


def test_lower_loss_is_bold():
    table = comparison_table(metrics(0.2, 0.9))
    row = table.split("change_frames.active_log_loss")[1].split("</tr>")[0]
    assert '<td class="best">0.2000</td>' in row
    assert "<td>0.9000</td>" in row


def test_asset_log_loss_rows_follow_the_active_ones():
    scores = metrics(0.2, 0.9)
    scores["model"]["all_frames"] = {"asset_log_loss": 0.7}
    scores["persistence"]["all_frames"] = {"asset_log_loss": 0.3}
    table = comparison_table(scores)
    assert table.index("change_frames.active_log_loss") < table.index("change_frames.asset_log_loss")
    row = table.split("all_frames.asset_log_loss")[1].split("</tr>")[0]
    assert "<td>0.7000</td>" in row and '<td class="best">0.3000</td>' in row


def test_higher_accuracy_is_bold_and_missing_values_show_a_dash():
    table = comparison_table(metrics(0.2, 0.9, model_accuracy=None))
    row = table.split("cuts.next_track_accuracy")[1].split("</tr>")[0]
    assert "<td>–</td>" in row and '<td class="best">0.2500</td>' in row


def test_images_are_embedded(tmp_path):
    png = tmp_path / "plot.png"
    png.write_bytes(b"\x89PNG fake")
    path = write_report(tmp_path / "report.html", metrics(0.2, 0.9), [("A <plot>", png)])
    page = path.read_text(encoding="utf-8")
    assert base64.b64encode(b"\x89PNG fake").decode() in page
    assert "A &lt;plot&gt;" in page
    assert page.index("<table>") < page.index("<img")
    assert page == render_report(metrics(0.2, 0.9), [("A <plot>", png)])

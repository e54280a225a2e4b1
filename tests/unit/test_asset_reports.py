"""`testbed run --report-dir` also copies an asset's own report files (the Iceberg readiness
table's JSON and JUnit) beside report.json and junit.xml; an asset without them adds nothing."""

from dagster import AssetMaterialization, MetadataValue

from pipelines.cli import copy_asset_reports


def test_an_assets_json_and_junit_files_are_copied_into_the_report_dir(tmp_path):
    run_dir, report_dir = tmp_path / "run", tmp_path / "out"
    run_dir.mkdir()
    report_dir.mkdir()
    (run_dir / "iceberg-readiness.json").write_text('{"rows": []}')
    (run_dir / "iceberg-readiness.xml").write_text("<testsuites/>")
    readiness = AssetMaterialization("iceberg/readiness", metadata={
        "json": MetadataValue.path(str(run_dir / "iceberg-readiness.json")),
        "junit": MetadataValue.path(str(run_dir / "iceberg-readiness.xml"))})
    other = AssetMaterialization("spark_3_5/release", metadata={"version": "3.5.7"})
    copied = copy_asset_reports([other, readiness], report_dir)
    assert sorted(p.name for p in copied) == ["iceberg-readiness.json", "iceberg-readiness.xml"]
    assert (report_dir / "iceberg-readiness.json").read_text() == '{"rows": []}'

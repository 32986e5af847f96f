"""The fax files the simulator writes are real TIFFs that libtiff and ghostscript accept."""

import shutil
import subprocess

import pytest

from tests.fsim.fax import FaxDocument, read_tiff, write_blank_tiff


def test_blank_tiff_round_trips_pages_size_and_resolution(tmp_path):
    path = tmp_path / "fax.tif"
    size = write_blank_tiff(path, pages=3)
    assert path.stat().st_size == size
    doc = read_tiff(path)
    assert (doc.pages, doc.width, doc.length, doc.file_resolution) == (3, 1728, 2292, (8031, 7716))


def test_read_tiff_refuses_other_files(tmp_path):
    path = tmp_path / "not.tif"
    path.write_bytes(b"%PDF-1.4\n")
    with pytest.raises(ValueError, match="not a TIFF"):
        read_tiff(path)
    with pytest.raises(ValueError, match="positive"):
        write_blank_tiff(tmp_path / "x.tif", pages=0)


@pytest.mark.skipif(not (shutil.which("tiffinfo") and shutil.which("tiff2pdf")), reason="libtiff-tools missing")
def test_libtiff_reads_and_converts_it(tmp_path):
    path = tmp_path / "fax.tif"
    write_blank_tiff(path, pages=2)
    info = subprocess.run(["tiffinfo", str(path)], capture_output=True, text=True, timeout=10)
    assert info.returncode == 0 and info.stderr == ""
    assert info.stdout.count("Image Width: 1728 Image Length: 2292") == 2
    pdf = tmp_path / "fax.pdf"
    subprocess.run(["tiff2pdf", "-o", str(pdf), str(path)], check=True, timeout=10)
    assert pdf.read_bytes().startswith(b"%PDF")


def test_image_size_scales_with_the_page():
    assert FaxDocument().image_size == 826
    assert FaxDocument(length=1146).image_size == 413

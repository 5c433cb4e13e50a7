"""Baseline for first-run extraction: single-threaded zipfile.extractall of a zip into a directory.

Usage: extract_all.py ARCHIVE DESTINATION
"""
import sys
import zipfile

with zipfile.ZipFile(sys.argv[1]) as archive:
    archive.extractall(sys.argv[2])

"""Exports and storage expiry: CSVs and monthly zip reports into the `exports` bucket, and
removal of `tmp` objects and of recordings past the org's retention. See job.py.
"""

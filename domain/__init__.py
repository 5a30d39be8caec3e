"""The learning domain: the Agent aggregate, its events and the learning math.

Pure: no I/O, no clock reads (time arrives on commands or as an argument),
and no imports from projections/, adapters/ or jobs/.
"""

"""Independent truth for the tests of places and calling rules.

Hand-checked facts written from geography (city infoboxes, state time-zone articles, the IANA time
zone database's own comments) and from statute texts, each with the page it was read at. They are
never derived from ``batchqueue/places/data`` (the area-code table and the state-rules file): a test
that compares the code's tables with these facts checks the tables against the world.
"""

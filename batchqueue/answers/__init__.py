"""Survey answers: Insight's saved survey report, read page by page and joined to the job's calls.

- :mod:`batchqueue.answers.report`: a page of the report (CSV) read into visits;
- :mod:`batchqueue.answers.visits`: a visit's kind, number and times, read as the job reads them;
- :mod:`batchqueue.answers.pages`: every page of a report, through the Insight client;
- :mod:`batchqueue.answers.join`: which call of a number each of its visits answered (pure);
- :mod:`batchqueue.answers.tally`: the answers to each question, counted in bounded memory.

The ledger keeps the visits and the join (``ledger/answers``); ``service/answers`` runs it all.
"""

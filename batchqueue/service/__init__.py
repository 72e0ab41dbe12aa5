"""The service layer: one typed function per user action, shared by every front end.

The command line (and the web console) only parse, call one of these, and show the result; no
application logic lives in a front end. Each function takes a :data:`batchqueue.service.app.Face`
(the application object :class:`batchqueue.service.app.Batchqueue`, whose one ledger it then uses, or
settings alone) and a typed request, returns a typed result, and raises the error tree of
:mod:`batchqueue.errors`. The front ends import nothing from below this layer
(``tests/e2e/test_import_boundary.py``): what they need is re-exported here.

| action    | function                                  | result                  |
| --------- | ----------------------------------------- | ----------------------- |
| check     | :func:`batchqueue.service.loading.check`      | ``LoadResult``      |
| import    | :func:`batchqueue.service.loading.import_file`| ``LoadResult``      |
| run       | :func:`batchqueue.service.sending.run`        | ``RunSummary``      |
| retry     | :func:`batchqueue.service.rows.retry`         | ``RowsChanged``     |
| cancel    | :func:`batchqueue.service.rows.cancel`        | ``CancelResult``    |
| status    | :func:`batchqueue.service.status.status`      | ``JobStatus`` list  |
| export    | :func:`batchqueue.service.reports.export`     | ``ExportResult``    |
| serve     | :func:`batchqueue.service.outcomes.serve`     | ``Serving``         |
| poll      | :func:`batchqueue.service.outcomes.poll`      | ``PollSummary``     |
| reconcile | :func:`batchqueue.service.outcomes.reconcile` | ``ReconcileResult`` |
| answers   | :func:`batchqueue.service.answers.fetch_answers` | ``AnswersResult`` |
| db upgrade| :func:`batchqueue.service.maintenance.upgrade`| ``UpgradeResult``   |
| user add  | :func:`batchqueue.service.users.add_user`     | ``bool`` (created)  |
| user list | :func:`batchqueue.service.users.list_users`   | ``ConsoleUser`` list |
| user remove | :func:`batchqueue.service.users.remove_user` | ``None``           |

The web console reads through :mod:`batchqueue.service.job_page` and acts through
:class:`batchqueue.service.operations.Operator` (each action above, with its audit entry); its runs
are :mod:`batchqueue.service.supervised` ``batchqueue run`` processes.
"""
